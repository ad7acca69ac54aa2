package dashboards

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/migratekit/migrate/admin"
	"github.com/migratekit/migrate/state"
	"github.com/migratekit/migrate/telemetry"
)

// fakeSource is a Source over a real telemetry registry.
type fakeSource struct {
	reg     *prometheus.Registry
	metrics *telemetry.Metrics

	mu     sync.Mutex
	apps   []admin.AppStatus
	views  map[string]DiffView
	events []state.Event
	err    error
	diffs  int // Diffs calls
}

func newFakeSource(t *testing.T, apps ...string) *fakeSource {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := telemetry.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeSource{reg: reg, metrics: m, views: map[string]DiffView{}}
	for _, a := range apps {
		s.apps = append(s.apps, admin.AppStatus{App: a, Phase: "split", Weight: 50})
	}
	return s
}

func (s *fakeSource) Apps(ctx context.Context) ([]admin.AppStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apps, s.err
}

func (s *fakeSource) Gather(ctx context.Context) ([]*dto.MetricFamily, error) {
	return s.reg.Gather()
}

func (s *fakeSource) Diffs(ctx context.Context, app string) (DiffView, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.diffs++
	v, ok := s.views[app]
	return v, ok, nil
}

func (s *fakeSource) Events(ctx context.Context, after string, limit int) ([]state.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []state.Event
	seen := after == ""
	for _, e := range s.events {
		if seen {
			out = append(out, e)
		}
		if e.ID == after {
			seen = true
		}
	}
	return out, nil
}

// requests records n answers of code taking d on app's side.
func (s *fakeSource) requests(app, side string, n, code int, d time.Duration) {
	sd := s.metrics.Side(app, side)
	for range n {
		sd.Request(code, d)
	}
}

// newTestDashboard builds a dashboard on src with a fake clock.
func newTestDashboard(t *testing.T, src Source, opts Options) (*Dashboard, *clockwork.FakeClock) {
	t.Helper()
	fc := clockwork.NewFakeClockAt(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	opts.Source, opts.Clock = src, fc
	d, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return d, fc
}
