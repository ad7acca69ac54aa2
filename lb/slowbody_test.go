package lb

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/migratekit/migrate/manifest"
)

// TestSlowBodies: a client that declares a body and then stalls gets 408
// once the client body timeout passes, on every path, and costs no backend
// connection while less than 1 MiB of its body has come (nginx, which
// buffers bodies, holds none either); past that the body streams.
func TestSlowBodies(t *testing.T) {
	tests := []struct {
		name      string
		length    int    // declared
		sent      string // of the body, before the stall
		wantConns bool   // the backend may have been connected to
	}{
		{"large body not started", 2 << 20, "", false},
		{"small body not started", 1000, "", false},
		{"small body stalled halfway", 1000, strings.Repeat("x", 500), false},
		{"large body stalled early", 2 << 20, strings.Repeat("x", 64<<10), false},
		{"large body stalled after its first MiB", 2 << 20, strings.Repeat("x", 1<<20+1000), true},
	}
	everyPath(t, func(t *testing.T, pc pathCase) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				rb := newRawBackend(t, func(*http.Request, int) (string, bool) {
					return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false
				})
				m := oneApp(rb.app())
				m.Global.Limits.ClientBodyTimeout = manifest.Duration(300 * time.Millisecond)
				r := startOn(t, pc, m, Options{})
				const clients = 10
				conns := make([]*rawConn, clients)
				for i := range conns {
					conns[i] = r.dial(t)
					conns[i].send(t, fmt.Sprintf("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", tt.length, tt.sent))
				}
				for i, c := range conns {
					res, body := c.response(t, http.MethodPost)
					if res.StatusCode != http.StatusRequestTimeout {
						t.Errorf("client %d: answer %d %q, want 408", i, res.StatusCode, body)
					}
					if !c.closed() {
						t.Errorf("client %d: connection open after the 408", i)
					}
				}
				if n := rb.conns.Load(); n != 0 && !tt.wantConns {
					t.Errorf("%d backend connections for %d clients whose bodies had not started, want none", n, clients)
				}
				if n := rb.count("POST /up"); n != 0 && !tt.wantConns {
					t.Errorf("backend got %d requests, want none", n)
				}
			})
		}
	})
}
