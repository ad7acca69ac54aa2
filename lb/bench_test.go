package lb

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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

// cannedTransport answers every request in memory, to measure the proxy
// alone.
type cannedTransport struct{}

func (cannedTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode:    http.StatusOK,
		Header:        http.Header{"Content-Type": {"text/plain"}},
		Body:          io.NopCloser(strings.NewReader("ok")),
		ContentLength: 2,
	}, nil
}

// BenchmarkProxy sends parallel GETs through a listener's handler: to an
// httptest backend over loopback (allocations include the backend's and
// the transport's), and to an in-memory backend (the proxy's own).
func BenchmarkProxy(b *testing.B) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok")
	}))
	defer backend.Close()
	for _, bc := range []struct {
		name     string
		inMemory bool
	}{{"loopback", false}, {"in-memory", true}} {
		b.Run(bc.name, func(b *testing.B) {
			pool := manifest.Pool{Backends: []string{backend.URL, backend.URL + "/"}}
			m := oneApp(&manifest.App{
				Listen: "127.0.0.1:0", Hosts: []string{"app.example.com"},
				Old: pool, New: pool,
				Cutover: manifest.Cutover{Weight: ptr(50)},
			})
			metrics, err := telemetry.New(nil)
			if err != nil {
				b.Fatal(err)
			}
			p, err := New(m, nil, Options{Metrics: metrics})
			if err != nil {
				b.Fatal(err)
			}
			defer p.closeIdle()
			if bc.inMemory {
				for _, s := range p.App("web").handler.(*httpApp).sides {
					s.base = cannedTransport{}
				}
			}
			h := p.Handler("127.0.0.1:0")
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				req := httptest.NewRequestWithContext(ctx, http.MethodGet, "http://app.example.com/items/1", nil)
				req.RemoteAddr = "192.0.2.1:1234"
				w := &discardWriter{h: http.Header{}}
				for pb.Next() {
					clear(w.h)
					h.ServeHTTP(w, req)
					if w.code != http.StatusOK {
						b.Fatalf("status %d", w.code)
					}
				}
			})
		})
	}
}
