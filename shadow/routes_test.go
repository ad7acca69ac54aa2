package shadow

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/migratekit/migrate/compare"
	"github.com/migratekit/migrate/manifest"
)

func TestRouteMatch(t *testing.T) {
	tests := []struct {
		route string
		path  string
		want  bool
	}{
		{"/users/:id", "/users/42", true},
		{"/users/:id", "/users/42/", true},
		{"/users/:id", "/users/", false},
		{"/users/:id", "/users", false},
		{"/users/:id", "/users/42/posts", false},
		{"/users/:id", "/people/42", false},
		{"/giveaways/:id/entries", "/giveaways/7/entries", true},
		{"/giveaways/:id/entries", "/giveaways/7/winners", false},
		{"/static/*", "/static/css/site.css", true},
		{"/static/*", "/static", true},
		{"/static/*", "/assets/x", false},
		{"/", "/", true},
		{"/", "/x", false},
		{"/*", "/anything/at/all", true},
		{"/a//b", "/a/b", false},
	}
	for _, tt := range tests {
		t.Run(tt.route+" "+tt.path, func(t *testing.T) {
			rt := parseRoute(manifest.Route{Path: tt.route})
			if got := rt.match(tt.path); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAllowed(t *testing.T) {
	app := testApp("http://127.0.0.1:1", "http://127.0.0.1:2")
	app.Shadow.Routes = []manifest.Route{
		{Path: "/users/:id", Methods: []string{"put", "PATCH"}},
		{Path: "/users/*"},
	}
	m, err := New(app, Options{Comparer: newFakeComparer()})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		method, path string
		want         bool
	}{
		{"GET", "/anything", true},
		{"HEAD", "/users/1", true},
		{"PUT", "/users/1", true},
		{"PATCH", "/users/1", true},
		{"POST", "/users/1", false},
		{"PUT", "/users/1/avatar", false}, // the first matching route decides
		{"DELETE", "/other", false},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			if got := m.allowed(tt.method, tt.path); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	good := func() *manifest.App { return testApp("http://127.0.0.1:1", "http://127.0.0.1:2") }
	tests := []struct {
		name    string
		app     func() *manifest.App
		opts    Options
		wantErr error
		wantMsg string
	}{
		{"no comparer", good, Options{}, ErrNoComparer, ""},
		{"bad direction", func() *manifest.App { a := good(); a.Shadow.Direction = "sideways"; return a }, Options{Comparer: newFakeComparer()}, nil, `direction "sideways"`},
		{"bad secondary", func() *manifest.App { a := good(); a.Shadow.Secondary = []string{"ftp://x"}; return a }, Options{Comparer: newFakeComparer()}, nil, "secondary"},
		{"no candidate backends", func() *manifest.App { a := good(); a.New.Backends = nil; return a }, Options{Comparer: newFakeComparer()}, nil, "candidate"},
		{"bad trusted proxy", func() *manifest.App { a := good(); a.TrustedProxies = []string{"nope"}; return a }, Options{Comparer: newFakeComparer()}, nil, "trusted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.app(), tt.opts)
			switch {
			case err == nil:
				t.Fatal("got no error")
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Errorf("got %v, want %v", err, tt.wantErr)
			case tt.wantMsg != "" && !strings.Contains(err.Error(), tt.wantMsg):
				t.Errorf("got %q, want it to mention %q", err, tt.wantMsg)
			}
		})
	}
}

func TestIsUpgradeAndEventStream(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		up     bool
		sse    bool
	}{
		{"plain", http.Header{"Content-Type": {"text/html"}}, false, false},
		{"websocket", http.Header{"Connection": {"keep-alive, Upgrade"}, "Upgrade": {"websocket"}}, true, false},
		{"connection upgrade only", http.Header{"Connection": {"UPGRADE"}}, true, false},
		{"sse", http.Header{"Content-Type": {"text/event-stream"}}, false, true},
		{"sse with charset", http.Header{"Content-Type": {"Text/Event-Stream; charset=utf-8"}}, false, true},
		{"not quite sse", http.Header{"Content-Type": {"text/event-streams"}}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := []bool{isUpgrade(tt.header), isEventStream(tt.header)}; !cmp.Equal(got, []bool{tt.up, tt.sse}) {
				t.Errorf("[upgrade, event stream] = %v, want %v", got, []bool{tt.up, tt.sse})
			}
		})
	}
}

func TestTarget(t *testing.T) {
	tests := []struct {
		base, path, query string
		want              string
	}{
		{"http://10.0.0.1:3000", "/users/1", "a=1", "http://10.0.0.1:3000/users/1?a=1"},
		{"http://10.0.0.1:3000/", "/users/1", "", "http://10.0.0.1:3000/users/1"},
		{"https://api.example.com/v2", "/users/1", "", "https://api.example.com/v2/users/1"},
		{"http://h/?k=v", "/x", "a=1", "http://h/x?k=v&a=1"},
	}
	for _, tt := range tests {
		t.Run(tt.base+tt.path, func(t *testing.T) {
			base, err := url.Parse(tt.base)
			if err != nil {
				t.Fatal(err)
			}
			u := &url.URL{Path: tt.path, RawQuery: tt.query}
			target(u, base)
			if got := u.String(); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// TestCaptureOwnHeaders checks that the captured primary answer holds the
// backend's headers, not those the proxy set (a minted sticky cookie, its
// debug header), and at most max_body bytes.
func TestCaptureOwnHeaders(t *testing.T) {
	rec := httptest.NewRecorder()
	rec.Header().Add("Set-Cookie", "migrate_sticky=abcdefgh12; Path=/")
	var pool bufferPool
	c := &capture{}
	c.init(rec, pool.get(), 5)
	c.Header().Add("Set-Cookie", "session=1")
	c.Header().Set("X-Migrate-Side", "old")
	c.Header().Set("Content-Type", "text/plain")
	c.WriteHeader(http.StatusCreated)
	c.Write([]byte("hello world"))

	got := c.response(0)
	want := compare.Response{
		Status:    http.StatusCreated,
		Header:    http.Header{"Set-Cookie": {"session=1"}, "Content-Type": {"text/plain"}},
		Body:      []byte("hello"),
		Truncated: true,
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("captured (-got +want):\n%s", diff)
	}
	if body := rec.Body.String(); body != "hello world" {
		t.Errorf("client got %q, want every byte", body)
	}
}
