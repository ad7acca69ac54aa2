package lb

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/migratekit/migrate/manifest"
)

// TestSlowBodies: a client that declares a body and then stalls gets 408
// once the client body timeout passes, on every path, and costs no backend
// connection while less than 1 MiB of its body has come (nginx, which
// buffers bodies, holds none either); past that the body streams. Each
// 408 is counted as a refusal of the listener.
func TestSlowBodies(t *testing.T) {
	everyPath(t, func(t *testing.T, pc pathCase) {
		for _, tt := range slowBodies {
			t.Run(tt.name, func(t *testing.T) {
				rb := newRawBackend(t, okAnswer)
				m := oneApp(rb.app())
				m.Global.Limits.ClientBodyTimeout = manifest.Duration(300 * time.Millisecond)
				metrics, reg := newMetrics(t)
				r := startOn(t, pc, m, Options{Metrics: metrics})
				stallBodies(t, r.dial, tt, rb, true)
				want := map[string]float64{"127.0.0.1:0 408": stalledClients}
				if diff := cmp.Diff(want, refusedCounts(t, reg)); diff != "" {
					t.Errorf("migrate_proxy_refused_total by listen and status (-want +got):\n%s", diff)
				}
			})
		}
	})
}

// TestSlowBodiesNginx: nginx, which buffers bodies, holds no backend
// connection for the same stalled clients either (past a body's first MiB
// neither, where migrate streams: that case is not nginx's). It closes
// their connections without an answer when client_body_timeout passes;
// migrate answers 408 first, as RFC 9110 15.5.9 describes and HAProxy
// does, so that a client can tell a timeout from a lost connection.
func TestSlowBodiesNginx(t *testing.T) {
	t.Parallel()
	for _, tt := range slowBodies {
		if tt.wantConns {
			continue
		}
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rb := newRawBackend(t, okAnswer)
			addr := startNginxProxy(t, "client_body_timeout 300ms;", nginxServer{"x", rb.ln.Addr().String()})
			stallBodies(t, func(t *testing.T) *rawConn { return dialAddr(t, addr, nil) }, tt, rb, false)
		})
	}
}

// slowBody is a client that declares a body and stalls.
type slowBody struct {
	name      string
	length    int    // declared
	sent      string // of the body, before the stall
	wantConns bool   // the backend may have been connected to
}

var slowBodies = []slowBody{
	{"large body not started", 2 << 20, "", false},
	{"small body not started", 1000, "", false},
	{"small body stalled halfway", 1000, strings.Repeat("x", 500), false},
	{"large body stalled early", 2 << 20, strings.Repeat("x", 64<<10), false},
	{"large body stalled after its first MiB", 2 << 20, strings.Repeat("x", 1<<20+1000), true},
}

func okAnswer(*http.Request, int) (string, bool) {
	return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false
}

// stalledClients is how many clients stallBodies stalls.
const stalledClients = 10

// stallBodies sends tt from ten clients dialled with dial and checks that
// each gets 408 (when answered) and a closed connection, and what the
// backend rb saw.
func stallBodies(t *testing.T, dial func(*testing.T) *rawConn, tt slowBody, rb *rawBackend, answered bool) {
	t.Helper()
	const clients = stalledClients
	conns := make([]*rawConn, clients)
	for i := range conns {
		conns[i] = dial(t)
		conns[i].send(t, fmt.Sprintf("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", tt.length, tt.sent))
	}
	for i, c := range conns {
		if answered {
			if res, body := c.response(t, http.MethodPost); res.StatusCode != http.StatusRequestTimeout {
				t.Errorf("client %d: answer %d %q, want 408", i, res.StatusCode, body)
			}
		}
		if !c.closed() {
			t.Errorf("client %d: connection open after the 408", i)
		}
	}
	if n := rb.conns.Load(); n != 0 && !tt.wantConns {
		t.Errorf("%d backend connections for %d clients that had sent less than 1 MiB, want none", n, clients)
	}
	if n := rb.count("POST /up"); n != 0 && !tt.wantConns {
		t.Errorf("backend got %d requests, want none", n)
	}
}

// TestSlowBodyHTTP2: an HTTP/2 request whose body stalls gets 408 too, with
// no backend connection (HTTP/2 has no gate: the stream's read deadline),
// counted as a refusal.
func TestSlowBodyHTTP2(t *testing.T) {
	t.Parallel()
	rb := newRawBackend(t, okAnswer)
	m := oneApp(rb.app())
	m.Global.Limits.ClientBodyTimeout = manifest.Duration(300 * time.Millisecond)
	metrics, reg := newMetrics(t)
	r := startOn(t, pathCase{tls: true}, m, Options{Metrics: metrics})
	tr := &http.Transport{TLSClientConfig: r.tls.Clone(), ForceAttemptHTTP2: true}
	tr.TLSClientConfig.ServerName = "127.0.0.1"
	defer tr.CloseIdleConnections()
	pr, pw := io.Pipe()
	defer pw.Close()
	req, err := http.NewRequest(http.MethodPost, r.base+"/up", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = 2 << 20
	res, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.ProtoMajor != 2 || res.StatusCode != http.StatusRequestTimeout {
		t.Errorf("answer %d over %s, want 408 over HTTP/2", res.StatusCode, res.Proto)
	}
	if n := rb.conns.Load(); n != 0 {
		t.Errorf("%d backend connections for a body that never came, want none", n)
	}
	if diff := cmp.Diff(map[string]float64{"127.0.0.1:0 408": 1}, refusedCounts(t, reg)); diff != "" {
		t.Errorf("migrate_proxy_refused_total by listen and status (-want +got):\n%s", diff)
	}
}
