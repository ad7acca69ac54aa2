package testsvc

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// NginxBinary is Debian's nginx (MIGRATE_TEST_NGINX); the test fails when
// it is not set.
func NginxBinary(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("MIGRATE_TEST_NGINX")
	if bin == "" {
		t.Fatal("MIGRATE_TEST_NGINX is not set: this test runs a real nginx (scripts/test sets it; or export MIGRATE_TEST_NGINX=$(command -v nginx))")
	}
	return bin
}

// WriteNginxConf writes dir/nginx.conf for nginx on the prefix dir: in the
// foreground, one worker, its pid file, error log and temp paths in dir,
// no access log, and http (directives) in its http block.
func WriteNginxConf(t testing.TB, dir, http string) {
	t.Helper()
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;\n" // workers keep access to the test's private directory
	}
	conf := fmt.Sprintf(`%sdaemon off;
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log info;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path %[2]s/client_body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
%[3]s
}
`, user, dir, http)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
}

// NginxArgs are nginx's arguments to run on the prefix dir that
// WriteNginxConf wrote, then extra.
func NginxArgs(dir string, extra ...string) []string {
	return append([]string{"-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log")}, extra...)
}

// StartNginx runs nginx on the prefix dir until the test ends (SIGQUIT,
// then SIGKILL after 10s), and returns once it accepts connections on
// addr.
func StartNginx(t testing.TB, dir, addr string) {
	t.Helper()
	cmd := exec.Command(NginxBinary(t), NginxArgs(dir)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting nginx: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx exited: %v\n%s\n%s", err, out.String(), log)
		default:
		}
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not listen on %s within 10s", addr)
		}
	}
}
