package dashboards

import (
	"context"

	"github.com/migratekit/migrate/admin"
	"github.com/migratekit/migrate/telemetry"
)

// appSections are what the optional providers said about one app.
type appSections struct {
	dns      *DNSStatus
	fallback *FallbackStatus
	logs     [2]*LogCounts // old, new
}

var sides = [2]string{telemetry.SideOld, telemetry.SideNew}

// sections asks the optional providers about every app. It runs outside
// the dashboard's lock: a provider may take its time.
func (d *Dashboard) sections(ctx context.Context, apps []admin.AppStatus) map[string]appSections {
	out := make(map[string]appSections, len(apps))
	for _, a := range apps {
		var s appSections
		if d.opts.DNS != nil {
			if st, ok := d.opts.DNS.DNSStatus(ctx, a.App); ok {
				s.dns = &st
			}
		}
		if d.opts.Fallback != nil {
			if st, ok := d.opts.Fallback.FallbackStatus(ctx, a.App); ok {
				s.fallback = &st
			}
		}
		if d.opts.Logs != nil {
			for i, side := range sides {
				if c, ok := d.opts.Logs.LogCounts(ctx, a.App, side); ok {
					s.logs[i] = &c
				}
			}
		}
		out[a.App] = s
	}
	return out
}

// apply puts the sections into af; the log error rate is the share of
// error lines among the lines since the previous frame (prev, updated).
// What a provider gives wins over what the series say (point, already in
// af).
func (s appSections) apply(af *AppFrame, prev map[[2]string]LogCounts) {
	if s.dns != nil {
		af.DNS = s.dns
	}
	if s.fallback != nil {
		af.Fallback = s.fallback
	}
	points := [2]*SidePoint{&af.Point.Old, &af.Point.New}
	for i, c := range s.logs {
		if c == nil {
			continue
		}
		key := [2]string{af.App, sides[i]}
		before, seen := prev[key]
		prev[key] = *c
		rate := 0.0
		if lines := delta(float64(c.Lines), float64(before.Lines)); seen && lines > 0 {
			rate = delta(float64(c.Errors), float64(before.Errors)) / lines
		}
		points[i].LogErrorRate = &rate
	}
}
