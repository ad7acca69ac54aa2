package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/migratekit/migrate/internal/testsvc"
)

// builtMigrate is the migrate binary, built once per test run in dir,
// which TestMain removes.
var builtMigrate struct {
	once      sync.Once
	dir, path string
	err       error
	out       []byte
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtMigrate.dir != "" {
		os.RemoveAll(builtMigrate.dir)
	}
	os.Exit(code)
}

// buildMigrate builds the migrate binary, once for every test that runs it.
func buildMigrate(t *testing.T) string {
	t.Helper()
	builtMigrate.once.Do(func() {
		builtMigrate.dir, builtMigrate.err = os.MkdirTemp("", "migrate-bin")
		if builtMigrate.err != nil {
			return
		}
		builtMigrate.path = filepath.Join(builtMigrate.dir, "migrate")
		builtMigrate.out, builtMigrate.err = exec.Command("go", "build", "-o", builtMigrate.path, ".").CombinedOutput()
	})
	if builtMigrate.err != nil {
		t.Fatalf("building migrate: %v\n%s", builtMigrate.err, builtMigrate.out)
	}
	return builtMigrate.path
}

// process is a migrate binary running for a test.
type process struct {
	cmd         *exec.Cmd
	out, stderr *lockedBuffer
	exited      chan struct{}
}

// startBinary runs migrate with args; it is killed when the test ends.
func startBinary(t *testing.T, args ...string) *process {
	t.Helper()
	return startBinaryEnv(t, nil, args...)
}

// startBinaryEnv runs migrate with args and env added to the test's
// environment.
func startBinaryEnv(t *testing.T, env []string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(buildMigrate(t), args...), out: &lockedBuffer{}, stderr: &lockedBuffer{}, exited: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.stderr
	p.cmd.Env = append(os.Environ(), env...)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
	})
	return p
}

// waitFor polls ok every 25 ms for up to 20 s, failing the test if the
// process exits first or ok never holds.
func (p *process) waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for range 800 {
		if ok() {
			return
		}
		select {
		case <-p.exited:
			t.Fatalf("migrate exited (%v) before %s; stderr:\n%s", p.cmd.ProcessState, what, p.stderr)
		case <-time.After(25 * time.Millisecond):
		}
	}
	t.Fatalf("migrate never %s; stderr:\n%s", what, p.stderr)
}

// answers reports whether url answers 200.
func answers(url string) bool {
	resp, err := http.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// stop sends SIGTERM and returns the exit code.
func (p *process) stop(t *testing.T) int {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(30 * time.Second):
		t.Fatalf("migrate did not exit within 30s of SIGTERM; stderr:\n%s", p.stderr)
		return -1
	}
}

// hupCase is a long-running command: its arguments, and how to tell it
// runs: a URL that answers 200, or else a line it logs once started.
type hupCase struct {
	name  string
	setup func(t *testing.T) (args []string, probe, started string)
}

func hupCases() []hupCase {
	served := func(t *testing.T) (string, string) {
		old, new := textServer(t, "old"), textServer(t, "new")
		listen, adminAddr := freeAddr(t), freeAddr(t)
		return writeManifest(t, listen, adminAddr, old.URL, new.URL), adminAddr
	}
	return []hupCase{
		{"serve", func(t *testing.T) ([]string, string, string) {
			cfg, adminAddr := served(t)
			return []string{"--config", cfg, "--data-dir", t.TempDir(), "serve"}, "http://" + adminAddr + "/healthz", ""
		}},
		{"shadow", func(t *testing.T) ([]string, string, string) {
			cfg, adminAddr := served(t)
			return []string{"--config", cfg, "--data-dir", t.TempDir(), "shadow", "shop"}, "http://" + adminAddr + "/healthz", ""
		}},
		{"demo", func(t *testing.T) ([]string, string, string) {
			adminAddr := freeAddr(t)
			return []string{"--data-dir", t.TempDir(), "demo", "--admin", adminAddr, "--rate", "20"}, "http://" + adminAddr + "/healthz", ""
		}},
		{"fallback", func(t *testing.T) ([]string, string, string) {
			listen, adminAddr := freeAddr(t), freeAddr(t)
			cfg := fallbackManifest(t, listen, adminAddr, textServer(t, "new").URL)
			return []string{"--config", cfg, "--data-dir", t.TempDir(), "fallback", "shop"}, "http://" + adminAddr + "/healthz", ""
		}},
		{"logship", func(t *testing.T) ([]string, string, string) {
			dir := t.TempDir()
			data := fmt.Sprintf(`apps:
  shop:
    old: {backends: [http://127.0.0.1:1]}
    new: {backends: [http://127.0.0.1:2]}
    logs:
      old: {paths: [%s], format: nginx_combined}
      sink: {type: file, path: %s}
`, filepath.Join(dir, "*.log"), filepath.Join(dir, "shipped.jsonl"))
			cfg := writeConfig(t, dir, data)
			metrics := freeAddr(t)
			return []string{"--config", cfg, "--data-dir", t.TempDir(), "logship", "shop", "--side", "old", "--metrics-listen", metrics}, "http://" + metrics + "/metrics", ""
		}},
		{"dnscheck watch", func(t *testing.T) ([]string, string, string) {
			auth := startDNSTest(t, "127.0.0.53", "198.51.100.7", 1)
			res := startDNSTest(t, "127.0.0.70", "198.51.100.7", 1)
			metrics := freeAddr(t)
			return []string{"--config", writeDNSManifest(t, auth.addr, res.addr), "--data-dir", t.TempDir(), "dnscheck", "watch", "shop", "--metrics-listen", metrics}, "http://" + metrics + "/metrics", ""
		}},
		{"rollback watch", func(t *testing.T) ([]string, string, string) {
			prom := testsvc.StartPrometheus(t, freeAddr(t))
			data := fmt.Sprintf(`apps:
  shop:
    old: {backends: [http://127.0.0.1:1]}
    new: {backends: [http://127.0.0.1:2]}
    rollback: {source: prometheus, prometheus: {url: %s}}
`, prom)
			cfg := writeConfig(t, t.TempDir(), data)
			return []string{"--config", cfg, "--data-dir", t.TempDir(), "rollback", "watch", "shop"}, "", "msg=watching"
		}},
		{"dashboard", func(t *testing.T) ([]string, string, string) {
			cfg, adminAddr := served(t)
			stop := startServe(t, cfg, t.TempDir(), adminAddr)
			t.Cleanup(func() { stop() })
			listen := freeAddr(t)
			return []string{"--config", cfg, "dashboard", "shop", "--listen", listen}, "http://" + listen + "/dashboard/", ""
		}},
	}
}

// TestSIGHUPKeepsRunning runs each long-running command as the real
// binary: SIGHUP (nginx's reload, systemd's ExecReload) reloads the
// manifest of a serving instance (serve, shadow) and is logged as not
// reloading by the others, and the command keeps running; SIGTERM still
// stops it with 0.
func TestSIGHUPKeepsRunning(t *testing.T) {
	for _, tt := range hupCases() {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args, probe, started := tt.setup(t)
			p := startBinary(t, args...)
			running := func() bool { return answers(probe) }
			if probe == "" {
				running = func() bool { return strings.Contains(p.stderr.String(), started) }
			}
			p.waitFor(t, "started", running)
			if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			want := "SIGHUP: this command does not reload its manifest"
			if tt.name == "serve" || tt.name == "shadow" {
				want = "manifest reloaded"
			}
			p.waitFor(t, "logged the SIGHUP", func() bool {
				return strings.Contains(p.stderr.String(), want)
			})
			p.waitFor(t, "kept running after SIGHUP", running)
			if code := p.stop(t); code != 0 {
				t.Errorf("exit code %d after SIGTERM, want 0; stderr:\n%s", code, p.stderr)
			}
		})
	}
}

// TestListenersCheckHost: every HTTP listener of a long-running command
// that is open on loopback (the admin API of serve, shadow, demo and
// fallback, the metrics of logship and dnscheck watch, the dashboard
// command's) refuses a request whose Host is not its own (421), the
// shape of a DNS-rebinding attack from a browser on the same machine.
func TestListenersCheckHost(t *testing.T) {
	for _, tt := range hupCases() {
		if tt.name == "rollback watch" {
			continue // it has no listener
		}
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args, probe, _ := tt.setup(t)
			p := startBinary(t, args...)
			p.waitFor(t, "started", func() bool { return answers(probe) })
			read := strings.Replace(probe, "/healthz", "/api/v1/apps", 1)
			for host, want := range map[string]int{"evil.example": http.StatusMisdirectedRequest, "localhost": http.StatusOK} {
				req, _ := http.NewRequest(http.MethodGet, read, nil)
				req.Host = host
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != want {
					t.Errorf("GET %s with Host %s: %d, want %d", read, host, resp.StatusCode, want)
				}
			}
		})
	}
}
