package shadow

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/migratekit/migrate/compare"
	"github.com/migratekit/migrate/lb"
	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/telemetry"
)

// discardWriter is a minimal server-side ResponseWriter.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }

// BenchmarkMirror sends GETs through the proxy's handler to loopback
// backends, without a mirror and with every request mirrored to the new
// side and judged by the real compare engine. The served path is what is
// timed; mirrors the pool cannot take are dropped (dropped/op), never
// waited for. Sequential: one request at a time, the mirror working on the
// spare core (the served latency). Parallel: every core busy, so the
// mirror's work (a second backend request in this same process, and the
// diff) competes with the served path for CPU (the throughput).
func BenchmarkMirror(b *testing.B) {
	answer := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":1,"name":"bob","items":[{"sku":"x","price":10}]}`)
	}
	oldB, newB := httptest.NewServer(http.HandlerFunc(answer)), httptest.NewServer(http.HandlerFunc(answer))
	defer oldB.Close()
	defer newB.Close()
	for _, bc := range []struct {
		name     string
		mirrored bool
		parallel bool
	}{
		{"sequential/without", false, false},
		{"sequential/mirror-100%", true, false},
		{"parallel/without", false, true},
		{"parallel/mirror-100%", true, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			app := &manifest.App{
				Name: "web", Listen: "127.0.0.1:0", Hosts: []string{"app.example.com"},
				Old: manifest.Pool{Backends: []string{oldB.URL}},
				New: manifest.Pool{Backends: []string{newB.URL}},
			}
			h, m, stop := benchProxy(b, app, bc.mirrored)
			defer stop()
			b.ReportAllocs()
			b.ResetTimer()
			if bc.parallel {
				b.RunParallel(func(pb *testing.PB) { serveLoop(b, h, pb.Next) })
			} else {
				serveLoop(b, h, func() bool { return b.Loop() })
			}
			b.StopTimer()
			if m != nil {
				b.ReportMetric(float64(m.Stats().Dropped)/float64(b.N), "dropped/op")
			}
		})
	}
}

// serveLoop sends GETs to h while next says so.
func serveLoop(b *testing.B, h http.Handler, next func() bool) {
	req := httptest.NewRequest(http.MethodGet, "http://app.example.com/users/1", nil)
	req.RemoteAddr = "192.0.2.1:1234"
	w := &discardWriter{h: http.Header{}}
	for next() {
		clear(w.h)
		h.ServeHTTP(w, req)
		if w.code != http.StatusOK {
			b.Fatalf("status %d", w.code)
		}
	}
}

// benchProxy builds the proxy (and its mirror) of app and runs them until
// stop; requests go straight to the listener's handler.
func benchProxy(b *testing.B, app *manifest.App, mirrored bool) (http.Handler, *Mirror, func()) {
	metrics, err := telemetry.New(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	opts := lb.Options{Metrics: metrics}
	var m *Mirror
	if mirrored {
		engine, err := compare.NewEngine(compare.Config{})
		if err != nil {
			b.Fatal(err)
		}
		if m, err = New(app, Options{Metrics: metrics, Comparer: engine}); err != nil {
			b.Fatal(err)
		}
		opts.Mirrors = map[string]lb.Mirror{"web": m}
	}
	p, err := lb.New(&manifest.Manifest{Apps: map[string]*manifest.App{"web": app}}, nil, opts)
	if err != nil {
		b.Fatal(err)
	}
	if err := p.Listen(); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served, ran := make(chan error, 1), make(chan error, 1)
	go func() { served <- p.Serve(ctx) }() // closes idle connections when done
	if m != nil {
		go func() { ran <- m.Run(ctx) }()
	} else {
		ran <- nil
	}
	return p.Handler(app.Listen), m, func() {
		cancel()
		<-ran
		<-served
	}
}
