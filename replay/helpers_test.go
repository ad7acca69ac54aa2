package replay

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/migratekit/migrate/compare"
	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/shadow"
)

// hit is one request as a backend saw it.
type hit struct {
	Method, URI, Host, UserAgent, Mark string
}

// backend answers /items/{id} with a JSON price and records every request.
type backend struct {
	*httptest.Server
	mu   sync.Mutex
	hits []hit
}

func newBackend(t *testing.T, price string) *backend {
	t.Helper()
	b := &backend{}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.hits = append(b.hits, hit{r.Method, r.URL.RequestURI(), r.Host, r.UserAgent(), r.Header.Get(Header)})
		b.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id": %q, "price": %s}`, strings.TrimPrefix(r.URL.Path, "/items/"), price)
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *backend) seen() []hit {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]hit(nil), b.hits...)
}

func (b *backend) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.hits)
}

func testApp(oldURL, newURL string) *manifest.App {
	return &manifest.App{
		Name:   "shop",
		Hosts:  []string{"shop.example.com"},
		Old:    manifest.Pool{Backends: []string{oldURL}},
		New:    manifest.Pool{Backends: []string{newURL}},
		Shadow: manifest.Shadow{Routes: []manifest.Route{{Path: "/items/:id"}}},
	}
}

// newEngine is the engine of app's shadow section.
func newEngine(t *testing.T, app *manifest.App) *compare.Engine {
	t.Helper()
	e, err := compare.NewEngine(shadow.CompareConfig(app))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// openStore opens a sample store in a temporary data dir.
func openStore(t *testing.T, app *manifest.App) *compare.Store {
	t.Helper()
	s, err := compare.OpenStore(context.Background(), filepath.Join(t.TempDir(), compare.StoreFile), shadow.StoreOptions([]*manifest.App{app}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// combined is an nginx combined log line.
func combined(method, target string) string {
	return fmt.Sprintf(`203.0.113.7 - - [10/Oct/2025:13:55:36 +0000] "%s %s HTTP/1.1" 200 42 "-" "curl/8.0"`, method, target)
}

// outcomes returns the engine's outcome counts of app, summed over its
// endpoints, without zeros.
func outcomes(e *compare.Engine, app string) map[compare.Outcome]uint64 {
	out := map[compare.Outcome]uint64{}
	for _, ep := range e.Stats(app) {
		for o, n := range ep.Outcomes {
			if n > 0 {
				out[o] += n
			}
		}
	}
	return out
}
