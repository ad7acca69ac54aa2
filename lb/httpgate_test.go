package lb

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"

	"github.com/migratekit/migrate/manifest"
)

// tunnelBackend answers each connection's first request: with 101 and then
// an echo of every byte that follows when switch is set, else with a plain
// 200 and the next requests likewise. It counts the requests it read.
type tunnelBackend struct {
	ln       net.Listener
	mu       sync.Mutex
	requests []string
}

func newTunnelBackend(t *testing.T, switches bool) *tunnelBackend {
	t.Helper()
	tb := &tunnelBackend{}
	tb.ln = serveConns(t, func(c net.Conn) { tb.serve(c, switches) })
	return tb
}

func (tb *tunnelBackend) serve(c net.Conn, switches bool) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, req.Body)
		tb.mu.Lock()
		tb.requests = append(tb.requests, req.Method+" "+req.RequestURI)
		tb.mu.Unlock()
		if switches {
			io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
			_, _ = io.Copy(c, br) // the tunnel: an echo
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nno")
	}
}

func (tb *tunnelBackend) seen() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]string(nil), tb.requests...)
}

func (tb *tunnelBackend) app() *manifest.App {
	u := "http://" + tb.ln.Addr().String()
	return &manifest.App{Listen: "127.0.0.1:0", Old: manifest.Pool{Backends: []string{u}}, New: manifest.Pool{Backends: []string{u}}}
}

const wsRequest = "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"

// TestUpgradeTunnel: what a client sends right after its upgrade request,
// before the switch, passes through the tunnel unjudged once the backend
// switches (a websocket client may send its first frame at once).
func TestUpgradeTunnel(t *testing.T) {
	everyPath(t, func(t *testing.T, pc pathCase) {
		tb := newTunnelBackend(t, true)
		r := startOn(t, pc, oneApp(tb.app()), Options{})
		c := r.dial(t)
		c.send(t, wsRequest+"\x81\x04ping, not a request head\r\n\r\n")
		if code, _ := c.head(t); code != http.StatusSwitchingProtocols {
			t.Fatalf("answer %d, want 101", code)
		}
		want := "\x81\x04ping, not a request head\r\n\r\n"
		got := make([]byte, len(want))
		if _, err := io.ReadFull(c.br, got); err != nil || string(got) != want {
			t.Fatalf("echo through the tunnel %q, %v; want %q", got, err, want)
		}
	})
}

// TestRefusedUpgradeJudged: after an upgrade request the backend answers
// without switching, what follows on the connection is a request again,
// judged by the rules: a smuggling attempt there gets 400, and the backend
// never sees it.
func TestRefusedUpgradeJudged(t *testing.T) {
	everyPath(t, func(t *testing.T, pc pathCase) {
		tb := newTunnelBackend(t, false)
		r := startOn(t, pc, oneApp(tb.app()), Options{})
		c := r.dial(t)
		c.send(t, wsRequest+smuggle("cl-first"))
		if res, body := c.response(t, http.MethodGet); res.StatusCode != http.StatusOK || body != "no" {
			t.Fatalf("answer to the upgrade request %d %q, want the backend's 200", res.StatusCode, body)
		}
		if res, _ := c.response(t, http.MethodPost); res.StatusCode != http.StatusBadRequest {
			t.Errorf("answer to the smuggling request %d, want 400", res.StatusCode)
		}
		if !c.closed() {
			t.Error("connection open after the 400")
		}
		if got := tb.seen(); len(got) != 1 || got[0] != "GET /ws" {
			t.Errorf("backend saw %q, want only GET /ws", got)
		}
	})
}
