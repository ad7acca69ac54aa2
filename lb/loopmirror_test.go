//go:build linux

package lb

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
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
	serve.ServeHTTP(w, r)
}

func (m *sampleMirror) Leaves(side string, key []byte) bool {
	m.mu.Lock()
	m.asked = append(m.asked, side+"/"+string(key))
	m.mu.Unlock()
	return string(key) != m.key
}

func (m *sampleMirror) seen() (served, asked []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.served...), append([]string(nil), m.asked...)
}

// TestLoopMirrorSample checks that an app with a mirror that can say which
// requests it leaves alone stays on the event loops: the requests it
// leaves are proxied by the loops without Serve, the others go to Serve
// through net/http, and every one is answered by the side that serves it.
// A client's forged shadow marker changes nothing (the paths drop it).
//
// One path: LoopMirror is how the loops report to a mirror; on net/http
// the mirror's Serve is called (TestMirrorHook).
func TestLoopMirrorSample(t *testing.T) {
	t.Parallel()
	oldB, newB := newBackend(t, "old"), newBackend(t, "new")
	app := testApp(oldB, newB)
	app.TrustedProxies = []string{"127.0.0.1/32"} // X-Forwarded-For names the client
	app.Cutover.Weight = ptr(0)
	m := &sampleMirror{key: "10.0.0.2"}
	r := start(t, pathAuto, oneApp(app), Options{Mirrors: map[string]Mirror{"web": m}})
	if l := r.p.listeners[0]; !r.p.servedByLoops(l) {
		t.Fatal("listener not on the loops")
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
	if got := from("10.0.0.1", "X-Migrate-Shadow: forged"); got != "old" {
		t.Errorf("GET with the marker served by %q, want old", got)
	}
	served, asked := m.seen()
	if want := []string{"10.0.0.2"}; !slices.Equal(served, want) {
		t.Errorf("Serve saw requests from %q, want %q (the sampled client)", served, want)
	}
	if want := []string{"old/10.0.0.1", "old/10.0.0.2", "old/10.0.0.3", "old/10.0.0.1"}; !slices.Equal(asked, want) {
		t.Errorf("Leaves asked about %q, want %q", asked, want)
	}
}

// loopMirror is a sampleMirror the loops report the sampled requests'
// answers to (LoopMirror); it records what BeginPrimary was given and
// what each answer's report said.
type loopMirror struct {
	sampleMirror
	began   []string // method path body of BeginPrimary's requests
	reports []*report
}

// report is what a loop told a MirrorPrimary, under its mirror's lock.
type report struct {
	mu                 *sync.Mutex
	code               int
	header             http.Header
	chunked            bool
	body               []byte
	ends               int
	served, clientLeft bool
}

func (r *report) Header(code int, h http.Header, chunked bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.code, r.header, r.chunked = code, h, chunked
}

func (r *report) Body(b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.body = append(r.body, b...)
}

func (r *report) End(served, clientLeft bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ends++
	r.served, r.clientLeft = served, clientLeft
}

func (m *loopMirror) BeginPrimary(r *http.Request, side string, body []byte) MirrorPrimary {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.began = append(m.began, r.Method+" "+r.URL.RequestURI()+" "+r.Host+" "+r.Header.Get("X-Forwarded-For")+" "+string(body))
	rep := &report{mu: &m.mu}
	m.reports = append(m.reports, rep)
	return rep
}

// record returns what BeginPrimary got and the reports, once n reports
// have ended (a loop ends one after its answer went out).
func (m *loopMirror) record(t *testing.T, n int) (began []string, reports []report) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d reports ended", n), func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		ended := 0
		for _, r := range m.reports {
			ended += r.ends
		}
		return len(m.reports) == n && ended == n
	})
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.reports {
		reports = append(reports, *r)
	}
	return append([]string(nil), m.began...), reports
}

// TestLoopMirrorOnLoop checks that a LoopMirror's sampled requests are
// served by the loops, which report each answer to it: a trusted proxy's
// kept-alive connection that carries a sampled client stays on the loops
// (Serve never runs), the request the mirror gets is the client's with its
// whole body, and the report has the final status, the backend's header
// fields, the body (chunked ones in their framing) and one end. The
// proxy's own error answer is reported as the answer; a request with the
// marker still goes to Serve.
//
// One path: LoopMirror is the loops' report to a mirror.
func TestLoopMirrorOnLoop(t *testing.T) {
	t.Parallel()
	b := newBackendFunc(t, "old", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Seen", string(body))
		if r.URL.Path == "/chunked" {
			io.WriteString(w, "part one, ")
			w.(http.Flusher).Flush()
		}
		io.WriteString(w, "answer "+r.URL.Path)
	})
	app := testApp(b, b)
	app.TrustedProxies = []string{"127.0.0.1/32"}
	m := &loopMirror{sampleMirror: sampleMirror{key: "10.0.0.2"}}
	r := start(t, pathAuto, oneApp(app), Options{Mirrors: map[string]Mirror{"web": m}})
	c := dialRaw(t, r) // one connection, as from a load balancer
	for _, req := range []struct{ ip, method, path, body string }{
		{"10.0.0.1", "GET", "/a", ""}, {"10.0.0.2", "POST", "/b?q=1", "hello"}, {"10.0.0.3", "GET", "/c", ""},
		{"10.0.0.2", "GET", "/chunked", ""}, {"10.0.0.1", "GET", "/d", ""},
	} {
		c.send(t, fmt.Sprintf("%s %s HTTP/1.1\r\nHost: shop.test\r\nX-Forwarded-For: %s\r\nContent-Length: %d\r\n\r\n%s", req.method, req.path, req.ip, len(req.body), req.body))
		if res, body := c.response(t, req.method); res.StatusCode != 200 || !strings.HasSuffix(body, "answer "+strings.Split(req.path, "?")[0]) {
			t.Fatalf("%s %s from %s: %d %q", req.method, req.path, req.ip, res.StatusCode, body)
		}
	}
	served, asked := m.seen()
	if len(served) != 0 {
		t.Errorf("Serve saw %q; want the connection kept on the loops", served)
	}
	if len(asked) != 5 {
		t.Errorf("Leaves asked %d times (%q), want 5: one a request", len(asked), asked)
	}
	began, reports := m.record(t, 2)
	wantBegan := []string{"POST /b?q=1 shop.test 10.0.0.2 hello", "GET /chunked shop.test 10.0.0.2 "}
	if !slices.Equal(began, wantBegan) {
		t.Fatalf("BeginPrimary got %q, want %q", began, wantBegan)
	}
	if got := reports[0]; got.code != 200 || got.header.Get("X-Seen") != "hello" || got.chunked || string(got.body) != "answer /b" || got.ends != 1 || !got.served || got.clientLeft {
		t.Errorf("report of POST /b: %+v", got)
	}
	if got := reports[1]; got.code != 200 || !got.chunked || !strings.Contains(string(got.body), "part one, ") || !strings.HasSuffix(string(got.body), "0\r\n\r\n") || got.ends != 1 || !got.served {
		t.Errorf("report of GET /chunked: %+v", got)
	}
	if _, ok := reports[0].header["Connection"]; ok {
		t.Errorf("hop-by-hop Connection reported: %v", reports[0].header)
	}

	// The proxy's own answer (the backend gone) is the answer reported.
	b.Close()
	c = dialRaw(t, r)
	c.send(t, "GET /gone HTTP/1.1\r\nHost: shop.test\r\nX-Forwarded-For: 10.0.0.2\r\n\r\n")
	if res, _ := c.response(t, http.MethodGet); res.StatusCode != http.StatusBadGateway {
		t.Fatalf("GET with the backend gone: %d, want 502", res.StatusCode)
	}
	if _, reports = m.record(t, 3); len(reports) != 3 || reports[2].code != http.StatusBadGateway || len(reports[2].body) == 0 || reports[2].ends != 1 || !reports[2].served {
		t.Errorf("reports %+v; want a third for the 502", reports)
	}
}
