package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/migratekit/migrate/lb"
	"github.com/migratekit/migrate/manifest"
)

// proxyBackends is Backends on a proxy alone (serve's adds the events).
type proxyBackends struct{ p *lb.Proxy }

func (b proxyBackends) List(_ context.Context, app string) ([]Backend, error) {
	return BackendsOf(b.p.App(app)), nil
}

func (b proxyBackends) Add(ctx context.Context, app, side, url, _, _ string) error {
	return b.p.App(app).AddBackend(ctx, side, url)
}

func (b proxyBackends) Drain(ctx context.Context, app, url, _, _ string) (int64, error) {
	return b.p.App(app).DrainBackend(ctx, url)
}

func (b proxyBackends) Remove(_ context.Context, app, url, _, _ string) error {
	return b.p.App(app).RemoveBackend(url)
}

// liveProxy serves "shop" (old on oldURL, new on newURLs, weight 100)
// through a real proxy until the test ends, with the admin API on a
// loopback listener whose drain is drain; it returns a client of the API
// and the proxy's address.
func liveProxy(t *testing.T, drain time.Duration, oldURL string, newURLs ...string) (*Client, string, *lb.Proxy) {
	t.Helper()
	m, err := manifest.Parse("test.yaml", fmt.Appendf(nil, `defaults:
  listen: 127.0.0.1:0
  admin: {listen: 127.0.0.1:0}
apps:
  shop:
    old: {backends: [%s]}
    new: {backends: [%s]}
    cutover: {weight: 100}
    shadow: {sample: 0%%}
`, oldURL, strings.Join(newURLs, ", ")))
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := lb.New(m, nil, lb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := proxy.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- proxy.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("proxy Serve: %v", err)
		}
	})
	api := New(Options{Token: token, Proxy: proxy, Backends: proxyBackends{proxy}, Drain: drain})
	ln := serveAPI(t, api)
	var addr string
	for _, a := range proxy.Addrs() {
		addr = a.String()
	}
	return &Client{BaseURL: ln.Addr().String(), Token: token}, addr, proxy
}

// namedBackend answers its name.
func namedBackend(t *testing.T, name string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) }))
	t.Cleanup(s.Close)
	return s
}

// apiStatus is err's status, 0 when it is no API error.
func apiStatus(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// TestBackendsReplace replaces new's backend through the API while the
// proxy serves: the added one is pending until its first check, then
// serves; the old one drains and is removed.
func TestBackendsReplace(t *testing.T) {
	t.Parallel()
	old, n1, n2 := namedBackend(t, "old"), namedBackend(t, "n1"), namedBackend(t, "n2")
	c, addr, _ := liveProxy(t, 5*time.Second, old.URL, n1.URL)
	ctx := t.Context()

	added, err := c.AddBackend(ctx, "shop", SideNew, n2.URL, "deploy")
	if err != nil {
		t.Fatal(err)
	}
	if added.URL != n2.URL || added.Side != SideNew {
		t.Errorf("AddBackend answered %+v, want new %s", added, n2.URL)
	}
	waitBackend(t, c, n2.URL, func(b Backend) bool { return b.Healthy && !b.Pending })
	res, err := c.DrainBackend(ctx, "shop", n1.URL, "deploy")
	if err != nil || res.Side != SideNew || res.InFlight != 0 {
		t.Fatalf("DrainBackend = %+v, %v; want side new, nothing in flight", res, err)
	}
	if _, err := c.RemoveBackend(ctx, "shop", n1.URL, "deploy"); err != nil {
		t.Fatal(err)
	}
	list, err := c.Backends(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	var urls []string
	for _, b := range list {
		urls = append(urls, b.Side+" "+b.URL)
	}
	if want := []string{"old " + old.URL, "new " + n2.URL}; strings.Join(urls, ",") != strings.Join(want, ",") {
		t.Errorf("backends after the replacement %v, want %v", urls, want)
	}
	for range 4 {
		if got := getBody(t, "http://"+addr+"/"); got != "n2" {
			t.Fatalf("a request after the replacement reached %q, want n2", got)
		}
	}
}

// TestBackendsErrors: each refusal of lb and each bad request has its
// status and says why.
func TestBackendsErrors(t *testing.T) {
	t.Parallel()
	old, n1 := namedBackend(t, "old"), namedBackend(t, "n1")
	c, _, _ := liveProxy(t, 5*time.Second, old.URL, n1.URL)
	tests := []struct {
		name     string
		call     func(ctx context.Context) error
		wantCode int
		wantMsg  string
	}{
		{"unknown app", func(ctx context.Context) error {
			_, err := c.AddBackend(ctx, "blog", SideNew, "http://127.0.0.1:9", "")
			return err
		}, 404, `app "blog" is not served`},
		{"list of an unknown app", func(ctx context.Context) error { _, err := c.Backends(ctx, "blog"); return err }, 404, "not served"},
		{"not a URL", func(ctx context.Context) error {
			_, err := c.AddBackend(ctx, "shop", SideNew, "127.0.0.1:9", "")
			return err
		}, 400, "is not an http:// or https:// URL"},
		{"user info", func(ctx context.Context) error {
			_, err := c.AddBackend(ctx, "shop", SideNew, "http://u:p@127.0.0.1:9", "")
			return err
		}, 400, "must not have user info"},
		{"no url", func(ctx context.Context) error { _, err := c.AddBackend(ctx, "shop", SideNew, "", ""); return err }, 400, `needs "url"`},
		{"bad side", func(ctx context.Context) error {
			_, err := c.AddBackend(ctx, "shop", "blue", "http://127.0.0.1:9", "")
			return err
		}, 400, `"side" is "blue": use "old" or "new"`},
		{"another scheme than the pool's", func(ctx context.Context) error {
			_, err := c.AddBackend(ctx, "shop", SideNew, "https://127.0.0.1:9", "")
			return err
		}, 400, "the backends of shop's new side are http"},
		{"already there", func(ctx context.Context) error { _, err := c.AddBackend(ctx, "shop", SideNew, n1.URL, ""); return err }, 409, "already in the pool"},
		{"drain an unknown backend", func(ctx context.Context) error {
			_, err := c.DrainBackend(ctx, "shop", "http://127.0.0.1:9", "")
			return err
		}, 404, "no such backend"},
		{"drain the last in rotation", func(ctx context.Context) error { _, err := c.DrainBackend(ctx, "shop", n1.URL, ""); return err }, 409, "the last backend of its pool"},
		{"remove one not drained", func(ctx context.Context) error { _, err := c.RemoveBackend(ctx, "shop", old.URL, ""); return err }, 409, "not drained"},
		{"remove an unknown backend", func(ctx context.Context) error {
			_, err := c.RemoveBackend(ctx, "shop", "http://127.0.0.1:9", "")
			return err
		}, 404, "no such backend"},
		{"remove without url", func(ctx context.Context) error { _, err := c.RemoveBackend(ctx, "shop", "", ""); return err }, 400, "needs ?url="},
		{"no token", func(ctx context.Context) error {
			_, err := (&Client{BaseURL: c.BaseURL}).AddBackend(ctx, "shop", SideNew, "http://127.0.0.1:9", "")
			return err
		}, 401, "needs the admin token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(t.Context())
			if apiStatus(err) != tt.wantCode || !strings.Contains(fmt.Sprint(err), tt.wantMsg) {
				t.Errorf("error %v; want a %d saying %q", err, tt.wantCode, tt.wantMsg)
			}
		})
	}
	list, err := c.Backends(t.Context(), "shop")
	if err != nil || len(list) != 2 {
		t.Errorf("after the refusals the backends are %+v (%v), want the two of the manifest", list, err)
	}
}

// TestBackendsDrainDeadline: a drain that outlasts the manifest's drain
// answers 504 with the count still in flight; the backend stays out of
// rotation, and a drain once the request ended completes.
func TestBackendsDrainDeadline(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var once sync.Once
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		io.WriteString(w, "slow")
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	old, fast := namedBackend(t, "old"), namedBackend(t, "fast")
	c, addr, proxy := liveProxy(t, 200*time.Millisecond, old.URL, fast.URL, slow.URL)
	got := make(chan string, 2)
	for range 2 { // round robin: one of them waits on slow
		go func() { got <- getBody(t, "http://"+addr+"/") }()
	}
	if b := <-got; b != "fast" {
		t.Fatalf("first answer %q, want fast", b)
	}
	eventually(t, "a request in flight at slow", func() bool { return inFlight(proxy, slow.URL) == 1 })

	res, err := c.DrainBackend(t.Context(), "shop", slow.URL, "")
	if apiStatus(err) != http.StatusGatewayTimeout || res.Waited != 1 || res.InFlight != 1 || !strings.Contains(res.Error, "1 requests still in flight") {
		t.Fatalf("DrainBackend = %+v, %v; want a 504 having waited for 1, 1 still in flight", res, err)
	}
	if _, err := c.RemoveBackend(t.Context(), "shop", slow.URL, ""); apiStatus(err) != http.StatusConflict {
		t.Errorf("RemoveBackend with a request in flight: %v, want a 409", err)
	}
	once.Do(func() { close(release) })
	if b := <-got; b != "slow" {
		t.Errorf("the request in flight at the drain got %q, want slow", b)
	}
	if res, err := c.DrainBackend(t.Context(), "shop", slow.URL, ""); err != nil || res.InFlight != 0 {
		t.Fatalf("second DrainBackend = %+v, %v; want done", res, err)
	}
	if _, err := c.RemoveBackend(t.Context(), "shop", slow.URL, ""); err != nil {
		t.Fatal(err)
	}
}

// TestBackendsDrainEndsAtShutdown: a drain waiting when the admin API
// shuts down answers 503 at once, and the shutdown is clean (it would
// otherwise wait for the drain past its own 5 seconds and fail).
func TestBackendsDrainEndsAtShutdown(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		io.WriteString(w, "slow")
	}))
	t.Cleanup(slow.Close)
	old, fast := namedBackend(t, "old"), namedBackend(t, "fast")
	_, addr, proxy := liveProxy(t, time.Minute, old.URL, fast.URL, slow.URL)
	defer close(release) // before the proxy stops (a cleanup)
	for range 2 {
		go getBody(t, "http://"+addr+"/")
	}
	eventually(t, "a request in flight at slow", func() bool { return inFlight(proxy, slow.URL) == 1 })

	api := New(Options{Token: token, Proxy: proxy, Backends: proxyBackends{proxy}, Drain: time.Minute})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- api.Serve(ctx, ln) }()
	c := &Client{BaseURL: ln.Addr().String(), Token: token}
	drained := make(chan error, 1)
	go func() {
		_, err := c.DrainBackend(context.Background(), "shop", slow.URL, "")
		drained <- err
	}()
	eventually(t, "the drain under way", func() bool {
		i := slices.IndexFunc(BackendsOf(proxy.App("shop")), func(b Backend) bool { return b.URL == slow.URL && b.Draining })
		return i >= 0
	})
	cancel()
	if err := <-served; err != nil {
		t.Errorf("Serve after a shutdown during a drain: %v, want nil", err)
	}
	if err := <-drained; apiStatus(err) != http.StatusServiceUnavailable || !strings.Contains(err.Error(), "shutting down") {
		t.Errorf("the drain's answer: %v, want a 503 saying the API is shutting down", err)
	}
}

// TestBackendsWithoutImplementation: an instance with no Backends lists
// its proxy's and refuses changes with 503.
func TestBackendsWithoutImplementation(t *testing.T) {
	t.Parallel()
	api, _, _ := newAPI(t, token)
	rec := do(t, api, "GET", "/api/v1/apps/shop/backends", "127.0.0.1:1", "", "")
	if rec.Code != 200 || strings.Count(rec.Body.String(), `"url"`) != 2 {
		t.Errorf("GET backends = %d %s, want the 2 backends", rec.Code, rec.Body)
	}
	rec = do(t, api, "POST", "/api/v1/apps/shop/backends", "127.0.0.1:1", "Bearer "+token, `{"side":"new","url":"http://127.0.0.1:9"}`)
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), "takes no backend changes") {
		t.Errorf("POST backends = %d %s, want 503", rec.Code, rec.Body)
	}
}

func inFlight(p *lb.Proxy, url string) int64 {
	for _, b := range p.App("shop").Backends() {
		if b.URL == url {
			return b.InFlight
		}
	}
	return -1
}

// waitBackend polls the API until the backend at url satisfies ok.
func waitBackend(t *testing.T, c *Client, url string, ok func(Backend) bool) {
	t.Helper()
	eventually(t, "backend "+url, func() bool {
		list, err := c.Backends(t.Context(), "shop")
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range list {
			if b.URL == url {
				return ok(b)
			}
		}
		return false
	})
}

// eventually polls cond for up to 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
	}
}

func getBody(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Error(err)
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestSameBackendURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want bool
	}{
		{"http://10.1.0.7:3000", "http://10.1.0.7:3000", true},
		{"http://10.1.0.7:3000", "http://10.1.0.7:3000/", true},
		{"HTTP://App.Internal:3000/base", "http://app.internal:3000/base/", true},
		{"http://10.1.0.7:3000", "https://10.1.0.7:3000", false},
		{"http://10.1.0.7:3000", "http://10.1.0.7:3001", false},
		{"http://10.1.0.7:3000/a", "http://10.1.0.7:3000/b", false},
	}
	for _, tt := range tests {
		if got := SameBackendURL(tt.a, tt.b); got != tt.want {
			t.Errorf("SameBackendURL(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}
