package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/rollback"
)

// checkSources runs every query of the apps whose rollback source is
// prometheus once and writes what it finds to w: what cannot work, the
// warnings (no data yet), or that the source answers. It fails with exit
// code 1 when a source cannot be used.
func checkSources(ctx context.Context, m *manifest.Manifest, w io.Writer) error {
	var failed []string
	for _, name := range m.AppNames() {
		a := m.Apps[name]
		if a.Rollback.Source != "prometheus" || a.Rollback.Prometheus == nil {
			continue
		}
		_, warnings, err := rollback.CheckedPromSource(ctx, a, rollback.PromOptions{})
		for _, warning := range warnings {
			fmt.Fprintf(w, "apps.%s.rollback.prometheus: warning: %s\n", name, warning)
		}
		if err != nil {
			fmt.Fprintf(w, "%v\n", err)
			failed = append(failed, name)
			continue
		}
		fmt.Fprintf(w, "apps.%s.rollback.prometheus: %s answers every query\n", name, a.Rollback.Prometheus.URL)
	}
	if len(failed) > 0 {
		return checkFailed(fmt.Errorf("the rollback source of %s cannot be used (see above)", strings.Join(failed, ", ")))
	}
	return nil
}
