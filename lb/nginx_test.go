package lb

import (
	"fmt"
	"strings"
	"testing"

	"github.com/migratekit/migrate/internal/testsvc"
)

// The reference for HTTP behaviour: a real nginx in front of the same
// backends, given the same bytes as the proxy.

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
	addr := testsvc.FreeAddr(t)
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
	dir := t.TempDir()
	testsvc.WriteNginxConf(t, dir, "    client_max_body_size 0;\n    "+http+"\n"+blocks.String())
	testsvc.StartNginx(t, dir, addr)
	return addr
}
