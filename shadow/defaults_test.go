package shadow

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/migratekit/migrate/manifest"
)

// mirrorSettings are the settings a Mirror takes from its app, where a
// setting left at zero gets its default.
type mirrorSettings struct {
	Timeout                  time.Duration
	MaxBody, MaxPending      int64
	Workers, Queue, Sample   int
	Cookie                   string
	Methods                  []string
	Mirrored                 [2]bool // by serving side: shadow.direction
	SendTimeout, SendMaxBody []any   // of each flow's sender
	IdleConns                []any   // of each flow's transport
}

// TestGoManifestDefaults: an app built in Go, with its shadow settings
// left at zero, is mirrored with the settings Load gives the same app
// written in YAML: shadow takes each default from package manifest, which
// declares it once.
func TestGoManifestDefaults(t *testing.T) {
	t.Parallel()
	loaded, err := manifest.Parse("web.yaml", []byte(`apps:
  web:
    old: {backends: [http://127.0.0.1:3000]}
    new: {backends: [http://127.0.0.1:4000]}
    cutover: {sticky: cookie}
`))
	if err != nil {
		t.Fatal(err)
	}
	built := &manifest.App{
		Name:    "web",
		Old:     manifest.Pool{Backends: []string{"http://127.0.0.1:3000"}},
		New:     manifest.Pool{Backends: []string{"http://127.0.0.1:4000"}},
		Cutover: manifest.Cutover{Sticky: "cookie"},
	}
	if diff := cmp.Diff(mirrorSettingsOf(t, loaded.Apps["web"]), mirrorSettingsOf(t, built)); diff != "" {
		t.Errorf("settings (-loaded +built in Go):\n%s", diff)
	}
}

func mirrorSettingsOf(t *testing.T, app *manifest.App) mirrorSettings {
	t.Helper()
	m, err := newMirror(app, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := mirrorSettings{Timeout: m.timeout, MaxBody: m.maxBody, MaxPending: m.maxPending, Workers: m.workers,
		Queue: cap(m.jobs), Sample: m.sample, Cookie: m.cookie, Methods: m.methods.methods}
	for i, f := range m.flows {
		s.Mirrored[i] = f != nil
		if f != nil {
			s.SendTimeout = append(s.SendTimeout, f.to.timeout)
			s.SendMaxBody = append(s.SendMaxBody, f.to.maxBody)
			s.IdleConns = append(s.IdleConns, f.to.transport.MaxIdleConnsPerHost, f.to.transport.IdleConnTimeout)
		}
	}
	return s
}
