package fallback

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/migratekit/migrate/manifest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenManifests are the apps rendered into testdata/nginx/*.conf.
func goldenManifests() map[string]*manifest.Manifest {
	ptr := func(f float64) *float64 { return &f }
	return map[string]*manifest.Manifest{
		"plain": {Apps: map[string]*manifest.App{"shop": {
			Name:   "shop",
			Listen: "127.0.0.1:8080",
			Hosts:  []string{"shop.example.com", "www.shop.example.com"},
			New:    manifest.Pool{Backends: []string{"http://10.1.0.5:3000"}},
		}}},
		"https-upstream": {Apps: map[string]*manifest.App{"bob-barker": {
			Name:           "bob-barker",
			Listen:         "127.0.0.1:8080",
			Hosts:          []string{"bobbarker.example.com:443"},
			TrustedProxies: []string{"10.0.0.0/8"},
			Timeouts:       manifest.Timeouts{Connect: manifest.Duration(1500e6)},
			New:            manifest.Pool{Backends: []string{"http://10.1.0.5:3000"}},
			Fallback: manifest.Fallback{
				Listen:      ":443",
				TLS:         &manifest.TLS{Cert: "/etc/migrate/bobbarker.pem", Key: "/etc/migrate/bobbarker.key"},
				Backends:    []string{"https://10.1.0.5", "https://10.1.0.6:8443"},
				CA:          "/etc/migrate/new-stack-ca.pem",
				RetireBelow: ptr(2),
				AccessLog:   "/var/log/nginx/bobbarker fallback.log",
			},
		}}},
	}
}

func TestRenderNginxGolden(t *testing.T) {
	for name, m := range goldenManifests() {
		t.Run(name, func(t *testing.T) {
			var app string
			for app = range m.Apps {
			}
			var buf bytes.Buffer
			if err := RenderNginx(&buf, m, app, "fb1"); err != nil {
				t.Fatalf("RenderNginx: %v", err)
			}
			path := filepath.Join("testdata", "nginx", name+".conf")
			if *update {
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("reading golden file (run with -update to create it): %v", err)
			}
			if diff := cmp.Diff(buf.String(), string(want)); diff != "" {
				t.Errorf("%s (-got +want):\n%s", path, diff)
			}
		})
	}
}

func TestRenderNginxErrors(t *testing.T) {
	base := func(edit func(a *manifest.App)) *manifest.Manifest {
		a := &manifest.App{Name: "shop", Listen: "127.0.0.1:8080", Hosts: []string{"shop.test"},
			New: manifest.Pool{Backends: []string{"http://10.1.0.5:3000"}}}
		edit(a)
		return &manifest.Manifest{Apps: map[string]*manifest.App{"shop": a}}
	}
	tests := []struct {
		name string
		m    *manifest.Manifest
		app  string
		id   string
		want []string // every one in the error
	}{
		{name: "unknown app", m: base(func(*manifest.App) {}), app: "blog", want: []string{`"blog"`, "not in the manifest"}},
		{name: "id with a space", m: base(func(*manifest.App) {}), id: "a b", want: []string{`loop guard id "a b"`}},
		{name: "backend with a query", m: base(func(a *manifest.App) { a.Fallback.Backends = []string{"http://10.1.0.5/?x=1"} }),
			want: []string{"fallback.backends[0]", "query"}},
		{name: "mixed schemes", m: base(func(a *manifest.App) { a.Fallback.Backends = []string{"http://10.1.0.5", "https://10.1.0.6"} }),
			want: []string{"fallback.backends[1]", "scheme and path of the first"}},
		{name: "no backend", m: base(func(a *manifest.App) { a.New.Backends = nil }), want: []string{"fallback.backends: no backend"}},
		{name: "access log with a variable", m: base(func(a *manifest.App) { a.Fallback.AccessLog = "/var/log/$host.log" }),
			want: []string{"fallback.access_log", `'$'`}},
		{name: "listen without a port", m: base(func(a *manifest.App) { a.Fallback.Listen = "127.0.0.1" }), want: []string{`fallback.listen "127.0.0.1"`}},
		{name: "host nginx cannot match", m: base(func(a *manifest.App) { a.Hosts = []string{"shop.test;"} }), want: []string{`hosts[0] "shop.test;"`}},
		{name: "every problem at once", m: base(func(a *manifest.App) {
			a.Hosts = []string{"a b"}
			a.Fallback.Listen = "nowhere"
			a.Fallback.CA = `/etc/"ca".pem`
			a.Fallback.Backends = []string{"https://10.1.0.5"}
		}), want: []string{"hosts[0]", "fallback.listen", "fallback.ca"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := tt.app
			if app == "" {
				app = "shop"
			}
			id := tt.id
			if id == "" {
				id = "fb1"
			}
			var buf bytes.Buffer
			err := RenderNginx(&buf, tt.m, app, id)
			if err == nil {
				t.Fatalf("RenderNginx succeeded, want an error with %q:\n%s", tt.want, buf.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if tt.name == "unknown app" && !errors.Is(err, ErrUnknownApp) {
				t.Errorf("error %v is not ErrUnknownApp", err)
			}
		})
	}
}
