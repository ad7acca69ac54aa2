package serve

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/migratekit/migrate/internal/testsvc"
	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/state"
)

// syncBuffer is a log sink the test reads while the instance writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestPrometheusDownAtStart: with rollback.source prometheus and nothing
// answering at its address, the instance starts and serves; the source is
// reported down (insufficient verdicts, an event, the metric, a log line)
// and up again once a real Prometheus answers there.
func TestPrometheusDownAtStart(t *testing.T) {
	oldB, newB := backend(t, 200, "old"), backend(t, 200, "new")
	adminAddr, promAddr := freeAddr(t), freeAddr(t)
	m, err := manifest.Parse("test.yaml", fmt.Appendf(nil, `defaults:
  listen: 127.0.0.1:0
  admin: {listen: %s}
apps:
  shop:
    old: {backends: [%s]}
    new: {backends: [%s]}
    shadow: {sample: 0%%}
    rollback:
      source: prometheus
      prometheus: {url: "http://%s", timeout: 500ms}
`, adminAddr, oldB.URL, newB.URL, promAddr))
	if err != nil {
		t.Fatal(err)
	}
	var log syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	inst, err := New(ctx, Options{Manifest: m, DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		cancel()
		t.Fatalf("New() with prometheus unreachable = %v, want it to start", err)
	}
	done := make(chan error, 1)
	go func() { done <- inst.Run(ctx) }()
	defer func() { cancel(); <-done }()
	if got := body(t, proxyURL(inst)+"/"); got != "old" {
		t.Errorf("served %q, want old", got)
	}

	sourceUp := func() float64 { return gauge(t, inst, "migrate_rollback_source_up") }
	waitFor(t, "the source reported down", func() bool {
		v, ok := inst.Manager.Verdict("shop")
		return ok && v.SourceDown && v.Result == "insufficient" && hasEvent(t, inst, state.KindSourceDown) && sourceUp() == 0
	})
	if !strings.Contains(log.String(), "rollback source down") {
		t.Errorf("no log line of the outage:\n%s", log.String())
	}

	testsvc.StartPrometheusAt(t, adminAddr, promAddr)
	waitFor(t, "the source reported up again", func() bool {
		v, ok := inst.Manager.Verdict("shop")
		return ok && !v.SourceDown && hasEvent(t, inst, state.KindSourceUp) && sourceUp() == 1
	})
	if !strings.Contains(log.String(), "rollback source up again") {
		t.Errorf("no log line of the recovery:\n%s", log.String())
	}
}

// TestHealthMetrics: the dependency metrics pass promlint and say the
// store is up with nothing pending.
func TestHealthMetrics(t *testing.T) {
	inst, _ := start(t, fmt.Sprintf(`defaults:
  listen: 127.0.0.1:0
  admin: {listen: 127.0.0.1:0}
apps:
  shop:
    old: {backends: [%s]}
    new: {backends: [%s]}
`, backend(t, 200, "old").URL, backend(t, 200, "new").URL))
	waitFor(t, "a first verdict", func() bool { _, ok := inst.Manager.Verdict("shop"); return ok })
	problems, err := testutil.GatherAndLint(inst.Registry, "migrate_state_store_up", "migrate_state_pending_decisions", "migrate_rollback_source_up")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	want := `# HELP migrate_state_store_up 1 while the state store answers, 0 while it is down (the instance serves its last known state).
# TYPE migrate_state_store_up gauge
migrate_state_store_up 1
# HELP migrate_state_pending_decisions Weight decisions applied on this instance that the state store has not taken yet (it is down).
# TYPE migrate_state_pending_decisions gauge
migrate_state_pending_decisions 0
# HELP migrate_rollback_source_up 1 while the app's rollback source answers, 0 while it does not (verdicts are insufficient).
# TYPE migrate_rollback_source_up gauge
migrate_rollback_source_up{app="shop"} 1
`
	if err := testutil.GatherAndCompare(inst.Registry, strings.NewReader(want),
		"migrate_state_store_up", "migrate_state_pending_decisions", "migrate_rollback_source_up"); err != nil {
		t.Error(err)
	}
}

// gauge is the value of inst's gauge name (its one series), -1 when it
// has none.
func gauge(t *testing.T, inst *Instance, name string) float64 {
	t.Helper()
	mfs, err := inst.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return -1
}

func hasEvent(t *testing.T, inst *Instance, kind string) bool {
	t.Helper()
	evs, err := inst.Manager.Events(t.Context(), state.Query{App: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	return slices.ContainsFunc(evs, func(e state.Event) bool { return e.Kind == kind })
}

// waitFor polls cond every 20ms for up to 60s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not %s within 60s", what)
		}
	}
}
