package shadow

import (
	"slices"

	"github.com/migratekit/migrate/compare"
	"github.com/migratekit/migrate/manifest"
)

// CompareConfig turns an app's shadow section into the compare engine's
// configuration: its ignore rules, its routes and their rules, its noise
// thresholds and its latency margin. Live mirroring and replay judge an app's pairs alike.
func CompareConfig(a *manifest.App) compare.Config {
	s := a.Shadow
	cfg := compare.Config{Rules: rules(s.Ignore)}
	for _, r := range s.Routes {
		cfg.Routes = append(cfg.Routes, compare.Route{Pattern: r.Path, Rules: rules(r.Ignore)})
	}
	if s.Noise.Relative != nil {
		cfg.NoiseRelative = float64(*s.Noise.Relative)
	}
	if s.Noise.Absolute != nil {
		cfg.NoiseAbsolute = float64(*s.Noise.Absolute)
	}
	if l := s.Latency; l.Relative != nil {
		cfg.LatencyRelative = new(float64(*l.Relative))
	}
	if l := s.Latency; l.Absolute != nil {
		cfg.LatencyAbsolute = new(l.Absolute.D())
	}
	return cfg
}

func rules(ig manifest.Ignore) compare.Rules {
	return compare.Rules{
		IgnoreHeaders: ig.Headers,
		Ignore:        ig.JSON,
		Any:           ig.AnyValue,
		Sets:          ig.Sets,
		Tolerance:     compare.Tolerance{Absolute: ig.Tolerance},
	}
}

// StoreOptions merges the apps' sample settings for the one sample store
// that serves them all: it redacts what any of them asks and keeps the
// largest sample count.
func StoreOptions(apps []*manifest.App) compare.StoreOptions {
	var o compare.StoreOptions
	for _, a := range apps {
		o.PerField = max(o.PerField, a.Shadow.Samples)
		o.RedactHeaders = append(o.RedactHeaders, a.Shadow.Redact.Headers...)
		o.RedactJSON = append(o.RedactJSON, a.Shadow.Redact.JSON...)
	}
	slices.Sort(o.RedactHeaders)
	slices.Sort(o.RedactJSON)
	o.RedactHeaders, o.RedactJSON = slices.Compact(o.RedactHeaders), slices.Compact(o.RedactJSON)
	return o
}
