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
	waitFor(t, "the mirror to start", m.running.Load)

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

// TestServeWithoutRun serves requests untouched and mirrors nothing when
// Run is not running, and a nil Mirror does the same.
func TestServeWithoutRun(t *testing.T) {
	newB := newBackend(t, "new", nil)
	m, err := New(testApp("http://127.0.0.1:1", newB.URL), Options{Comparer: newFakeComparer()})
	if err != nil {
		t.Fatal(err)
	}
	served := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("old")) })
	for _, mirror := range []*Mirror{m, nil} {
		rec := httptest.NewRecorder()
		mirror.Serve(rec, httptest.NewRequest(http.MethodGet, "/", nil), telemetry.SideOld, served)
		if rec.Body.String() != "old" {
			t.Errorf("served %q, want old", rec.Body.String())
		}
	}
	if got := m.Stats(); got != (Stats{}) || newB.hits() != 0 {
		t.Errorf("stats %+v and %d mirrors, want nothing", got, newB.hits())
	}
}
