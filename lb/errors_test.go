package lb

import (
	"net/http"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/migratekit/migrate/manifest"
)

func TestFailover(t *testing.T) { forEachPath(t, testFailover) }

func testFailover(t *testing.T, path dataPath) {
	down := func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	tests := []struct {
		name        string
		failover    bool
		newDown     bool
		wantCode    int
		wantSide    string
		wantBody    string
		wantMetric  string
		wantReasons int
	}{
		{"failover on: new serves old's clients", true, false, http.StatusOK, "new", "new", "migrate_proxy_failovers_total", 0},
		{"failover off: honest 502", false, false, http.StatusBadGateway, "old", "old backend unavailable\n", "migrate_proxy_errors_total", 1},
		{"failover on, both down: 502", true, true, http.StatusBadGateway, "old", "old backend unavailable\n", "migrate_proxy_errors_total", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			oldB := newBackendFunc(t, "old", down)
			newB := newBackend(t, "new")
			if tt.newDown {
				newB = newBackendFunc(t, "new", down)
			}
			check := manifest.Health{Path: "/healthz", Unhealthy: 1}
			app := testApp(oldB, newB)
			app.Old.Health, app.New.Health = check, check
			app.Failover = ptr(tt.failover)
			app.DebugHeaders = ptr(true)
			fc := clockwork.NewFakeClock()
			metrics, reg := newMetrics(t)
			r := start(t, path, oneApp(app), Options{Clock: fc, Metrics: metrics})
			tick(t, fc, 0, 2) // first probes: old is out (unhealthy: 1)

			code, h, body := r.do(t, http.MethodGet, "/", "", nil)
			if code != tt.wantCode || body != tt.wantBody || h.Get("X-Migrate-Side") != tt.wantSide {
				t.Errorf("got %d %q from side %q, want %d %q from %q", code, body, h.Get("X-Migrate-Side"), tt.wantCode, tt.wantBody, tt.wantSide)
			}
			labels := map[string]string{"app": "web", "side": "old"}
			if tt.wantMetric == "migrate_proxy_errors_total" {
				labels["reason"] = "unavailable"
			}
			if got := metricValue(t, reg, tt.wantMetric, labels); got != 1 {
				t.Errorf("%s%v = %v, want 1", tt.wantMetric, labels, got)
			}
			served := map[string]string{"app": "web", "side": tt.wantSide, "code_class": map[bool]string{true: "2xx", false: "5xx"}[code == 200]}
			if got := metricValue(t, reg, "migrate_proxy_requests_total", served); got != 1 {
				t.Errorf("requests%v = %v, want 1", served, got)
			}
		})
	}
}

func TestBackendTimeout(t *testing.T) { forEachPath(t, testBackendTimeout) }

func testBackendTimeout(t *testing.T, path dataPath) {
	release := make(chan struct{})
	slow := newBackendFunc(t, "slow", func(w http.ResponseWriter, r *http.Request) { <-release })
	t.Cleanup(func() { close(release) }) // runs before the backend closes
	other := newBackend(t, "other")
	app := &manifest.App{
		Listen:   "127.0.0.1:0",
		Old:      manifest.Pool{Backends: []string{slow.URL, other.URL}},
		New:      manifest.Pool{Backends: []string{other.URL}},
		Timeouts: manifest.Timeouts{ResponseHeader: manifest.Duration(50 * time.Millisecond)},
	}
	metrics, reg := newMetrics(t)
	r := start(t, path, oneApp(app), Options{Metrics: metrics})
	// Round robin starts at the second backend; make it start at slow.
	r.p.App("web").sides[sideOld].pool.next.Store(1)

	code, _, body := r.do(t, http.MethodGet, "/", "", nil)
	if code != http.StatusGatewayTimeout || body != "gateway timeout\n" {
		t.Errorf("got %d %q, want 504 \"gateway timeout\\n\"", code, body)
	}
	if got := other.hits.Load(); got != 0 {
		t.Errorf("a timed-out request was retried: other saw %d requests", got)
	}
	if got := metricValue(t, reg, "migrate_proxy_errors_total", map[string]string{"app": "web", "side": "old", "reason": "timeout"}); got != 1 {
		t.Errorf("timeout errors = %v, want 1", got)
	}
}

func TestClassify(t *testing.T) {
	s := &side{unavailable: "old backend unavailable\n"}
	req, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
	tests := []struct {
		name       string
		err        error
		wantReason string
		wantCode   int
	}{
		{"no backend", errNoBackend, reasonNoBackend, http.StatusBadGateway},
		{"wrapped no backend", &backendError{backend: "b", err: errNoBackend}, reasonNoBackend, http.StatusBadGateway},
		{"client body", errClientBody, reasonClientBody, http.StatusBadRequest},
		{"other", http.ErrSchemeMismatch, reasonBadGateway, http.StatusBadGateway},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reason, code, body := s.classifyErr(tt.err, clientLeft(req, tt.err))
			if reason != tt.wantReason || code != tt.wantCode || body == "" || len(body) > 40 {
				t.Errorf("classify = %q %d %q, want %q %d and a short body", reason, code, body, tt.wantReason, tt.wantCode)
			}
		})
	}
}
