package serve

import (
	"context"
	"errors"
	"fmt"

	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/rollback"
)

// ErrSource is returned by New when an app's rollback source cannot be used.
var ErrSource = errors.New("rollback source unusable")

// newManager manages the served apps' weights and runs their rollback
// controllers on their configured sources.
func (i *Instance) newManager(ctx context.Context, m *manifest.Manifest) (*rollback.Manager, error) {
	mgr := rollback.NewManager(rollback.ManagerOptions{Store: i.store, Logger: i.log})
	for _, t := range i.Proxy.Apps() {
		a := m.Apps[t.Name()]
		src, err := i.source(ctx, a)
		if err != nil {
			return nil, err
		}
		if err := mgr.Add(t, a, src); err != nil {
			return nil, err
		}
	}
	return mgr, nil
}

// source builds the rollback source of app a and checks that its rules can
// be evaluated.
func (i *Instance) source(ctx context.Context, a *manifest.App) (rollback.Source, error) {
	switch a.Rollback.Source {
	case "", "telemetry":
		return rollback.NewTelemetrySource(i.Metrics, nil), nil
	case "prometheus":
		src, warnings, err := rollback.CheckedPromSource(ctx, a, rollback.PromOptions{Logger: i.log})
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrSource, err)
		}
		for _, w := range warnings {
			i.log.Warn("rollback source", "app", a.Name, "warning", w)
		}
		return src, nil
	case "logs":
		return rollback.NewLogSource(i.logs.derived, nil), nil
	}
	return nil, fmt.Errorf("%w: apps.%s.rollback.source %q: use telemetry, prometheus or logs", ErrSource, a.Name, a.Rollback.Source)
}
