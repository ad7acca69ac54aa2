package rollback

import (
	"fmt"
	"time"

	"github.com/migratekit/migrate/manifest"
)

// RulesFrom reads an app's `rollback:` section. Settings the loader did
// not default (an App built in Go) get the defaults of Rules, except
// min_requests, whose 0 is kept. The error names the setting that cannot
// be read.
func RulesFrom(a *manifest.App) (Rules, error) {
	rb := &a.Rollback
	r := Rules{
		MaxErrorRate:         percent(rb.MaxErrorRate),
		MaxErrorRateIncrease: percent(rb.MaxErrorRateIncrease),
		MaxDiffRate:          percent(rb.MaxDiffRate),
		Count4xx:             manifest.Bool(rb.Count4xx, false),
		MinRequests:          rb.MinRequests,
		Window:               rb.Window.D(),
		Interval:             rb.Interval.D(),
		Breaches:             rb.Breaches,
		FastBreaker: FastBreaker{
			MinRequests: rb.FastBreaker.MinRequests,
			Window:      rb.FastBreaker.Window.D(),
			Disabled:    manifest.Bool(rb.FastBreaker.Disabled, false),
		},
		OnNoData: rb.OnNoData,
		DryRun:   manifest.Bool(rb.DryRun, false),
	}
	if rb.Confidence != nil {
		r.Confidence = float64(*rb.Confidence)
	}
	if rb.FastBreaker.ErrorRate != nil {
		r.FastBreaker.ErrorRate = float64(*rb.FastBreaker.ErrorRate)
	}
	if rb.MaxP99Increase != "" {
		l, err := ParseLatencyLimit(rb.MaxP99Increase)
		if err != nil {
			return Rules{}, fmt.Errorf("reading rollback.max_p99_increase of app %s: %w", a.Name, err)
		}
		r.MaxP99Increase = &l
	}
	switch r.OnNoData {
	case "", OnNoDataHold, OnNoDataRollback:
	default:
		return Rules{}, fmt.Errorf("reading rollback.on_no_data of app %s: %q is neither hold nor rollback", a.Name, r.OnNoData)
	}
	return r.withDefaults(), nil
}

// ParseLatencyLimit reads a max_p99_increase: a ratio ("50%", "0.5") or a
// positive duration ("200ms").
func ParseLatencyLimit(s string) (LatencyLimit, error) {
	if f, err := manifest.ParsePercentOrRatio(s); err == nil {
		return LatencyLimit{Ratio: f}, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return LatencyLimit{Delta: d}, nil
	}
	return LatencyLimit{}, fmt.Errorf("%q is neither a ratio (50%%) nor a duration (200ms)", s)
}

func percent(p *manifest.Percent) *float64 {
	if p == nil {
		return nil
	}
	return new(float64(*p))
}
