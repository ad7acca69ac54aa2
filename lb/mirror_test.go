package lb

import (
	"net/http"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jonboulle/clockwork"

	"github.com/migratekit/migrate/manifest"
)

// sideMirror records the side of every request it sees and wraps the
// writer, as a real mirror does.
type sideMirror struct {
	mu    sync.Mutex
	sides []string
}

func (m *sideMirror) Serve(w http.ResponseWriter, r *http.Request, side string, serve http.Handler) {
	m.mu.Lock()
	m.sides = append(m.sides, side)
	m.mu.Unlock()
	serve.ServeHTTP(&wrapped{ResponseWriter: w}, r)
}

func (m *sideMirror) seen() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.sides...)
}

type wrapped struct{ http.ResponseWriter }

func (w *wrapped) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// TestMirrorHook checks that a mirror's Serve wraps every request with the
// side that serves it. One path: a mirror that does not sample
// (Sampler) keeps its app on net/http (TestPathChosen).
func TestMirrorHook(t *testing.T) {
	t.Parallel()
	down := func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("old"))
	}
	tests := []struct {
		name     string
		weight   int
		oldDown  bool
		mirrored bool // the app has a mirror
		wantBody string
		wantSide []string
	}{
		{"weight 0: old", 0, false, true, "old", []string{"old"}},
		{"weight 100: new", 100, false, true, "new", []string{"new"}},
		{"old down, failover: the side that serves", 0, true, true, "new", []string{"new"}},
		{"no mirror: served as usual", 0, false, false, "old", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			oldB := newBackend(t, "old")
			if tt.oldDown {
				oldB = newBackendFunc(t, "old", down)
			}
			app := testApp(oldB, newBackend(t, "new"))
			app.Cutover.Weight = ptr(tt.weight)
			app.Failover = ptr(true)
			app.Old.Health = manifest.Health{Path: "/healthz", Unhealthy: 1}
			mirror := &sideMirror{}
			opts := Options{Clock: clockwork.NewFakeClock(), Mirrors: map[string]Mirror{"other-app": &sideMirror{}}}
			if tt.mirrored {
				opts.Mirrors["web"] = mirror
			}
			metrics, reg := newMetrics(t)
			opts.Metrics = metrics
			r := start(t, pathNetHTTP, oneApp(app), opts)
			tick(t, opts.Clock.(*clockwork.FakeClock), 0, 1)

			code, _, body := r.do(t, http.MethodGet, "/", "", nil)
			if code != http.StatusOK || body != tt.wantBody {
				t.Errorf("got %d %q, want 200 %q", code, body, tt.wantBody)
			}
			if diff := cmp.Diff(mirror.seen(), tt.wantSide); diff != "" {
				t.Errorf("sides seen by the mirror (-got +want):\n%s", diff)
			}
			served := map[string]string{"app": "web", "side": tt.wantBody, "code_class": "2xx"}
			if got := metricValue(t, reg, "migrate_proxy_requests_total", served); got != 1 {
				t.Errorf("requests%v = %v, want 1", served, got)
			}
		})
	}
}
