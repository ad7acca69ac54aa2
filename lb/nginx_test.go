package lb

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The reference for HTTP behaviour: a real nginx in front of the same
// backends, given the same bytes as the proxy.

// nginxBinary is the nginx the tests run (scripts/test exports it).
func nginxBinary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("MIGRATE_TEST_NGINX")
	if bin == "" {
		t.Fatal("MIGRATE_TEST_NGINX is not set: this test runs a real nginx as the reference (scripts/test sets it; or export MIGRATE_TEST_NGINX=$(command -v nginx))")
	}
	return bin
}

// nginxServer is one server block of a reference nginx: the names it
// serves and the backend it proxies to (host:port).
type nginxServer struct {
	names   string
	backend string
}

// startNginxProxy runs nginx until the test ends as a reverse proxy as its
// users configure one (HTTP/1.1 and keep-alive to the backends, the
// client's Host passed on, no limit on body sizes), one server block per
// server on one loopback port, the first the default, with http, more
// directives for the http block; it returns the address it listens on.
func startNginxProxy(t *testing.T, http string, servers ...nginxServer) string {
	t.Helper()
	bin := nginxBinary(t)
	addr := freeLoopbackAddr(t)
	dir := t.TempDir()
	var blocks strings.Builder
	for i, s := range servers {
		fmt.Fprintf(&blocks, `
    upstream b%[1]d { server %[2]s; keepalive 8; }
    server {
        listen %[3]s%[4]s;
        server_name %[5]s;
        location / {
            proxy_pass http://b%[1]d;
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header Connection "";
        }
    }
`, i, s.backend, addr, map[bool]string{true: " default_server"}[i == 0], s.names)
	}
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
    client_max_body_size 0;
    %[4]s
%[3]s}
`, user, dir, blocks.String(), http)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", confPath, "-e", filepath.Join(dir, "error.log"))
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
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not listen on %s within 10s", addr)
		}
	}
}

// freeLoopbackAddr is a loopback address with a port nothing listens on.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
