package fallback

import (
	"context"

	"github.com/migratekit/migrate/admin"
	"github.com/migratekit/migrate/dashboards"
	"github.com/migratekit/migrate/telemetry"
)

// newDashboard builds the instance's web dashboard (served at /dashboard/
// on the admin listener): the app's status and series as the fallback sees
// them, and the straggler panel from its counter. opts' Source and
// Fallback are set here, and its Logger when nil.
func (i *Instance) newDashboard(opts dashboards.Options) (*dashboards.Dashboard, error) {
	opts.Source = dashboards.Local{Statuses: i.statuses, Gatherer: i.Registry}
	opts.Fallback = panel{f: i.Fallback}
	if opts.Logger == nil {
		opts.Logger = i.log
	}
	return dashboards.New(opts)
}

// statuses is the app's status as the fallback serves it: every request
// goes to the new side, so the old side is empty, without backends (lb's
// old pool is only a stand-in with the same addresses).
func (i *Instance) statuses() []admin.AppStatus {
	st, ok := i.Admin.Status(i.Fallback.app)
	if !ok {
		return nil
	}
	return []admin.AppStatus{newSideOnly(st)}
}

func newSideOnly(st admin.AppStatus) admin.AppStatus {
	st.Sides = map[string]telemetry.SideStats{
		telemetry.SideOld: {},
		telemetry.SideNew: st.Sides[telemetry.SideNew],
	}
	backends := []admin.Backend{}
	for _, b := range st.Backends {
		if b.Side == telemetry.SideNew {
			backends = append(backends, b)
		}
	}
	st.Backends = backends
	return st
}

// panel feeds the dashboard's straggler panel from the fallback's own
// counter (a dashboards.FallbackProvider).
type panel struct{ f *Fallback }

// FallbackStatus implements dashboards.FallbackProvider.
func (p panel) FallbackStatus(ctx context.Context, app string) (dashboards.FallbackStatus, bool) {
	st, ok := p.f.FallbackStatus(app)
	if !ok {
		return dashboards.FallbackStatus{}, false
	}
	return panelOf(st), true
}

// panelOf is the dashboard's view of a fallback status.
func panelOf(st admin.FallbackStatus) dashboards.FallbackStatus {
	return dashboards.FallbackFrom(st)
}
