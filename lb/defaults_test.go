package lb

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/migratekit/migrate/manifest"
)

// lbSettings are the settings a Proxy takes from its manifest, where a
// setting left at zero gets its default.
type lbSettings struct {
	Drain, BodyTimeout      time.Duration
	HeaderLimit             int
	Upgrades                []string
	Cookie                  string
	CORSMethods, CORSMaxAge string
	Sides                   [2]sideSettings
}

type sideSettings struct {
	Cooldown                time.Duration
	MaxFails                int32
	LeastConn               bool
	Idle, ResponseHeader    time.Duration
	Interval, CheckTimeout  time.Duration
	Healthy, Unhealthy      int32
	StatusClass, StatusCode int
}

// TestGoManifestDefaults: a manifest built in Go, with its settings left
// at zero, is served with the settings Load gives the same manifest
// written in YAML: lb takes each default from package manifest, which
// declares it once.
func TestGoManifestDefaults(t *testing.T) {
	t.Parallel()
	loaded, err := manifest.Parse("web.yaml", []byte(`apps:
  web:
    old: {backends: [http://127.0.0.1:3000], health: {path: /h}}
    new: {backends: [http://127.0.0.1:4000], health: {path: /h}}
    cutover: {sticky: cookie}
    cors: {origins: [https://a.example]}
`))
	if err != nil {
		t.Fatal(err)
	}
	built := &manifest.Manifest{Apps: map[string]*manifest.App{"web": {
		Name:    "web",
		Old:     manifest.Pool{Backends: []string{"http://127.0.0.1:3000"}, Health: manifest.Health{Path: "/h"}},
		New:     manifest.Pool{Backends: []string{"http://127.0.0.1:4000"}, Health: manifest.Health{Path: "/h"}},
		Cutover: manifest.Cutover{Sticky: "cookie"},
		CORS:    &manifest.CORS{Origins: []string{"https://a.example"}},
	}}}
	if diff := cmp.Diff(settingsOf(t, loaded), settingsOf(t, built)); diff != "" {
		t.Errorf("settings (-loaded +built in Go):\n%s", diff)
	}
}

func settingsOf(t *testing.T, m *manifest.Manifest) lbSettings {
	t.Helper()
	p, err := New(m, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a := p.App("web")
	s := lbSettings{Drain: p.drain, BodyTimeout: p.limits.bodyTimeout, HeaderLimit: p.limits.headerBytes,
		Upgrades: a.upgrades, Cookie: a.cookie, CORSMethods: a.cors.methods, CORSMaxAge: a.cors.maxAge}
	for i, sd := range a.handler.(*httpApp).sides {
		s.Sides[i] = sideSettings{Cooldown: sd.pool.cooldown, MaxFails: sd.pool.maxFails, LeastConn: sd.pool.leastConn,
			Idle: sd.transport.IdleConnTimeout, ResponseHeader: sd.transport.ResponseHeaderTimeout}
	}
	if len(p.checkers) != 2 {
		t.Fatalf("%d health checkers, want one a side", len(p.checkers))
	}
	for _, c := range p.checkers {
		i := 0
		if c.pool == a.sides[1].pool {
			i = 1
		}
		s.Sides[i].Interval, s.Sides[i].CheckTimeout = c.interval, c.timeout
		s.Sides[i].Healthy, s.Sides[i].Unhealthy = c.healthy, c.unhealthy
		s.Sides[i].StatusClass, s.Sides[i].StatusCode = c.status.class, c.status.code
	}
	return s
}
