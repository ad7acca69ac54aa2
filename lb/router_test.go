package lb

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/migratekit/migrate/manifest"
)

func TestHostRouting(t *testing.T) {
	t.Parallel()
	bk := newBackend(t, "any")
	app := func(listen string, hosts ...string) *manifest.App {
		return &manifest.App{
			Listen: listen, Hosts: hosts,
			Old: manifest.Pool{Backends: []string{bk.URL}},
			New: manifest.Pool{Backends: []string{bk.URL}},
		}
	}
	m := &manifest.Manifest{Apps: map[string]*manifest.App{
		"shop":   app("127.0.0.1:0", "shop.example.com", "[2001:db8::1]"),
		"admin":  app("127.0.0.1:0", "admin.example.com:8443"),
		"other":  app("127.0.0.1:1"), // catch-all of another listener
		"legacy": app("127.0.0.1:2", "Legacy.Example.com."),
	}}
	p, err := New(m, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, listen, host, want string
	}{
		{"exact", "127.0.0.1:0", "shop.example.com", "shop"},
		{"case-insensitive", "127.0.0.1:0", "SHOP.Example.COM", "shop"},
		{"port stripped", "127.0.0.1:0", "shop.example.com:8080", "shop"},
		{"trailing dot", "127.0.0.1:0", "shop.example.com.", "shop"},
		{"ipv6 literal with port", "127.0.0.1:0", "[2001:db8::1]:80", "shop"},
		{"entry with port matches that port", "127.0.0.1:0", "admin.example.com:8443", "admin"},
		{"entry with port, other port", "127.0.0.1:0", "admin.example.com:9000", ""},
		{"entry with port, no port", "127.0.0.1:0", "admin.example.com", ""},
		{"unknown host", "127.0.0.1:0", "evil.example.com", ""},
		{"empty host", "127.0.0.1:0", "", ""},
		{"catch-all takes any host", "127.0.0.1:1", "whatever.example.net", "other"},
		{"entry normalised", "127.0.0.1:2", "legacy.example.com", "legacy"},
		{"app of another listener", "127.0.0.1:2", "shop.example.com", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if a := p.Handler(tt.listen).(*router).route(tt.host); a != nil {
				got = a.Name()
			}
			if got != tt.want {
				t.Errorf("route(%q) on %s = %q, want %q", tt.host, tt.listen, got, tt.want)
			}
		})
	}
}

func TestUnknownHost421(t *testing.T) { forEachPath(t, testUnknownHost421) }

func testUnknownHost421(t *testing.T, path dataPath) {
	oldB, newB := newBackend(t, "old"), newBackend(t, "new")
	a := testApp(oldB, newB)
	a.Hosts = []string{"app.example.com"}
	r := start(t, path, oneApp(a), Options{})

	code, _, body := r.do(t, http.MethodGet, "/", "evil.example.com", nil)
	if code != http.StatusMisdirectedRequest {
		t.Errorf("status = %d, want 421", code)
	}
	if len(body) > 80 || strings.Contains(body, "evil") {
		t.Errorf("body = %q, want a short fixed text", body)
	}
	if got := oldB.hits.Load() + newB.hits.Load(); got != 0 {
		t.Errorf("backends saw %d requests, want 0", got)
	}
	if code, _, _ := r.do(t, http.MethodGet, "/", "app.example.com", nil); code != http.StatusOK {
		t.Errorf("known host: status = %d, want 200", code)
	}
}

// rawRequest sends a request line and headers as written and returns the
// response.
func rawRequest(t *testing.T, addr, request string) *http.Response {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := fmt.Fprint(c, request); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res
}

func TestAbsoluteFormNotProxied(t *testing.T) { forEachPath(t, testAbsoluteFormNotProxied) }

func testAbsoluteFormNotProxied(t *testing.T, path dataPath) {
	foreign := newBackend(t, "foreign")
	foreignHost := strings.TrimPrefix(foreign.URL, "http://")
	tests := []struct {
		name     string
		hosts    []string
		uri      string
		wantCode int
		wantApp  bool
	}{
		{"host app: foreign authority is unknown", []string{"app.example.com"}, "http://" + foreignHost + "/", http.StatusMisdirectedRequest, false},
		{"catch-all: goes to the app's backend", nil, "http://" + foreignHost + "/x", http.StatusOK, true},
		{"catch-all: user info dropped", nil, "http://user:secret@" + foreignHost + "/x", http.StatusOK, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			oldB, newB := newBackend(t, "old"), newBackend(t, "new")
			a := testApp(oldB, newB)
			a.Hosts = tt.hosts
			r := start(t, path, oneApp(a), Options{})
			before := foreign.hits.Load()
			req := "GET " + tt.uri + " HTTP/1.1\r\nHost: app.example.com\r\nConnection: close\r\n\r\n"
			res := rawRequest(t, strings.TrimPrefix(r.base, "http://"), req)
			if res.StatusCode != tt.wantCode {
				t.Errorf("status = %d, want %d", res.StatusCode, tt.wantCode)
			}
			if got := foreign.hits.Load() - before; got != 0 {
				t.Errorf("foreign host saw %d requests, want 0", got)
			}
			if got := oldB.hits.Load() == 1; got != tt.wantApp {
				t.Errorf("app backend hit = %v, want %v", got, tt.wantApp)
			}
			if tt.wantApp && oldB.lastHeader().Get("Authorization") != "" {
				t.Errorf("backend got Authorization %q from the request URI", oldB.lastHeader().Get("Authorization"))
			}
		})
	}
}

func TestConnectRefused(t *testing.T) { forEachPath(t, testConnectRefused) }

func testConnectRefused(t *testing.T, path dataPath) {
	oldB, newB := newBackend(t, "old"), newBackend(t, "new")
	r := start(t, path, oneApp(testApp(oldB, newB)), Options{})
	res := rawRequest(t, strings.TrimPrefix(r.base, "http://"), "CONNECT "+strings.TrimPrefix(oldB.URL, "http://")+" HTTP/1.1\r\nHost: x\r\n\r\n")
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("status = %d, want 405", res.StatusCode)
	}
	if got := oldB.hits.Load() + newB.hits.Load(); got != 0 {
		t.Errorf("backends saw %d requests, want 0", got)
	}
}
