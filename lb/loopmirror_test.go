//go:build linux

package lb

import (
	"net/http"
	"slices"
	"sync"
	"testing"
)

// sampleMirror mirrors the clients of one key: it records the requests
// Serve sees and the keys Leaves is asked about.
type sampleMirror struct {
	key    string
	mu     sync.Mutex
	served []string // X-Forwarded-For of the requests Serve saw
	asked  []string // side/key of Leaves
}

func (m *sampleMirror) Serve(w http.ResponseWriter, r *http.Request, _ string, serve http.Handler) {
	m.mu.Lock()
	m.served = append(m.served, r.Header.Get("X-Forwarded-For"))
	m.mu.Unlock()
	r.Header.Del(m.Marker())
	serve.ServeHTTP(w, r)
}

func (m *sampleMirror) Leaves(side string, key []byte) bool {
	m.mu.Lock()
	m.asked = append(m.asked, side+"/"+string(key))
	m.mu.Unlock()
	return string(key) != m.key
}

func (m *sampleMirror) Marker() string { return "X-Test-Shadow" }

func (m *sampleMirror) seen() (served, asked []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.served...), append([]string(nil), m.asked...)
}

// TestLoopMirrorSample checks that an app with a mirror that can say which
// requests it leaves alone stays on the event loops: the requests it
// leaves are proxied by the loops without Serve, the others (and those
// carrying the mirror's marker) go to Serve through net/http, and every
// one is answered by the side that serves it.
func TestLoopMirrorSample(t *testing.T) {
	oldB, newB := newBackend(t, "old"), newBackend(t, "new")
	app := testApp(oldB, newB)
	app.TrustedProxies = []string{"127.0.0.1/32"} // X-Forwarded-For names the client
	app.Cutover.Weight = ptr(0)
	m := &sampleMirror{key: "10.0.0.2"}
	r := start(t, oneApp(app), Options{Mirrors: map[string]Mirror{"web": m}})
	if l := r.p.listeners[0]; !l.loop || l.fast {
		t.Fatalf("listener loop=%v fast=%v, want the loops with net/http for the mirror", l.loop, l.fast)
	}
	from := func(ip string, extra ...string) string {
		t.Helper()
		c := dialRaw(t, r) // a connection per request: one handed over stays on net/http
		req := "GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: " + ip + "\r\n"
		for _, h := range extra {
			req += h + "\r\n"
		}
		c.send(t, req+"\r\n")
		res, _ := c.response(t, http.MethodGet)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET from %s: %d", ip, res.StatusCode)
		}
		return res.Header.Get("X-Backend")
	}
	for _, ip := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"} {
		if got := from(ip); got != "old" {
			t.Errorf("GET from %s served by %q, want old", ip, got)
		}
	}
	if got := from("10.0.0.1", "X-Test-Shadow: forged"); got != "old" {
		t.Errorf("GET with the marker served by %q, want old", got)
	}
	served, asked := m.seen()
	if want := []string{"10.0.0.2", "10.0.0.1"}; !slices.Equal(served, want) {
		t.Errorf("Serve saw requests from %q, want %q (the sampled client, then the marked request)", served, want)
	}
	if want := []string{"old/10.0.0.1", "old/10.0.0.2", "old/10.0.0.3"}; !slices.Equal(asked, want) {
		t.Errorf("Leaves asked about %q, want %q", asked, want)
	}
}
