package lb

import (
	"context"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jonboulle/clockwork"

	"github.com/migratekit/migrate/manifest"
)

// healthState returns the Healthy flag of each backend URL.
func healthState(a *App) map[string]bool {
	out := map[string]bool{}
	for _, s := range a.Backends() {
		out[s.URL] = s.Healthy
	}
	return out
}

// tick advances the fake clock by d and waits until the n checker
// goroutines have probed and are waiting again.
func tick(t *testing.T, fc *clockwork.FakeClock, d time.Duration, n int) {
	t.Helper()
	fc.Advance(d)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := fc.BlockUntilContext(ctx, n); err != nil {
		t.Fatalf("waiting for %d health checkers: %v", n, err)
	}
}

func TestHealthCheckEjectRestore(t *testing.T) { forEachPath(t, testHealthCheckEjectRestore) }

func testHealthCheckEjectRestore(t *testing.T, path dataPath) {
	var status atomic.Int32
	status.Store(http.StatusOK)
	a := newBackendFunc(t, "a", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			w.WriteHeader(int(status.Load()))
			return
		}
		w.Write([]byte("a"))
	})
	b, n := newBackend(t, "b"), newBackend(t, "new")
	app := twoOld(a, b, n, manifest.Passive{})
	app.Old.Health = manifest.Health{
		Path:      "/healthz",
		Interval:  manifest.Duration(time.Second),
		Healthy:   2,
		Unhealthy: 3,
	}
	fc := clockwork.NewFakeClock()
	metrics, reg := newMetrics(t)
	r := start(t, path, oneApp(app), Options{Clock: fc, Metrics: metrics})
	web := r.p.App("web")
	tick(t, fc, 0, 2) // the first probes, at start

	status.Store(http.StatusInternalServerError)
	for i, want := range []bool{true, true, false} {
		tick(t, fc, time.Second, 2)
		if got := healthState(web)[a.URL]; got != want {
			t.Fatalf("after %d failed probes (unhealthy: 3): healthy = %v, want %v", i+1, got, want)
		}
	}
	for i := range 4 {
		if got, code := r.get(t, nil); got != "b" || code != http.StatusOK {
			t.Errorf("request %d with a ejected: served by %q (%d), want b", i, got, code)
		}
	}
	labels := map[string]string{"app": "web", "side": "old", "backend": a.URL}
	if got := metricValue(t, reg, "migrate_backend_up", labels); got != 0 {
		t.Errorf("migrate_backend_up = %v, want 0", got)
	}
	if got := metricValue(t, reg, "migrate_backend_ejections_total", labels); got != 1 {
		t.Errorf("migrate_backend_ejections_total = %v, want 1", got)
	}

	status.Store(http.StatusOK)
	for i, want := range []bool{false, true} {
		tick(t, fc, time.Second, 2)
		if got := healthState(web)[a.URL]; got != want {
			t.Fatalf("after %d passing probes (healthy: 2): healthy = %v, want %v", i+1, got, want)
		}
	}
	served := map[string]int{}
	for range 4 {
		got, _ := r.get(t, nil)
		served[got]++
	}
	if diff := cmp.Diff(map[string]int{"a": 2, "b": 2}, served); diff != "" {
		t.Errorf("after restore, requests per backend (-want +got):\n%s", diff)
	}
	if got := metricValue(t, reg, "migrate_backend_up", labels); got != 1 {
		t.Errorf("migrate_backend_up = %v, want 1", got)
	}
}

func TestPassiveEjection(t *testing.T) { forEachPath(t, testPassiveEjection) }

func testPassiveEjection(t *testing.T, path dataPath) {
	a, b, n := newBackend(t, "a"), newBackend(t, "b"), newBackend(t, "new")
	fc := clockwork.NewFakeClock()
	metrics, reg := newMetrics(t)
	app := twoOld(a, b, n, manifest.Passive{MaxFails: 2, Cooldown: manifest.Duration(10 * time.Second)})
	r := start(t, path, oneApp(app), Options{Clock: fc, Metrics: metrics})
	web := r.p.App("web")
	a.Close()
	ejections := func() float64 {
		return metricValue(t, reg, "migrate_backend_ejections_total", map[string]string{"app": "web", "side": "old", "backend": a.URL})
	}

	for i := range 4 { // a is picked twice: two failures, both retried on b
		if got, code := r.get(t, nil); got != "b" || code != http.StatusOK {
			t.Fatalf("GET %d: served by %q (%d), want b", i, got, code)
		}
	}
	want := []BackendStatus{
		{Side: "old", URL: a.URL, Healthy: false, ConsecutiveFails: 2},
		{Side: "old", URL: b.URL, Healthy: true},
		{Side: "new", URL: n.URL, Healthy: true},
	}
	if diff := cmp.Diff(want, web.Backends()); diff != "" {
		t.Fatalf("after max_fails failures (-want +got):\n%s", diff)
	}
	if got := ejections(); got != 1 {
		t.Errorf("ejections = %v, want 1", got)
	}

	fc.Advance(time.Second - time.Millisecond) // its first backoff (TestEjectionBackoff)
	if healthState(web)[a.URL] {
		t.Errorf("a is back before its backoff")
	}
	fc.Advance(time.Millisecond)
	if !healthState(web)[a.URL] {
		t.Errorf("a is still out after its backoff")
	}
	for i := range 2 { // half-open: a single failure ejects it again
		if got, code := r.get(t, nil); got != "b" || code != http.StatusOK {
			t.Fatalf("GET %d after cooldown: served by %q (%d), want b", i, got, code)
		}
	}
	if healthState(web)[a.URL] {
		t.Errorf("a is in rotation after failing again")
	}
	if got := ejections(); got != 2 {
		t.Errorf("ejections = %v, want 2", got)
	}
}

// A passively ejected backend of a checked pool comes back through its
// health check, not its cooldown.
func TestPassiveEjectionRestoredByHealthCheck(t *testing.T) {
	forEachPath(t, testPassiveEjectionRestoredByHealthCheck)
}

func testPassiveEjectionRestoredByHealthCheck(t *testing.T, path dataPath) {
	a := newBackendFunc(t, "a", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			return
		}
		c, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			c.Close() // drop the connection before any response
		}
	})
	b, n := newBackend(t, "b"), newBackend(t, "new")
	app := twoOld(a, b, n, manifest.Passive{MaxFails: 1, Cooldown: manifest.Duration(time.Second)})
	app.Old.Health = manifest.Health{Path: "/healthz", Interval: manifest.Duration(time.Minute), Healthy: 2}
	fc := clockwork.NewFakeClock()
	r := start(t, path, oneApp(app), Options{Clock: fc})
	web := r.p.App("web")
	tick(t, fc, 0, 2)
	for i := range 2 {
		if got, code := r.get(t, nil); got != "b" || code != http.StatusOK {
			t.Fatalf("GET %d: served by %q (%d), want b", i, got, code)
		}
	}
	if healthState(web)[a.URL] {
		t.Fatal("a not ejected after a dropped connection (max_fails: 1)")
	}
	for i, want := range []bool{false, true} {
		tick(t, fc, time.Minute, 2)
		if got := healthState(web)[a.URL]; got != want {
			t.Errorf("after %d passing probes: healthy = %v, want %v", i+1, got, want)
		}
	}
}

func TestParseStatus(t *testing.T) {
	tests := []struct {
		in      string
		code    int
		want    bool
		wantErr bool
	}{
		{"", 204, true, false},
		{"2xx", 299, true, false},
		{"2XX", 301, false, false},
		{"200", 200, true, false},
		{"200", 204, false, false},
		{"3xx", 302, true, false},
		{"6xx", 0, false, true},
		{"ok", 0, false, true},
		{"99", 0, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			m, err := parseStatus(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseStatus(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if err == nil && m.match(tt.code) != tt.want {
				t.Errorf("parseStatus(%q).match(%d) = %v, want %v", tt.in, tt.code, !tt.want, tt.want)
			}
		})
	}
}

func TestProbeURL(t *testing.T) {
	tests := []struct {
		base, path, want string
	}{
		{"http://10.0.0.5:3000", "/healthz", "http://10.0.0.5:3000/healthz"},
		{"https://b.example/app/", "/healthz?full=1", "https://b.example/app/healthz?full=1"},
		{"http://b/app?tenant=x", "/up", "http://b/app/up"},
	}
	for _, tt := range tests {
		t.Run(tt.base+tt.path, func(t *testing.T) {
			base, err := url.Parse(tt.base)
			if err != nil {
				t.Fatal(err)
			}
			path, err := url.Parse(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if got := probeURL(base, path); got != tt.want {
				t.Errorf("probeURL = %q, want %q", got, tt.want)
			}
		})
	}
}
