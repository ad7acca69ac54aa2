package dashboards

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/migratekit/migrate/admin"
	"github.com/migratekit/migrate/state"
)

// Source is what a Dashboard reads: Local in the process that serves the
// apps, Remote against a running instance's admin API.
type Source interface {
	// Apps returns the status of every app served.
	Apps(ctx context.Context) ([]admin.AppStatus, error)
	// Gather returns the Prometheus series (those of package telemetry).
	Gather(ctx context.Context) ([]*dto.MetricFamily, error)
	// Diffs returns an app's diff view; ok is false when it is not
	// shadowed.
	Diffs(ctx context.Context, app string) (v DiffView, ok bool, err error)
	// Events returns the events recorded after the one with ID after
	// (every event when empty), oldest first, at most limit.
	Events(ctx context.Context, after string, limit int) ([]state.Event, error)
}

// Local reads the instance it runs in. Apps and Gatherer are required;
// the others may be nil.
type Local struct {
	// Statuses returns the status of every app served.
	Statuses func() []admin.AppStatus
	Gatherer prometheus.Gatherer
	// Reports builds the diff reports, with their examples.
	Reports admin.DiffReporter
	// Recorded reads the event log (the rollback manager).
	Recorded func(ctx context.Context, q state.Query) ([]state.Event, error)
}

// Apps implements Source.
func (l Local) Apps(ctx context.Context) ([]admin.AppStatus, error) {
	if l.Statuses == nil {
		return nil, errors.New("reading app status: no status function")
	}
	return l.Statuses(), nil
}

// Gather implements Source.
func (l Local) Gather(ctx context.Context) ([]*dto.MetricFamily, error) {
	if l.Gatherer == nil {
		return nil, nil
	}
	return l.Gatherer.Gather()
}

// Diffs implements Source, with the examples' bodies.
func (l Local) Diffs(ctx context.Context, app string) (DiffView, bool, error) {
	if l.Reports == nil {
		return DiffView{}, false, nil
	}
	r, ok, err := l.Reports.Report(ctx, app)
	if err != nil || !ok {
		return DiffView{}, ok, err
	}
	return NewDiffView(r), true, nil
}

// Events implements Source.
func (l Local) Events(ctx context.Context, after string, limit int) ([]state.Event, error) {
	if l.Recorded == nil {
		return nil, nil
	}
	return l.Recorded(ctx, state.Query{After: after, Limit: limit})
}

var _ Source = Local{}
