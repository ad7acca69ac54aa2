package testsvc

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Redis is a redis-server of one test's own, on a unix socket in a temp
// dir, with no persistence: the test may pause, kill and start it again
// without touching the Redis other tests share (MIGRATE_TEST_REDIS).
type Redis struct {
	t    testing.TB
	bin  string
	dir  string
	sock string
	cmd  *exec.Cmd
	log  bytes.Buffer
}

// StartRedis starts a redis-server (Debian's, from PATH) and stops it when
// the test ends.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("redis-server not found: run scripts/test, which installs it")
	}
	// A short directory: a unix socket path is limited to about 100 bytes.
	dir, err := os.MkdirTemp("", "mgr")
	if err != nil {
		t.Fatal(err)
	}
	r := &Redis{t: t, bin: bin, dir: dir, sock: filepath.Join(dir, "redis.sock")}
	t.Cleanup(func() {
		r.Kill()
		os.RemoveAll(dir)
	})
	r.Start()
	return r
}

// URL is the server's unix:// URL.
func (r *Redis) URL() string { return "unix://" + r.sock }

// Start starts the server (again, empty) and waits until it answers.
func (r *Redis) Start() {
	r.t.Helper()
	os.Remove(r.sock)
	r.log.Reset()
	r.cmd = exec.Command(r.bin, "--port", "0", "--unixsocket", r.sock, "--unixsocketperm", "700",
		"--save", "", "--appendonly", "no", "--dir", r.dir)
	r.cmd.Stdout, r.cmd.Stderr = &r.log, &r.log
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("starting redis-server: %v", err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if r.answers() {
			return
		}
		if time.Now().After(deadline) {
			r.Kill()
			r.t.Fatalf("redis-server did not start: %s", r.log.String())
		}
	}
}

// answers reports whether the server answers PING (not only accepts a
// connection).
func (r *Redis) answers() bool {
	c, err := net.DialTimeout("unix", r.sock, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := io.WriteString(c, "PING\r\n"); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && line == "+PONG\r\n"
}

// Pause stops the server with SIGSTOP: it keeps its connections and data
// and answers nothing until Resume.
func (r *Redis) Pause() { r.signal(syscall.SIGSTOP) }

// Resume continues a paused server (SIGCONT).
func (r *Redis) Resume() { r.signal(syscall.SIGCONT) }

func (r *Redis) signal(sig syscall.Signal) {
	r.t.Helper()
	if err := r.cmd.Process.Signal(sig); err != nil {
		r.t.Fatalf("signalling redis-server: %v", err)
	}
}

// Kill stops the server with SIGKILL, as a crash would; it loses its data.
func (r *Redis) Kill() {
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Kill()
	r.cmd.Wait()
	r.cmd = nil
}
