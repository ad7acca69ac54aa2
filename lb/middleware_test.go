package lb

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/telemetry"
)

// TestMiddleware checks an app wrapped in middleware. One path: a wrapped
// app is net/http's whatever the listener's path (TestPathChosen).
func TestMiddleware(t *testing.T) {
	t.Parallel()
	oldB, newB := newBackend(t, "old"), newBackend(t, "new")
	guard := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Stop") != "" {
				http.Error(w, "stopped", http.StatusLoopDetected)
				return
			}
			r.Header.Set("X-Seen", "yes")
			next.ServeHTTP(w, r)
		})
	}
	r := start(t, pathNetHTTP, oneApp(testApp(oldB, newB)), Options{Middleware: map[string]func(http.Handler) http.Handler{"web": guard}})
	tests := []struct {
		name     string
		hdr      http.Header
		wantCode int
		wantSeen string
		wantHits int64
	}{
		{name: "passed on with a header added", wantCode: http.StatusOK, wantSeen: "yes", wantHits: 1},
		{name: "answered by the wrapper", hdr: http.Header{"X-Stop": {"1"}}, wantCode: http.StatusLoopDetected, wantHits: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, _ := r.do(t, http.MethodGet, "/", "", tt.hdr)
			if code != tt.wantCode {
				t.Errorf("status %d, want %d", code, tt.wantCode)
			}
			if got := oldB.hits.Load(); got != tt.wantHits {
				t.Errorf("backend hits %d, want %d", got, tt.wantHits)
			}
			if tt.wantSeen != "" {
				if got := oldB.lastHeader().Get("X-Seen"); got != tt.wantSeen {
					t.Errorf("X-Seen at the backend %q, want %q", got, tt.wantSeen)
				}
			}
		})
	}
}

// TestUpstreamTLS checks that a pool's TLS settings reach an https backend
// addressed by IP: the SNI is the configured name, and the certificate is
// verified against the configured roots for that name.
//
// One path: an https backend is net/http's (TestPathChosen).
func TestUpstreamTLS(t *testing.T) {
	t.Parallel()
	backend := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-SNI", r.TLS.ServerName)
		fmt.Fprint(w, "new over tls")
	}))
	backend.StartTLS()
	t.Cleanup(backend.Close)
	trusted := x509.NewCertPool()
	trusted.AddCert(backend.Certificate()) // httptest's certificate names example.com
	tests := []struct {
		name     string
		cfg      *tls.Config
		wantCode int
		wantSNI  string
	}{
		{name: "sni sent and verified", cfg: &tls.Config{ServerName: "example.com", RootCAs: trusted}, wantCode: http.StatusOK, wantSNI: "example.com"},
		{name: "unknown authority refused", cfg: &tls.Config{ServerName: "example.com", RootCAs: x509.NewCertPool()}, wantCode: http.StatusBadGateway},
		{name: "name not in the certificate refused", cfg: &tls.Config{ServerName: "other.test", RootCAs: trusted}, wantCode: http.StatusBadGateway},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := &manifest.App{
				Listen:  "127.0.0.1:0",
				Cutover: manifest.Cutover{Weight: ptr(100)},
				Old:     manifest.Pool{Backends: []string{backend.URL}},
				New:     manifest.Pool{Backends: []string{backend.URL}},
			}
			r := start(t, pathNetHTTP, oneApp(app), Options{UpstreamTLS: map[PoolKey]*tls.Config{{App: "web", Side: telemetry.SideNew}: tt.cfg}})
			code, h, _ := r.do(t, http.MethodGet, "/", "", nil)
			if diff := cmp.Diff(struct {
				Code int
				SNI  string
			}{code, h.Get("X-SNI")}, struct {
				Code int
				SNI  string
			}{tt.wantCode, tt.wantSNI}); diff != "" {
				t.Errorf("(-got +want):\n%s", diff)
			}
		})
	}
}
