package lb

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/migratekit/migrate/manifest"
)

func TestNewErrors(t *testing.T) {
	pool := manifest.Pool{Backends: []string{"http://127.0.0.1:1"}}
	app := func(edit func(a *manifest.App)) *manifest.App {
		a := &manifest.App{Listen: "127.0.0.1:0", Hosts: []string{"a.example.com"}, Old: pool, New: pool}
		if edit != nil {
			edit(a)
		}
		return a
	}
	tests := []struct {
		name    string
		apps    map[string]*manifest.App
		serve   []string
		wantIs  error
		wantMsg string
	}{
		{"unknown app", map[string]*manifest.App{"a": app(nil)}, []string{"b"}, ErrUnknownApp, `"b"`},
		{"no apps", map[string]*manifest.App{}, nil, nil, "no apps"},
		{"bad backend url", map[string]*manifest.App{"a": app(func(a *manifest.App) { a.New.Backends = []string{"10.0.0.1:80"} })}, nil, nil, "10.0.0.1:80"},
		{"no backends", map[string]*manifest.App{"a": app(func(a *manifest.App) { a.Old.Backends = nil })}, nil, nil, "old pool: no backends"},
		{"bad balance", map[string]*manifest.App{"a": app(func(a *manifest.App) { a.Old.Balance = "random" })}, nil, nil, "random"},
		{"bad sticky", map[string]*manifest.App{"a": app(func(a *manifest.App) { a.Cutover.Sticky = "header" })}, nil, nil, "header"},
		{"bad cookie name", map[string]*manifest.App{"a": app(func(a *manifest.App) { a.Cutover = manifest.Cutover{Sticky: "cookie", Cookie: "a b"} })}, nil, nil, "cookie name"},
		{"bad trusted proxy", map[string]*manifest.App{"a": app(func(a *manifest.App) { a.TrustedProxies = []string{"lb.internal"} })}, nil, nil, "lb.internal"},
		{"bad health status", map[string]*manifest.App{"a": app(func(a *manifest.App) { a.New.Health = manifest.Health{Path: "/h", Status: "ok"} })}, nil, nil, "ok"},
		{"bad weight", map[string]*manifest.App{"a": app(func(a *manifest.App) { a.Cutover.Weight = ptr(-5) })}, nil, ErrWeightRange, "-5"},
		{"two catch-alls", map[string]*manifest.App{
			"a": app(func(a *manifest.App) { a.Hosts = nil }),
			"b": app(func(a *manifest.App) { a.Hosts = nil }),
		}, nil, nil, "no hosts"},
		{"host claimed twice", map[string]*manifest.App{
			"a": app(nil),
			"b": app(func(a *manifest.App) { a.Hosts = []string{"A.example.com"} }),
		}, nil, nil, "claimed by apps a and b"},
		{"tls and plain on one address", map[string]*manifest.App{
			"a": app(nil),
			"b": app(func(a *manifest.App) { a.Hosts = []string{"b"}; a.TLS = &manifest.TLS{Cert: "c", Key: "k"} }),
		}, nil, nil, "TLS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(&manifest.Manifest{Apps: tt.apps}, tt.serve, Options{})
			if err == nil {
				t.Fatal("New succeeded, want an error")
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("New = %v, want it to wrap %v", err, tt.wantIs)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("New = %q, want it to mention %q", err, tt.wantMsg)
			}
		})
	}
}

func TestAppsAndAddrs(t *testing.T) {
	t.Parallel()
	bk := newBackend(t, "b")
	pool := manifest.Pool{Backends: []string{bk.URL}}
	m := &manifest.Manifest{Apps: map[string]*manifest.App{
		"zeta":  {Listen: "127.0.0.1:0", Hosts: []string{"z"}, Old: pool, New: pool},
		"alpha": {Listen: "127.0.0.1:0", Hosts: []string{"a"}, Old: pool, New: pool},
		"other": {Listen: "127.0.0.1:0", Hosts: []string{"o"}, Old: pool, New: pool},
	}}
	p, err := New(m, []string{"zeta", "alpha"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range p.Apps() {
		names = append(names, a.Name())
	}
	if diff := cmp.Diff([]string{"alpha", "zeta"}, names); diff != "" {
		t.Errorf("Apps (-want +got):\n%s", diff)
	}
	if p.App("other") != nil {
		t.Errorf("App(other) is served, want nil")
	}
	if p.Handler("127.0.0.1:9") != nil {
		t.Errorf("Handler of an unknown address is not nil")
	}
	if err := p.Listen(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, l := range p.listeners {
			l.ln.Close()
		}
	}()
	addrs := p.Addrs()
	if len(addrs) != 1 || addrs["127.0.0.1:0"] == nil || strings.HasSuffix(addrs["127.0.0.1:0"].String(), ":0") {
		t.Errorf("Addrs = %v, want one bound address for 127.0.0.1:0", addrs)
	}
}

// noMirror is a Mirror that only serves.
type noMirror struct{}

func (noMirror) Serve(w http.ResponseWriter, r *http.Request, _ string, serve http.Handler) {
	serve.ServeHTTP(w, r)
}

// sampler is a mirror that mirrors nothing and says so (Sampler).
type sampler struct{ noMirror }

func (sampler) Leaves(string, []byte) bool { return true }

// TestPathChosen: the loops front a plain listener with an app they can
// serve; the rest is net/http's.
func TestPathChosen(t *testing.T) {
	t.Parallel()
	oldB, newB := newBackend(t, "old"), newBackend(t, "new")
	tests := []struct {
		name string
		app  func() *manifest.App
		opts Options
		loop bool // on event loops (on Linux)
	}{
		{"plain app", func() *manifest.App { return testApp(oldB, newB) }, Options{}, true},
		{"localhost backend", func() *manifest.App {
			a := testApp(oldB, newB)
			a.New.Backends = []string{"http://localhost:1/base"}
			return a
		}, Options{}, true},
		{"mirrored app", func() *manifest.App { return testApp(oldB, newB) }, Options{Mirrors: map[string]Mirror{"web": noMirror{}}}, false},
		{"mirrored app that samples", func() *manifest.App { return testApp(oldB, newB) }, Options{Mirrors: map[string]Mirror{"web": sampler{}}}, true},
		{"wrapped app", func() *manifest.App { return testApp(oldB, newB) },
			Options{Middleware: map[string]func(http.Handler) http.Handler{"web": func(h http.Handler) http.Handler { return h }}}, false},
		{"https backend", func() *manifest.App {
			a := testApp(oldB, newB)
			a.New.Backends = []string{"https://127.0.0.1:1"}
			return a
		}, Options{}, false},
		{"backend by name", func() *manifest.App {
			a := testApp(oldB, newB)
			a.Old.Backends = []string{"http://app.internal:8080"}
			return a
		}, Options{}, true},
		{"TLS listener", func() *manifest.App {
			a := testApp(oldB, newB)
			a.TLS = &manifest.TLS{Cert: "c", Key: "k"}
			return a
		}, Options{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(oneApp(tt.app()), nil, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := p.servedByLoops(p.listeners[0]), tt.loop && loopSupported; got != want {
				t.Errorf("event-loop listener = %v, want %v", got, want)
			}
		})
	}
}
