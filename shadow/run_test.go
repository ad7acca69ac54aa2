package shadow

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/migratekit/migrate/telemetry"
)

// TestQueueDepthGauge drives Serve directly, without a proxy, and samples
// the queue depth on a fake clock's tick.
func TestQueueDepthGauge(t *testing.T) {
	newB, release := heldBackend(t, "new")
	app := testApp("http://127.0.0.1:1", newB.URL)
	app.Shadow.Workers, app.Shadow.Queue = 1, 4
	reg := prometheus.NewRegistry()
	metrics, err := telemetry.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	fc := clockwork.NewFakeClock()
	cmp := newFakeComparer()
	m, err := New(app, Options{Metrics: metrics, Comparer: cmp, Clock: fc})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() { cancel(); <-done }()

	served := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("old")) })
	for range 4 {
		rec := httptest.NewRecorder()
		m.Serve(rec, httptest.NewRequest(http.MethodGet, "/q", nil), telemetry.SideOld, served)
		if rec.Body.String() != "old" {
			t.Fatalf("served %q", rec.Body.String())
		}
	}
	waitFor(t, "the worker to hold a mirror", func() bool { return newB.hits() == 1 })
	gauge := func() float64 { return metric(t, reg, "migrate_shadow_queue_depth", map[string]string{"app": "web"}) }
	if got := gauge(); got != 0 {
		t.Errorf("queue depth before the first tick: %v, want 0", got)
	}
	bctx, bcancel := context.WithTimeout(ctx, 5*time.Second)
	defer bcancel()
	if err := fc.BlockUntilContext(bctx, 1); err != nil {
		t.Fatalf("waiting for the ticker: %v", err)
	}
	fc.Advance(queueGaugeInterval)
	waitFor(t, "the gauge to show three queued mirrors", func() bool { return gauge() == 3 })
	release()
	waitFor(t, "every pair judged", func() bool { return cmp.total() == 4 })
}

// TestRunLifecycle serves through a mirror before Run (the mirror waits
// in the queue), during it (sent), and after it (served only); a nil
// Mirror serves too.
func TestRunLifecycle(t *testing.T) {
	newB := newBackend(t, "new", nil)
	m, err := New(testApp("http://127.0.0.1:1", newB.URL), Options{Comparer: newFakeComparer()})
	if err != nil {
		t.Fatal(err)
	}
	served := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("old")) })
	get := func(mirror *Mirror) {
		t.Helper()
		rec := httptest.NewRecorder()
		mirror.Serve(rec, httptest.NewRequest(http.MethodGet, "/", nil), telemetry.SideOld, served)
		if rec.Body.String() != "old" {
			t.Errorf("served %q, want old", rec.Body.String())
		}
	}
	get(nil)
	get(m)
	if got, want := m.Stats(), (Stats{Queued: 1, Pending: 1, Mirrored: 1}); got != want || newB.hits() != 0 {
		t.Errorf("before Run: %+v and %d mirrors sent, want %+v and none", got, newB.hits(), want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	waitFor(t, "the queued mirror sent and judged", func() bool { return m.Stats().Pending == 0 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	get(m)
	if got, want := m.Stats(), (Stats{Mirrored: 1}); got != want || newB.hits() != 1 {
		t.Errorf("after Run: %+v and %d mirrors sent, want %+v and 1", got, newB.hits(), want)
	}
}
