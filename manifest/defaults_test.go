package manifest_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/migratekit/migrate/manifest"
)

func ptr[T any](v T) *T { return &v }

func mustLoad(t *testing.T, path string) *manifest.Manifest {
	t.Helper()
	m, err := manifest.Load(path)
	if err != nil {
		t.Fatalf("Load(%q): %v", path, err)
	}
	return m
}

func dur(d time.Duration) manifest.Duration { return manifest.Duration(d) }

// builtinPool is a pool with every built-in default and the given backend.
// builtinLimits are the request limits when none are written.
var builtinLimits = manifest.Limits{HeaderBytes: 16 << 10, ClientBodyTimeout: dur(60 * time.Second)}

func builtinPool(backend string) manifest.Pool {
	return manifest.Pool{
		Backends: []string{backend},
		Balance:  "round_robin",
		Health:   manifest.Health{Interval: dur(5 * time.Second), Timeout: dur(2 * time.Second), Healthy: 2, Unhealthy: 3, Status: "2xx"},
		Passive:  manifest.Passive{MaxFails: 3, Cooldown: dur(10 * time.Second)},
	}
}

// TestMinimalApp checks every effective value of an app that states only
// its backends, under defaults that set two shadow settings.
func TestMinimalApp(t *testing.T) {
	m := mustLoad(t, "testdata/minimal.good.yaml")
	want := &manifest.App{
		Name:     "web",
		Listen:   "127.0.0.1:8080",
		Timeouts: manifest.Timeouts{Connect: dur(5 * time.Second), ResponseHeader: dur(60 * time.Second), Idle: dur(90 * time.Second)},
		Upgrades: []string{"websocket"},
		Old:      builtinPool("http://127.0.0.1:3000"),
		New:      builtinPool("http://127.0.0.1:4000"),
		Cutover:  manifest.Cutover{Weight: ptr(0), Sticky: "ip", Cookie: "migrate_sticky", StepMin: dur(5 * time.Minute)},
		Shadow: manifest.Shadow{
			Sample:    ptr(manifest.Percent(0.1)),
			Methods:   []string{"GET"},
			Timeout:   dur(5 * time.Second),
			MaxBody:   1 << 20,
			Direction: "both",
			Workers:   64,
			Queue:     1024,
			Samples:   5,
			Noise:     manifest.Noise{Relative: ptr(manifest.Percent(0.20)), Absolute: ptr(manifest.Percent(0.0003))},
			Latency:   manifest.LatencyMargin{Relative: ptr(manifest.Percent(0.20)), Absolute: ptr(dur(5 * time.Millisecond))},
		},
		Rollback: builtinRollback(dur(30 * time.Second)),
		DNSCheck: manifest.DNSCheck{Timeout: dur(2 * time.Second), Retries: 2, Rate: 20,
			Interval: dur(5 * time.Second), MaxInterval: dur(5 * time.Minute)},
		Fallback: manifest.Fallback{RetireBelow: ptr(1.0), RetireAfter: dur(time.Hour),
			AccessLog: "/var/log/nginx/web.fallback.access.log"},
	}
	if diff := cmp.Diff(want, m.Apps["web"]); diff != "" {
		t.Errorf("apps.web (-want +got):\n%s", diff)
	}
	wantGlobal := manifest.Global{
		Admin:   manifest.Admin{Listen: "127.0.0.1:9090", TokenEnv: "MIGRATE_ADMIN_TOKEN"},
		Metrics: manifest.Metrics{Prefix: "migrate"},
		State:   manifest.State{Backend: "embedded"},
		Drain:   dur(30 * time.Second),
		Limits:  builtinLimits,
	}
	if diff := cmp.Diff(wantGlobal, m.Global); diff != "" {
		t.Errorf("Global (-want +got):\n%s", diff)
	}
	wantDefaults := manifest.Defaults{App: manifest.App{Shadow: manifest.Shadow{
		Sample: ptr(manifest.Percent(0.1)), Methods: []string{"GET"},
	}}}
	if diff := cmp.Diff(wantDefaults, m.Defaults); diff != "" {
		t.Errorf("Defaults, as written (-want +got):\n%s", diff)
	}
}

// TestEffectiveValues checks how defaults: merges under apps (deep for
// mappings, whole for lists and scalars, null resetting) and how values are
// normalised.
func TestEffectiveValues(t *testing.T) {
	multi := mustLoad(t, "testdata/multi.good.yaml")
	limits := mustLoad(t, "testdata/limits.good.yaml")
	dir := mustLoad(t, "testdata/dir.good")
	design := mustLoad(t, "testdata/design.good.yaml")
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"deep merge keeps the defaults' keys", multi.Apps["shop"].Old.Health,
			manifest.Health{Path: "/healthz", Interval: dur(10 * time.Second), Timeout: dur(time.Second), Healthy: 2, Unhealthy: 3, Status: "2xx"}},
		{"null resets to the built-in default", multi.Apps["api"].Old.Health,
			manifest.Health{Interval: dur(5 * time.Second), Timeout: dur(2 * time.Second), Healthy: 2, Unhealthy: 3, Status: "2xx"}},
		{"a list replaces the defaults' list, uppercased", multi.Apps["shop"].Shadow.Methods, []string{"GET"}},
		{"the defaults' list when the app has none", multi.Apps["api"].Shadow.Methods, []string{"GET", "HEAD", "OPTIONS"}},
		{"sibling keys of a merged mapping", multi.Apps["shop"].Shadow.Timeout, dur(2 * time.Second)},
		{"explicit min_requests 0 is kept", multi.Apps["shop"].Rollback.MinRequests, 0},
		{"rollback merged", multi.Apps["api"].Rollback,
			func() manifest.Rollback {
				r := builtinRollback(dur(time.Minute))
				r.MaxErrorRate = ptr(manifest.Percent(0.05))
				return r
			}()},
		{"shadow in both directions by default", multi.Apps["shop"].Shadow.Direction, "both"},
		{"shadow direction as written", []string{multi.Apps["api"].Shadow.Direction, multi.Apps["rest"].Shadow.Direction}, []string{"reverse", "forward"}},
		{"max_fails -1 disables", multi.Apps["rest"].Old.Passive.MaxFails, -1},
		{"hosts lowercased", multi.Apps["shop"].Hosts, []string{"shop.example.com", "www.shop.example.com:8080"}},
		{"dns types uppercased", multi.Apps["api"].DNS[0].Type, "A"},
		{"cutover", multi.Apps["shop"].Cutover, manifest.Cutover{Weight: ptr(25), Sticky: "cookie", Cookie: "shop_side", StepMin: dur(5 * time.Minute)}},
		{"cors methods default", multi.Apps["api"].CORS.Methods, []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}},
		{"cors max_age default", multi.Apps["api"].CORS.MaxAge, dur(10 * time.Minute)},
		{"tls paths relative to the manifest", *multi.Apps["secure"].TLS,
			manifest.TLS{Cert: filepath.Join("testdata", "tls", "cert.pem"), Key: filepath.Join("testdata", "tls", "key.pem")}},
		{"sink defaults to embedded", design.Apps["bobbarker"].Logs.Sink, &manifest.LogSink{Type: "embedded",
			BatchSize: 1000, BatchBytes: 1 << 20, BatchWait: dur(time.Second), Timeout: dur(10 * time.Second), MaxBackoff: dur(30 * time.Second)}},
		{"log source defaults", *design.Apps["bobbarker"].Logs.Old, manifest.LogSource{
			Paths: []string{"/var/log/nginx/bobbarker.access.log"}, Format: "nginx_combined",
			MaxLine: 256 << 10, FlushTimeout: dur(5 * time.Second), ReadFrom: "beginning"}},
		{"fallback forwards to the new side by default", design.Apps["bobbarker"].FallbackBackends(),
			[]string{"http://10.1.0.5:3000", "http://10.1.0.6:3000"}},
		{"fallback server name from the hosts", design.Apps["bobbarker"].FallbackServerName(), "bobbarker.example.com"},
		{"fallback listens where the app does", design.Apps["bobbarker"].FallbackListen(), "127.0.0.1:8080"},
		{"process-wide settings", multi.Global,
			manifest.Global{
				Admin:   manifest.Admin{Listen: "127.0.0.1:9191", TokenEnv: "MIGRATE_ADMIN_TOKEN"},
				Metrics: manifest.Metrics{Prefix: "migrate"},
				State:   manifest.State{Backend: "redis", URL: "redis://127.0.0.1:6379/0"},
				Drain:   dur(time.Minute),
				Limits:  builtinLimits,
			}},
		{"limits as written", limits.Global.Limits, manifest.Limits{HeaderBytes: 32 << 10, ClientBodyTimeout: dur(10 * time.Second)}},
		{"upgrades as written, lower case", limits.Apps["grpc-web"].Upgrades, []string{"websocket", "h2c"}},
		{"directory: every file's apps", dir.AppNames(), []string{"blog", "shop"}},
		{"directory: files in name order", dir.Files, []string{
			filepath.Join("testdata", "dir.good", "00-defaults.yaml"),
			filepath.Join("testdata", "dir.good", "blog.yml"),
			filepath.Join("testdata", "dir.good", "shop.yaml"),
		}},
		{"directory: defaults from another file", dir.Apps["blog"].Listen, "127.0.0.1:18080"},
		{"directory: defaults merged", dir.Apps["blog"].Shadow.Timeout, dur(3 * time.Second)},
		{"directory: log paths relative to their file", dir.Apps["shop"].Logs.Old.Paths,
			[]string{filepath.Join("testdata", "dir.good", "logs", "shop.log")}},
		{"design example: weight", *design.Apps["bobbarker"].Cutover.Weight, 0},
		{"design example: sample", *design.Apps["bobbarker"].Shadow.Sample, manifest.Percent(1)},
		{"design example: statsd", design.Global.Metrics.Statsd, "127.0.0.1:8125"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestValidateBuiltInGo checks a manifest built in Go rather than loaded:
// its problems carry paths but no positions.
func TestValidateBuiltInGo(t *testing.T) {
	loaded := mustLoad(t, "testdata/minimal.good.yaml")
	app := *loaded.Apps["web"]
	app.New.Backends = nil
	app.Cutover.Weight = ptr(120)
	m := &manifest.Manifest{Global: loaded.Global, Apps: map[string]*manifest.App{"web": &app}}
	err := m.Validate()
	want := "apps.web.cutover.weight: 120 is not between 0 and 100\napps.web.new.backends: at least one backend is required"
	if err == nil || err.Error() != want {
		t.Errorf("Validate() = %v, want %q", err, want)
	}
}

func TestRoutesShorthandAndMapping(t *testing.T) {
	m, err := manifest.Load("testdata/shadow-routes.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got := m.Apps["web"].Shadow.Routes
	want := []manifest.Route{
		{Path: "/users/:id"},
		{Path: "/orders/:id", Methods: []string{"POST", "PUT"}, Ignore: manifest.Ignore{
			JSON: []string{"/meta/etag"}, AnyValue: []string{"/updated_at"}, Sets: []string{"/tags"}, Tolerance: 0.01,
		}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("routes (-want +got):\n%s", diff)
	}
	if n := m.Apps["web"].Shadow.Noise; *n.Relative != 0.25 || *n.Absolute != 0.001 {
		t.Errorf("noise = %v, %v; want 25%%, 0.1%%", *n.Relative, *n.Absolute)
	}
}

// builtinRollback is the rollback section an app gets from the built-in
// defaults, with the given window.
func builtinRollback(window manifest.Duration) manifest.Rollback {
	return manifest.Rollback{
		MinRequests: 50, Window: window, Interval: dur(time.Second),
		Confidence: ptr(manifest.Percent(0.99)), Breaches: 2,
		FastBreaker: manifest.FastBreaker{MinRequests: 20, ErrorRate: ptr(manifest.Percent(0.5)), Window: dur(5 * time.Second)},
		Source:      "telemetry", OnNoData: "hold", To: "zero",
	}
}
