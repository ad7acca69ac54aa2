package serve

import (
	"cmp"
	"errors"
	"fmt"

	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/rollback"
)

// ErrSource is returned by New when an app's rollback source is
// misconfigured (an unknown source, an unparsable URL or query). A source
// that does not answer is no reason not to serve: its verdicts are
// insufficient until it answers (logged, recorded as source_down and
// source_up events, migrate_rollback_source_up); `migrate validate
// --check-sources` checks it beforehand.
var ErrSource = errors.New("rollback source unusable")

// newManager manages the served apps' weights and runs their rollback
// controllers on their configured sources.
func (i *Instance) newManager(m *manifest.Manifest) (*rollback.Manager, error) {
	mgr := rollback.NewManager(rollback.ManagerOptions{Store: i.store, Logger: i.log})
	for _, t := range i.Proxy.Apps() {
		a := m.Apps[t.Name()]
		src, err := i.source(a)
		if err != nil {
			return nil, err
		}
		if err := mgr.Add(t, a, src); err != nil {
			return nil, err
		}
	}
	return mgr, nil
}

// source builds the rollback source of app a, without reaching it.
func (i *Instance) source(a *manifest.App) (rollback.Source, error) {
	switch cmp.Or(a.Rollback.Source, manifest.DefaultRollbackSource) {
	case "telemetry":
		return rollback.NewTelemetrySource(i.Metrics, nil), nil
	case "prometheus":
		if a.Rollback.Prometheus == nil {
			return nil, fmt.Errorf("%w: apps.%s.rollback.prometheus is not set", ErrSource, a.Name)
		}
		src, err := rollback.NewPromSource(*a.Rollback.Prometheus, rollback.PromOptions{Logger: i.log})
		if err != nil {
			return nil, fmt.Errorf("%w: apps.%s.rollback.prometheus: %w", ErrSource, a.Name, err)
		}
		return src, nil
	case "logs":
		return rollback.NewLogSource(i.logs.derived, nil), nil
	}
	return nil, fmt.Errorf("%w: apps.%s.rollback.source %q: use telemetry, prometheus or logs", ErrSource, a.Name, a.Rollback.Source)
}
