package lb

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/migratekit/migrate/internal/testsvc"
	"github.com/migratekit/migrate/manifest"
)

// blinkBackend is a backend that can go away and come back on the same
// address, as one that restarts (a deploy). It answers with its name.
type blinkBackend struct {
	t    *testing.T
	name string
	addr string
	mu   sync.Mutex
	srv  *httptest.Server
}

func newBlinkBackend(t *testing.T, name string) *blinkBackend {
	t.Helper()
	b := &blinkBackend{t: t, name: name, addr: testsvc.FreeAddr(t)}
	b.up()
	t.Cleanup(b.down)
	return b
}

func (b *blinkBackend) url() string { return "http://" + b.addr }

// up starts serving on the backend's address.
func (b *blinkBackend) up() {
	b.t.Helper()
	ln, err := net.Listen("tcp", b.addr)
	if err != nil {
		b.t.Fatalf("backend %s back on %s: %v", b.name, b.addr, err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Backend", b.name)
		fmt.Fprint(w, b.name)
	}))
	srv.Listener = ln
	srv.Start()
	b.mu.Lock()
	b.srv = srv
	b.mu.Unlock()
}

// down stops it: its listener and connections close.
func (b *blinkBackend) down() {
	b.mu.Lock()
	srv := b.srv
	b.srv = nil
	b.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// TestBlinkingBackend: an app whose side has one backend, which restarts,
// is served again by it as soon as it is back, on every path: passive
// ejection never takes out the last backend of a pool (nginx never marks
// the last server of an upstream down). It took it out for the whole
// cooldown, the fake clock's forever here, and every request got 502.
func TestBlinkingBackend(t *testing.T) {
	everyPath(t, func(t *testing.T, pc pathCase) {
		old := newBlinkBackend(t, "old")
		app := &manifest.App{Listen: "127.0.0.1:0",
			Old: manifest.Pool{Backends: []string{old.url()}}, New: manifest.Pool{Backends: []string{old.url()}}}
		metrics, reg := newMetrics(t)
		r := startOn(t, pc, oneApp(app), Options{Clock: clockwork.NewFakeClock(), Metrics: metrics})
		if got, code := r.get(t, nil); code != http.StatusOK || got != "old" {
			t.Fatalf("before the restart: %d from %q", code, got)
		}
		old.down()
		for i := range 2 * manifest.DefaultMaxFails {
			if _, code := r.get(t, nil); code != http.StatusBadGateway {
				t.Fatalf("request %d with the backend down: %d, want 502", i, code)
			}
		}
		old.up()
		if got, code := r.get(t, nil); code != http.StatusOK || got != "old" {
			t.Errorf("first request with the backend back: %d from %q, want 200 from old", code, got)
		}
		labels := map[string]string{"app": "web", "side": "old", "backend": old.url()}
		if got := metricValue(t, reg, "migrate_backend_ejections_total", labels); got != 0 {
			t.Errorf("ejections of the only backend = %v, want 0", got)
		}
	})
}

// TestFailoverFromFailingLastBackend: with failover on and passive checks
// only, a side whose one backend fails its requests hands its clients to
// the other side once the backend has failed maxFails in a row (kept in
// rotation, as the last of its pool, but suspect), and takes them back
// when its backoff is over and it answers again. Keeping the last backend
// in rotation had kept the clients on it, with 502s, failover or not.
func TestFailoverFromFailingLastBackend(t *testing.T) {
	everyPath(t, func(t *testing.T, pc pathCase) {
		old, nw := newBlinkBackend(t, "old"), newBlinkBackend(t, "new")
		app := &manifest.App{Listen: "127.0.0.1:0", Failover: ptr(true),
			Old: manifest.Pool{Backends: []string{old.url()}}, New: manifest.Pool{Backends: []string{nw.url()}}}
		fc := clockwork.NewFakeClock()
		r := startOn(t, pc, oneApp(app), Options{Clock: fc})
		old.down()
		for i := range manifest.DefaultMaxFails {
			if _, code := r.get(t, nil); code != http.StatusBadGateway {
				t.Fatalf("request %d with old down: %d, want 502 until it has failed %d times", i, code, manifest.DefaultMaxFails)
			}
		}
		for i := range 3 {
			if got, code := r.get(t, nil); code != http.StatusOK || got != "new" {
				t.Fatalf("request %d after old failed %d times: %d from %q, want new by failover", i, manifest.DefaultMaxFails, code, got)
			}
		}
		old.up()
		fc.Advance(firstBackoff)
		if got, code := r.get(t, nil); code != http.StatusOK || got != "old" {
			t.Errorf("old back, its backoff over: %d from %q, want old", code, got)
		}
	})
}

// TestBlinkingBackendNginx: nginx, the reference, serves from a lone
// upstream server as soon as it is back (it never marks the last server
// of an upstream down, whatever max_fails).
func TestBlinkingBackendNginx(t *testing.T) {
	t.Parallel()
	old := newBlinkBackend(t, "old")
	addr := startNginxProxy(t, "", nginxServer{"x", old.addr})
	tr := &http.Transport{Proxy: nil}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	get := func() int {
		t.Helper()
		res, err := client.Get("http://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	old.down()
	for i := range 2 * manifest.DefaultMaxFails {
		if code := get(); code != http.StatusBadGateway {
			t.Fatalf("request %d with the backend down: %d, want 502", i, code)
		}
	}
	old.up()
	if code := get(); code != http.StatusOK {
		t.Errorf("first request with the backend back: %d, want 200", code)
	}
}

// TestEjectionBackoff: a passively ejected backend of a pool without a
// check is tried again after 1 s, then after twice as long at each
// ejection in a row, up to the cooldown; its first success puts it back
// for good, and a later ejection starts again at 1 s.
func TestEjectionBackoff(t *testing.T) { forEachPath(t, testEjectionBackoff) }

func testEjectionBackoff(t *testing.T, path dataPath) {
	a, b := newBlinkBackend(t, "a"), newBlinkBackend(t, "b")
	fc := clockwork.NewFakeClock()
	metrics, reg := newMetrics(t)
	app := &manifest.App{Listen: "127.0.0.1:0",
		Old: manifest.Pool{Backends: []string{a.url(), b.url()}, Passive: manifest.Passive{MaxFails: 1, Cooldown: manifest.Duration(10 * time.Second)}},
		New: manifest.Pool{Backends: []string{b.url()}}}
	r := start(t, path, oneApp(app), Options{Clock: fc, Metrics: metrics})
	web := r.p.App("web")
	ejections := func() float64 {
		return metricValue(t, reg, "migrate_backend_ejections_total", map[string]string{"app": "web", "side": "old", "backend": a.url()})
	}
	// serveAll sends requests until a has been tried (round robin: two
	// suffice); b serves them all while a is down.
	serveAll := func() {
		t.Helper()
		for i := range 2 {
			if got, code := r.get(t, nil); code != http.StatusOK || got != "b" {
				t.Fatalf("request %d: %d from %q, want b", i, code, got)
			}
		}
	}
	a.down()
	serveAll()
	for i, backoff := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second} {
		if got := ejections(); got != float64(i+1) {
			t.Fatalf("ejections = %v, want %d", got, i+1)
		}
		fc.Advance(backoff - time.Millisecond)
		if healthState(web)[a.url()] {
			t.Fatalf("ejection %d: a back before its backoff of %s", i+1, backoff)
		}
		fc.Advance(time.Millisecond)
		if !healthState(web)[a.url()] {
			t.Fatalf("ejection %d: a still out after its backoff of %s", i+1, backoff)
		}
		serveAll() // a fails its trial and is out again
	}
	a.up()
	fc.Advance(10 * time.Second)
	served := map[string]int{}
	for range 4 {
		got, _ := r.get(t, nil)
		served[got]++
	}
	if served["a"] != 2 || served["b"] != 2 {
		t.Fatalf("with a back: served %v, want a and b twice each", served)
	}
	a.down()
	serveAll()
	fc.Advance(time.Second)
	if !healthState(web)[a.url()] {
		t.Error("after a success, a new ejection lasted more than 1 s")
	}
}
