package rollback

import (
	"context"
	"fmt"

	"github.com/migratekit/migrate/manifest"
)

// CheckedPromSource builds app a's Prometheus source and runs each of its
// queries once, so that a rule that cannot be evaluated (bad PromQL, an
// unknown metric, an unreachable server) fails at start; the warnings are
// what may heal (no data yet).
func CheckedPromSource(ctx context.Context, a *manifest.App, opts PromOptions) (*PromSource, []string, error) {
	if a.Rollback.Prometheus == nil {
		return nil, nil, fmt.Errorf("apps.%s.rollback.prometheus is not set", a.Name)
	}
	src, err := NewPromSource(*a.Rollback.Prometheus, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("apps.%s.rollback.prometheus: %w", a.Name, err)
	}
	window := a.Rollback.Window.Or(manifest.DefaultRollbackWindow)
	warnings, err := src.Check(ctx, a.Name, window)
	if err != nil {
		return nil, nil, fmt.Errorf("apps.%s.rollback.prometheus: %w", a.Name, err)
	}
	return src, warnings, nil
}
