package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jonboulle/clockwork"

	"github.com/migratekit/migrate/admin"
	"github.com/migratekit/migrate/dashboards"
	"github.com/migratekit/migrate/fallback"
	"github.com/migratekit/migrate/lb"
	"github.com/migratekit/migrate/manifest"
)

// fallbackAPI answers GET /api/v1/apps/shop/fallback with st, as a running
// `migrate fallback` does, and counts the reads on hits.
func fallbackAPI(t *testing.T, st admin.FallbackStatus, hits chan<- struct{}) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/apps/shop/fallback", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(st)
		if hits != nil {
			hits <- struct{}{}
		}
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

// fallbackManifest has the apps shop, blog, docs and wiki with the given
// fallback.admin URLs ("" for none).
func fallbackManifest(admins map[string]string) *manifest.Manifest {
	m := &manifest.Manifest{Apps: map[string]*manifest.App{}}
	for _, app := range []string{"shop", "blog", "docs", "wiki"} {
		m.Apps[app] = &manifest.App{Name: app, Fallback: manifest.Fallback{Admin: admins[app]}}
	}
	return m
}

func TestRemoteFallbacks(t *testing.T) {
	clock := clockwork.NewFakeClockAt(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	below := time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC)
	up := fallbackAPI(t, admin.FallbackStatus{App: "shop", RequestsPerMinute: 2.5, ClientsLastHour: 7,
		BelowSince: &below, RetireBelow: 1, RetireAfterSeconds: 3600}, nil)
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	m := fallbackManifest(map[string]string{
		"shop": up.URL,
		"blog": up.URL, // answers 404: blog has no fallback there
		"docs": down.URL,
	})
	names := []string{"shop", "blog", "docs", "wiki"}
	if got := newRemoteFallbacks(m, names, "", clock, nil); got == nil {
		t.Fatal("newRemoteFallbacks = nil with three apps that set fallback.admin")
	}
	if got := newRemoteFallbacks(fallbackManifest(nil), names, "", clock, nil); got != nil {
		t.Errorf("newRemoteFallbacks = %v with no fallback.admin, want nil", got)
	}
	r := newRemoteFallbacks(m, names, "", clock, nil)
	r.poll(context.Background())
	tests := []struct {
		name    string
		app     string
		advance time.Duration
		want    dashboards.FallbackStatus
		wantOK  bool
	}{
		{name: "answered", app: "shop", want: dashboards.FallbackStatus{Clients: 7, RequestsPerMinute: 2.5, BelowSince: &below, RetireBelow: 1, RetireAfterSeconds: 3600}, wantOK: true},
		{name: "no fallback for the app there", app: "blog"},
		{name: "fallback unreachable", app: "docs"},
		{name: "no fallback.admin", app: "wiki"},
		{name: "still fresh after three polls", app: "shop", advance: 3 * fallbackPollEvery, want: dashboards.FallbackStatus{Clients: 7, RequestsPerMinute: 2.5, BelowSince: &below, RetireBelow: 1, RetireAfterSeconds: 3600}, wantOK: true},
		{name: "stale after more", app: "shop", advance: time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock.Advance(tt.advance)
			got, ok := r.FallbackStatus(context.Background(), tt.app)
			if ok != tt.wantOK {
				t.Fatalf("FallbackStatus(%q) ok = %v, want %v", tt.app, ok, tt.wantOK)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("FallbackStatus(%q) (-got +want):\n%s", tt.app, diff)
			}
		})
	}
}

// TestRemoteFallbacksRun polls at once, then every fallbackPollEvery, and
// stops with its context.
func TestRemoteFallbacksRun(t *testing.T) {
	clock := clockwork.NewFakeClock()
	hits := make(chan struct{}, 1)
	api := fallbackAPI(t, admin.FallbackStatus{App: "shop", RequestsPerMinute: 1}, hits)
	r := newRemoteFallbacks(fallbackManifest(map[string]string{"shop": api.URL}), []string{"shop"}, "", clock, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	<-hits
	if err := clock.BlockUntilContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clock.Advance(fallbackPollEvery)
	<-hits
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

// TestDashboardShowsRemoteFallback runs a real `migrate fallback` instance
// and a serve instance whose fallback.admin points at it: the serve
// dashboard's frames carry the stragglers the fallback counted.
func TestDashboardShowsRemoteFallback(t *testing.T) {
	newSide := backend(t, 200, "new")
	fb := startFallback(t, newSide.URL)
	for range 2 {
		res, err := http.Get("http://" + fb.Fallback.Addr().String() + "/")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	inst, _ := start(t, fmt.Sprintf(`
defaults: {listen: "127.0.0.1:0", admin: {listen: "127.0.0.1:0"}}
apps:
  shop:
    old: {backends: [%s]}
    new: {backends: [%s]}
    fallback: {admin: "http://%s"}
`, backend(t, 200, "old").URL, newSide.URL, fb.AdminAddr()))
	want := &dashboards.FallbackStatus{Clients: 1, RequestsPerMinute: 2, RetireBelow: 1, RetireAfterSeconds: 3600}
	var got *dashboards.FallbackStatus
	// Run polls the fallback as it starts; wait for that reading.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && got == nil; time.Sleep(20 * time.Millisecond) {
		for _, a := range inst.Dashboard.Sample(context.Background()).Apps {
			if a.App == "shop" {
				got = a.Fallback
			}
		}
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("dashboard's fallback section (-got +want):\n%s", diff)
	}
	if h := inst.Dashboard.History(); !h.Sections.Fallback {
		t.Errorf("history sections %+v, want the fallback panel", h.Sections)
	}
}

// startFallback runs `migrate fallback shop` forwarding to newURL, with
// its proxy and admin API on loopback ports.
func startFallback(t *testing.T, newURL string) *fallback.Instance {
	t.Helper()
	m := &manifest.Manifest{
		Global: manifest.Global{Admin: manifest.Admin{Listen: "127.0.0.1:0"}, Drain: manifest.Duration(5 * time.Second)},
		Apps: map[string]*manifest.App{"shop": {
			Name: "shop", Listen: "127.0.0.1:0",
			Old: manifest.Pool{Backends: []string{"http://192.0.2.1:3000"}},
			New: manifest.Pool{Backends: []string{newURL}},
		}},
	}
	inst, err := fallback.NewInstance(fallback.InstanceOptions{Manifest: m, App: "shop", ID: "fb1"})
	if err != nil {
		t.Fatalf("fallback.NewInstance: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- inst.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, lb.ErrDrainDeadline) {
			t.Errorf("fallback Run: %v", err)
		}
	})
	return inst
}
