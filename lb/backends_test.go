package lb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/telemetry"
)

// backendOf is the status of the backend at url, and whether it is there.
func backendOf(a *App, url string) (BackendStatus, bool) {
	for _, st := range a.Backends() {
		if st.URL == url {
			return st, true
		}
	}
	return BackendStatus{}, false
}

// hitsDuring sends n requests and counts those each backend answered.
func hitsDuring(t *testing.T, r *running, n int) map[string]int {
	t.Helper()
	out := make(map[string]int)
	for range n {
		status, h, _ := r.do(t, http.MethodGet, "/", "", nil)
		if status != http.StatusOK {
			t.Fatalf("status %d during the change, want 200", status)
		}
		out[h.Get("X-Backend")]++
	}
	return out
}

// An added backend gets requests only after its first passing health
// check; until then the pool's others serve.
func TestAddBackendAfterFirstCheck(t *testing.T) {
	forEachPath(t, func(t *testing.T, path dataPath) {
		var ready atomic.Bool
		a1 := newBackend(t, "a1")
		a2 := newBackendFunc(t, "a2", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/health" && !ready.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			fmt.Fprint(w, "a2")
		})
		app := testApp(a1, a1)
		app.Old.Health = manifest.Health{Path: "/health", Interval: manifest.Duration(20 * time.Millisecond)}
		app.Old.Backends = []string{a1.URL}
		app.Cutover.Weight = ptr(0)
		r := start(t, path, oneApp(app), Options{})
		a := r.p.App("web")
		if err := a.AddBackend(t.Context(), telemetry.SideOld, a2.URL); err != nil {
			t.Fatal(err)
		}
		if st, ok := backendOf(a, a2.URL); !ok || !st.Pending || st.Healthy {
			t.Fatalf("added backend %+v (listed %v), want pending and out of rotation", st, ok)
		}
		eventually(t, "a health check of the added backend", func() bool { return a2.hits.Load() > 0 })
		if got := hitsDuring(t, r, 20); got["a2"] != 0 {
			t.Errorf("the pending backend served %d requests before its check passed", got["a2"])
		}
		ready.Store(true)
		eventually(t, "the added backend in rotation", func() bool {
			st, _ := backendOf(a, a2.URL)
			return st.Healthy && !st.Pending
		})
		if got := hitsDuring(t, r, 20); got["a2"] == 0 || got["a1"] == 0 {
			t.Errorf("after its check passed: hits %v, want both backends", got)
		}
	})
}

// Without an active check, an added backend is admitted once a TCP
// connection to it succeeds.
func TestAddBackendFirstConnect(t *testing.T) {
	forEachPath(t, func(t *testing.T, path dataPath) {
		a1 := newBackend(t, "a1")
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close() // nothing listens there yet
		app := testApp(a1, a1)
		app.Cutover.Weight = ptr(0)
		r := start(t, path, oneApp(app), Options{})
		a := r.p.App("web")
		url := "http://" + addr
		if err := a.AddBackend(t.Context(), telemetry.SideOld, url); err != nil {
			t.Fatal(err)
		}
		if got := hitsDuring(t, r, 10); got["a1"] != 10 {
			t.Errorf("with the added backend down: hits %v, want all on a1", got)
		}
		ln, err = net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("listening again on %s: %v", addr, err)
		}
		late := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Backend", "late")
			fmt.Fprint(w, "late")
		})}}
		late.Start()
		t.Cleanup(late.Close)
		eventually(t, "the added backend in rotation after it listens", func() bool {
			st, _ := backendOf(a, url)
			return st.Healthy
		})
		if got := hitsDuring(t, r, 20); got["late"] == 0 {
			t.Errorf("after it listened: hits %v, want some on the added backend", got)
		}
	})
}

// A drained backend gets no new request; the drain waits for the one in
// flight and says so; then it can be removed, and its series go.
func TestDrainWaitsThenRemove(t *testing.T) {
	forEachPath(t, func(t *testing.T, path dataPath) {
		release := make(chan struct{})
		var slowOnce sync.Once
		started := make(chan struct{})
		a1 := newBackendFunc(t, "a1", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				slowOnce.Do(func() { close(started) })
				<-release
			}
			fmt.Fprint(w, "a1")
		})
		a2 := newBackend(t, "a2")
		app := testApp(a1, newBackend(t, "new"))
		app.Old.Backends = []string{a1.URL, a2.URL}
		app.Cutover.Weight = ptr(0)
		metrics, reg := newMetrics(t)
		r := start(t, path, oneApp(app), Options{Metrics: metrics})
		a := r.p.App("web")
		// One slow request on a1 in flight.
		slow := make(chan error, 1)
		go func() {
			for {
				status, h, _ := r.do(t, http.MethodGet, "/slow", "", nil)
				if status != http.StatusOK {
					slow <- fmt.Errorf("slow request: %d", status)
					return
				}
				if h.Get("X-Backend") == "a1" {
					slow <- nil
					return
				}
			}
		}()
		<-started
		if err := a.RemoveBackend(a1.URL); !errors.Is(err, ErrNotDrained) {
			t.Errorf("removing a backend in rotation: %v, want ErrNotDrained", err)
		}
		drained := make(chan error, 1)
		var waited int64
		go func() {
			var err error
			waited, err = a.DrainBackend(t.Context(), a1.URL)
			drained <- err
		}()
		eventually(t, "a1 draining", func() bool { st, _ := backendOf(a, a1.URL); return st.Draining })
		if got := hitsDuring(t, r, 20); got["a1"] != 0 {
			t.Errorf("while draining: hits %v, want none on a1", got)
		}
		select {
		case err := <-drained:
			t.Fatalf("drain returned (%v) with a request in flight", err)
		case <-time.After(50 * time.Millisecond):
		}
		close(release)
		if err := <-slow; err != nil {
			t.Fatal(err)
		}
		if err := <-drained; err != nil {
			t.Fatalf("drain: %v", err)
		}
		if waited != 1 {
			t.Errorf("drain waited for %d requests, want 1", waited)
		}
		if err := a.RemoveBackend(a1.URL); err != nil {
			t.Fatalf("removing the drained backend: %v", err)
		}
		if _, ok := backendOf(a, a1.URL); ok {
			t.Error("the removed backend is still listed")
		}
		if n := countSeries(t, reg, "migrate_backend_up", a1.URL); n != 0 {
			t.Errorf("%d migrate_backend_up series for the removed backend, want none", n)
		}
		if got := hitsDuring(t, r, 10); got["a2"] != 10 {
			t.Errorf("after removal: hits %v, want all on a2", got)
		}
	})
}

// countSeries counts the series of metric name whose backend label is
// backend.
func countSeries(t *testing.T, reg *prometheus.Registry, name, backend string) int {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "backend" && l.GetValue() == backend {
					n++
				}
			}
		}
	}
	return n
}

// The changes that would leave a pool without a backend, or that name
// no backend, side or a duplicate, are refused with their error.
func TestBackendChangeRefusals(t *testing.T) {
	t.Parallel()
	a1 := newBackend(t, "a1")
	app := testApp(a1, a1)
	r := start(t, pathNetHTTP, oneApp(app), Options{})
	a := r.p.App("web")
	ctx := t.Context()
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"drain the last backend", second(a.DrainBackend(ctx, a1.URL)), ErrLastBackend},
		{"add a backend twice", a.AddBackend(ctx, telemetry.SideOld, a1.URL+"/"), ErrBackendExists},
		{"add to no side", a.AddBackend(ctx, "blue", "http://127.0.0.1:1"), ErrUnknownSide},
		{"drain an unknown backend", second(a.DrainBackend(ctx, "http://127.0.0.1:1")), ErrUnknownBackend},
		{"remove an unknown backend", a.RemoveBackend("http://127.0.0.1:1"), ErrUnknownBackend},
		{"remove a backend in rotation", a.RemoveBackend(a1.URL), ErrNotDrained},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, tt.err, tt.want)
		}
	}
	if err := a.AddBackend(ctx, telemetry.SideOld, "https://127.0.0.1:1"); err == nil {
		t.Error("adding an https backend to an http pool: no error")
	}
	if err := a.AddBackend(ctx, telemetry.SideOld, "ftp://x"); err == nil {
		t.Error("adding an ftp:// backend: no error")
	}
}

func second[T any](_ T, err error) error { return err }

// A rolling replacement under steady load, on both paths: every request
// is answered 200 while a backend is added, the old one drained and
// removed.
func TestReplaceBackendUnderLoad(t *testing.T) {
	forEachPath(t, func(t *testing.T, path dataPath) {
		old := newBackend(t, "old")
		next := newBackend(t, "next")
		app := testApp(old, old)
		app.Old.Health = manifest.Health{Path: "/", Interval: manifest.Duration(20 * time.Millisecond)}
		app.Cutover.Weight = ptr(0)
		r := start(t, path, oneApp(app), Options{})
		a := r.p.App("web")
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		var failed, served atomic.Int64
		for range 4 {
			wg.Go(func() {
				for ctx.Err() == nil {
					res, err := r.client.Get(r.base + "/")
					if err != nil {
						failed.Add(1)
						continue
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != http.StatusOK {
						failed.Add(1)
					}
					served.Add(1)
				}
			})
		}
		if err := a.AddBackend(ctx, telemetry.SideOld, next.URL); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the new backend in rotation", func() bool { st, _ := backendOf(a, next.URL); return st.Healthy })
		dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
		defer dcancel()
		if _, err := a.DrainBackend(dctx, old.URL); err != nil {
			t.Fatal(err)
		}
		if err := a.RemoveBackend(old.URL); err != nil {
			t.Fatal(err)
		}
		eventually(t, "requests served by the new backend", func() bool { return next.hits.Load() > 10 })
		cancel()
		wg.Wait()
		if failed.Load() != 0 {
			t.Errorf("%d of %d requests failed during the replacement", failed.Load(), served.Load())
		}
	})
}
