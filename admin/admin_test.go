package admin

import (
	"encoding/json"

	"context"
	"github.com/google/go-cmp/cmp"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/migratekit/migrate/lb"
	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/rollback"
	"github.com/migratekit/migrate/state"
	"github.com/migratekit/migrate/telemetry"
)

const token = "s3cret-token"

// newAPI serves the admin API for one app "shop" whose sides are real
// httptest backends.
func newAPI(t *testing.T, tok string, with ...func(*Options)) (*Server, *lb.Proxy, state.Store) {
	t.Helper()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(backend.Close)
	m := &manifest.Manifest{
		Apps: map[string]*manifest.App{"shop": {
			Name:   "shop",
			Listen: "127.0.0.1:0",
			Old:    manifest.Pool{Backends: []string{backend.URL}},
			New:    manifest.Pool{Backends: []string{backend.URL}},
		}},
	}
	reg := prometheus.NewRegistry()
	metrics, err := telemetry.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := lb.New(m, nil, lb.Options{Metrics: metrics})
	if err != nil {
		t.Fatal(err)
	}
	store, err := state.Open(context.Background(), manifest.State{Backend: "embedded"}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	mgr := rollback.NewManager(rollback.ManagerOptions{Store: store})
	if err := mgr.Add(proxy.App("shop"), m.Apps["shop"], nil); err != nil {
		t.Fatal(err)
	}
	opts := Options{Token: tok, Proxy: proxy, Metrics: metrics, Control: mgr, Gatherer: reg}
	for _, w := range with {
		w(&opts)
	}
	return New(opts), proxy, store
}

func do(t *testing.T, h http.Handler, method, path, remote, auth, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr = remote
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestAuth(t *testing.T) {
	api, _, _ := newAPI(t, token)
	const loop, far = "127.0.0.1:5000", "192.0.2.7:5000"
	tests := []struct {
		name               string
		method, path, body string
		remote, auth       string
		want               int
	}{
		{"loopback read is open", "GET", "/api/v1/apps/shop", "", loop, "", 200},
		{"ipv6 loopback read is open", "GET", "/api/v1/apps", "", "[::1]:5000", "", 200},
		{"remote read needs the token", "GET", "/api/v1/apps/shop", "", far, "", 401},
		{"remote read with the token", "GET", "/api/v1/apps/shop", "", far, "Bearer " + token, 200},
		{"write without token", "PUT", "/api/v1/apps/shop/weight", `{"weight": 10}`, loop, "", 401},
		{"write with a wrong token", "PUT", "/api/v1/apps/shop/weight", `{"weight": 10}`, loop, "Bearer nope", 401},
		{"write with a token prefix", "PUT", "/api/v1/apps/shop/weight", `{"weight": 10}`, loop, "Bearer " + token[:5], 401},
		{"write with basic auth", "PUT", "/api/v1/apps/shop/weight", `{"weight": 10}`, loop, "Basic " + token, 401},
		{"rollback without token", "POST", "/api/v1/apps/shop/rollback", ``, loop, "", 401},
		{"write with the token", "PUT", "/api/v1/apps/shop/weight", `{"weight": 10}`, loop, "Bearer " + token, 200},
		{"metrics", "GET", "/metrics", "", loop, "", 200},
		{"healthz from anywhere", "GET", "/healthz", "", far, "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(t, api, tt.method, tt.path, tt.remote, tt.auth, tt.body)
			if rec.Code != tt.want {
				t.Errorf("%s %s = %d, want %d: %s", tt.method, tt.path, rec.Code, tt.want, rec.Body)
			}
			if rec.Code == 401 && rec.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

func TestWritesRefusedWithoutConfiguredToken(t *testing.T) {
	tests := []struct {
		name, env string
		want      string // in the body
	}{
		{"the variable named", "SHOP_ADMIN_TOKEN", "no admin token is configured (start this process with SHOP_ADMIN_TOKEN set: admin.token_env names it)"},
		{"no variable known", "", "no admin token is configured (set admin.token_env's variable)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api, proxy, _ := newAPI(t, "", func(o *Options) { o.TokenEnv = tt.env })
			rec := do(t, api, "PUT", "/api/v1/apps/shop/weight", "127.0.0.1:1", "Bearer ", `{"weight": 50}`)
			if rec.Code != 401 || !strings.Contains(rec.Body.String(), tt.want) {
				t.Errorf("got %d %s, want 401 with %q", rec.Code, rec.Body, tt.want)
			}
			if got := proxy.App("shop").Weight(); got != 0 {
				t.Errorf("weight = %d after a refused write, want 0", got)
			}
		})
	}
}

func TestWeightAndRollback(t *testing.T) {
	api, proxy, store := newAPI(t, token)
	auth := "Bearer " + token
	tests := []struct {
		name, method, path, body string
		wantCode, wantWeight     int
		wantBody                 string
	}{
		{"set 25", "PUT", "/api/v1/apps/shop/weight", `{"weight": 25}`, 200, 25, `"phase": "split"`},
		{"out of range", "PUT", "/api/v1/apps/shop/weight", `{"weight": 101}`, 400, 25, "out of range"},
		{"missing weight", "PUT", "/api/v1/apps/shop/weight", `{}`, 400, 25, `needs \"weight\"`},
		{"empty body", "PUT", "/api/v1/apps/shop/weight", ``, 400, 25, `needs \"weight\"`},
		{"unknown field", "PUT", "/api/v1/apps/shop/weight", `{"wieght": 5}`, 400, 25, `unknown object member name \"wieght\"`},
		{"not JSON", "PUT", "/api/v1/apps/shop/weight", `weight=5`, 400, 25, "decoding request body"},
		{"unknown app", "PUT", "/api/v1/apps/blog/weight", `{"weight": 5}`, 404, 25, "not served"},
		{"set 100", "PUT", "/api/v1/apps/shop/weight", `{"weight": 100}`, 200, 100, `"phase": "new"`},
		{"rollback", "POST", "/api/v1/apps/shop/rollback", `{"reason": "5xx"}`, 200, 0, `"phase": "rolled_back"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(t, api, tt.method, tt.path, "127.0.0.1:1", auth, tt.body)
			if rec.Code != tt.wantCode || !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("got %d %s; want %d containing %q", rec.Code, rec.Body, tt.wantCode, tt.wantBody)
			}
			if got := proxy.App("shop").Weight(); got != tt.wantWeight {
				t.Errorf("proxy weight = %d, want %d", got, tt.wantWeight)
			}
			saved, _, err := store.Weight(context.Background(), "shop")
			if err != nil || saved != tt.wantWeight {
				t.Errorf("saved weight = %d (%v), want %d", saved, err, tt.wantWeight)
			}
		})
	}
}

// TestClientOverRealListener drives the API through Client and a real
// listener, as migrate status and cutover do.
func TestClientOverRealListener(t *testing.T) {
	api, _, _ := newAPI(t, token)
	ln := serveAPI(t, api)
	ctx := context.Background()

	c := &Client{BaseURL: ln.Addr().String(), Token: token}
	st, err := c.SetWeight(ctx, "shop", 40, "test")
	if err != nil || st.Weight != 40 || st.Phase != PhaseSplit {
		t.Fatalf("SetWeight: %+v, %v", st, err)
	}
	apps, err := c.Apps(ctx)
	if err != nil || len(apps) != 1 || apps[0].App != "shop" || len(apps[0].Backends) != 2 {
		t.Fatalf("Apps: %+v, %v", apps, err)
	}
	if _, err := c.App(ctx, "blog"); !IsNotFound(err) {
		t.Errorf("App(blog) err = %v, want a 404", err)
	}
	noTok := &Client{BaseURL: "http://" + ln.Addr().String()}
	if _, err := noTok.Rollback(ctx, "shop", ""); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("Rollback without token: %v, want 401", err)
	}
	resp, err := http.Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `migrate_cutover_weight{app="shop"} 40`) {
		t.Errorf("/metrics lacks the weight gauge:\n%s", b)
	}
}

func TestPhase(t *testing.T) {
	for w, want := range map[int]string{0: PhaseOld, 1: PhaseSplit, 99: PhaseSplit, 100: PhaseNew} {
		if got := rollback.PhaseOf(w, false); got != want {
			t.Errorf("Phase(%d) = %q, want %q", w, got, want)
		}
	}
}

func TestEventsRecordWrites(t *testing.T) {
	api, _, _ := newAPI(t, token)
	auth := "Bearer " + token
	for _, req := range []struct{ method, path, body string }{
		{"PUT", "/api/v1/apps/shop/weight", `{"weight": 30, "reason": "step"}`},
		{"POST", "/api/v1/apps/shop/rollback", `{"reason": "errors"}`},
	} {
		if rec := do(t, api, req.method, req.path, "127.0.0.1:1", auth, req.body); rec.Code != 200 {
			t.Fatalf("%s %s: %d %s", req.method, req.path, rec.Code, rec.Body)
		}
	}
	rec := do(t, api, "GET", "/api/v1/events?app=shop", "127.0.0.1:1", "", "")
	var evs []state.Event
	if err := json.Unmarshal(rec.Body.Bytes(), &evs); err != nil || rec.Code != 200 {
		t.Fatalf("events: %d %v %s", rec.Code, err, rec.Body)
	}
	var got []string
	for _, e := range evs {
		got = append(got, e.Kind+":"+e.Actor+":"+e.Before+"->"+e.After+":"+e.Reason)
	}
	want := []string{"weight:api:0->30:step", "rollback:api:30->0:errors"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"/api/v1/events?limit=0", "/api/v1/events?since=yesterday"} {
		if rec := do(t, api, "GET", bad, "127.0.0.1:1", "", ""); rec.Code != 400 {
			t.Errorf("GET %s = %d, want 400", bad, rec.Code)
		}
	}
}

// serveAPI serves api on a loopback listener until the test ends.
func serveAPI(t *testing.T, api *Server) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- api.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln
}
