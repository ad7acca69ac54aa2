package lb

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/migratekit/migrate/manifest"
)

// twoOld is an app with two old backends and weight 0.
func twoOld(a, b, n *testBackend, passive manifest.Passive) *manifest.App {
	return &manifest.App{
		Listen: "127.0.0.1:0",
		Old:    manifest.Pool{Backends: []string{a.URL, b.URL}, Passive: passive},
		New:    manifest.Pool{Backends: []string{n.URL}},
	}
}

func TestRetryOnKilledBackend(t *testing.T) { forEachPath(t, testRetryOnKilledBackend) }

func testRetryOnKilledBackend(t *testing.T, path dataPath) {
	a, b, n := newBackend(t, "a"), newBackend(t, "b"), newBackend(t, "new")
	metrics, reg := newMetrics(t)
	r := start(t, path, oneApp(twoOld(a, b, n, manifest.Passive{MaxFails: -1})), Options{Metrics: metrics})
	for i := range 4 {
		if _, code := r.get(t, nil); code != http.StatusOK {
			t.Fatalf("GET %d before the kill: status %d", i, code)
		}
	}
	if a.hits.Load() == 0 || b.hits.Load() == 0 {
		t.Fatalf("round robin: a=%d b=%d, want both used", a.hits.Load(), b.hits.Load())
	}
	a.Close()

	tests := []struct {
		method string
		body   string
	}{
		{http.MethodGet, ""},
		{http.MethodHead, ""},
		{http.MethodPut, "small enough to buffer"},
		{http.MethodDelete, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			for i := range 6 {
				req, _ := http.NewRequest(tt.method, r.base+"/", strings.NewReader(tt.body))
				res, err := r.client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode != http.StatusOK || res.Header.Get("X-Backend") != "b" {
					t.Fatalf("%s %d after the kill: status %d from %q, want 200 from b", tt.method, i, res.StatusCode, res.Header.Get("X-Backend"))
				}
			}
		})
	}
	if got := metricValue(t, reg, "migrate_proxy_retries_total", map[string]string{"app": "web", "side": "old"}); got < 4 {
		t.Errorf("retries = %v, want at least 4 (one per method)", got)
	}
}

func TestPostNotRetried(t *testing.T) { forEachPath(t, testPostNotRetried) }

func testPostNotRetried(t *testing.T, path dataPath) {
	a, b, n := newBackend(t, "a"), newBackend(t, "b"), newBackend(t, "new")
	metrics, reg := newMetrics(t)
	r := start(t, path, oneApp(twoOld(a, b, n, manifest.Passive{MaxFails: -1})), Options{Metrics: metrics})
	a.Close()
	codes := map[int]int{}
	for _, method := range []string{http.MethodPost, http.MethodPost, http.MethodPatch, http.MethodPatch} {
		req, _ := http.NewRequest(method, r.base+"/", strings.NewReader(`{"n":1}`))
		res, err := r.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		codes[res.StatusCode]++
	}
	// Round robin over two backends: half went to the dead one.
	if codes[http.StatusBadGateway] != 2 || codes[http.StatusOK] != 2 {
		t.Errorf("statuses = %v, want two 502 (not retried) and two 200", codes)
	}
	if got := b.hits.Load(); got != 2 {
		t.Errorf("b saw %d requests, want 2 (no retry of POST or PATCH)", got)
	}
	if got := metricValue(t, reg, "migrate_proxy_retries_total", map[string]string{"app": "web", "side": "old"}); got != 0 {
		t.Errorf("retries = %v, want 0", got)
	}
	if got := metricValue(t, reg, "migrate_proxy_errors_total", map[string]string{"app": "web", "side": "old", "reason": "connect"}); got != 2 {
		t.Errorf("connect errors = %v, want 2", got)
	}
}

func TestLeastConn(t *testing.T) { forEachPath(t, testLeastConn) }

func testLeastConn(t *testing.T, path dataPath) {
	hold := make(chan struct{})
	arrived := make(chan string, 1)
	slow := func(name string) *testBackend {
		return newBackendFunc(t, name, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				arrived <- name
				<-hold
			}
			w.Write([]byte(name))
		})
	}
	a, b, n := slow("a"), slow("b"), newBackend(t, "new")
	app := twoOld(a, b, n, manifest.Passive{})
	app.Old.Balance = "least_conn"
	r := start(t, path, oneApp(app), Options{})

	slowDone := make(chan int)
	go func() {
		res, err := r.client.Get(r.base + "/slow")
		if err != nil {
			slowDone <- 0
			return
		}
		res.Body.Close()
		slowDone <- res.StatusCode
	}()
	busy := <-arrived
	idle := map[string]string{"a": "b", "b": "a"}[busy]
	for i := range 10 {
		if got, _ := r.get(t, nil); got != idle {
			t.Errorf("fast request %d went to %q, want the idle backend %q (%q has one in flight)", i, got, idle, busy)
		}
	}
	var inflight []int64
	for _, s := range r.p.App("web").Backends() {
		if s.URL == map[string]string{"a": a.URL, "b": b.URL}[busy] {
			inflight = append(inflight, s.InFlight)
		}
	}
	close(hold)
	if code := <-slowDone; code != http.StatusOK {
		t.Errorf("slow request: status %d", code)
	}
	if len(inflight) != 1 || inflight[0] != 1 {
		t.Errorf("InFlight of the busy backend = %v, want [1]", inflight)
	}
}

func TestTargetURL(t *testing.T) {
	tests := []struct {
		name, base, in, want string
	}{
		{"root base", "http://10.0.0.1:3000", "/users/1?x=1", "http://10.0.0.1:3000/users/1?x=1"},
		{"slash base", "https://b.example/", "/a", "https://b.example/a"},
		{"base path", "http://b:80/api", "/users", "http://b:80/api/users"},
		{"base path slash", "http://b/api/", "/users", "http://b/api/users"},
		{"base query", "http://b/?k=v", "/p?x=1", "http://b/p?k=v&x=1"},
		{"absolute-form in", "http://b", "http://user:pw@evil.example/p", "http://b/p"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, err := parseBackend(tt.base)
			if err != nil {
				t.Fatal(err)
			}
			req, err := http.NewRequest(http.MethodGet, tt.in, nil)
			if err != nil {
				t.Fatal(err)
			}
			target(req.URL, base.url)
			if got := req.URL.String(); got != tt.want {
				t.Errorf("target = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestStreamingSSE checks that an answer body streams: the client reads
// the first event while the backend still writes, and the response-header
// timeout does not cut a body that lasts longer than it.
func TestStreamingSSE(t *testing.T) { forEachPath(t, testStreamingSSE) }

func testStreamingSSE(t *testing.T, path dataPath) {
	next := make(chan struct{})
	events := newBackendFunc(t, "events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 3 {
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-next:
			case <-r.Context().Done():
				return
			}
			time.Sleep(100 * time.Millisecond) // twice the header timeout
		}
	})
	app := testApp(events, events)
	app.Timeouts.ResponseHeader = manifest.Duration(50 * time.Millisecond)
	metrics, reg := newMetrics(t)
	r := start(t, path, oneApp(app), Options{Metrics: metrics})
	res, err := r.client.Get(r.base + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	for i := range 3 {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if want := fmt.Sprintf("data: %d\n", i); line != want {
			t.Fatalf("event %d = %q, want %q", i, line, want)
		}
		if _, err := br.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			labels := map[string]string{"app": "web", "side": "old", "code_class": "2xx"}
			if got := metricValue(t, reg, "migrate_proxy_requests_total", labels); got != 0 {
				t.Errorf("request recorded while its body streams: %v", got)
			}
		}
		next <- struct{}{}
	}
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Errorf("after the events: %q, %v", rest, err)
	}
	labels := map[string]string{"app": "web", "side": "old", "code_class": "2xx"}
	eventually(t, "the request to be recorded", func() bool {
		return metricValue(t, reg, "migrate_proxy_requests_total", labels) == 1
	})
	if got := r.p.App("web").Backends()[0].InFlight; got != 0 {
		t.Errorf("in flight after the body = %d, want 0", got)
	}
}

// TestBackendBasePath checks a backend URL's path and query end to end.
func TestBackendBasePath(t *testing.T) { forEachPath(t, testBackendBasePath) }

func testBackendBasePath(t *testing.T, path dataPath) {
	var got atomic.Value
	b := newBackendFunc(t, "b", func(w http.ResponseWriter, r *http.Request) { got.Store(r.RequestURI) })
	app := testApp(b, b)
	app.Old.Backends = []string{b.URL + "/api/?k=v"}
	app.New.Backends = app.Old.Backends
	r := start(t, path, oneApp(app), Options{})
	for uri, want := range map[string]string{"/users?x=1": "/api/users?k=v&x=1", "/": "/api/?k=v"} {
		if code, _, _ := r.do(t, http.MethodGet, uri, "", nil); code != http.StatusOK {
			t.Errorf("GET %s: %d", uri, code)
		}
		if got.Load() != want {
			t.Errorf("GET %s reached the backend as %q, want %q", uri, got.Load(), want)
		}
	}
}

// FuzzAppendURI checks the loops' request URI on a backend with a path or
// query against target, the net/http path's, for request URIs already in
// the form net/http would send (it re-escapes the others, which the loops
// pass as they are).
func FuzzAppendURI(f *testing.F) {
	for _, s := range [][2]string{{"/api", "/users?x=1"}, {"/api/", "/u"}, {"/?k=v", "/p?x=1"}, {"/a?k=v", "/"}, {"/", "/x?"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, base, uri string) {
		b, err := parseBackend("http://b" + base)
		if err != nil || b.url.Fragment != "" || b.url.Opaque != "" || !strings.HasPrefix(uri, "/") {
			return
		}
		in, err := url.ParseRequestURI(uri)
		if err != nil || in.RequestURI() != uri || in.ForceQuery {
			return
		}
		b.setBase()
		want := *in
		target(&want, b.url)
		if got := string(b.appendURI(nil, []byte(uri))); got != want.RequestURI() {
			t.Errorf("backend %q, request %q: the loops send %q, net/http %q", base, uri, got, want.RequestURI())
		}
	})
}

// TestRetryKeepsTarget: a request retried on another backend of a pool
// whose backends have a base path and query reaches it with the target a
// first attempt there gets, the base not added twice (the net/http path
// rewrote the request's URL in place, and its retry copied it rewritten).
// "//x/y" keeps the URL's form on net/http's path (clientTarget).
func TestRetryKeepsTarget(t *testing.T) { forEachPath(t, testRetryKeepsTarget) }

func testRetryKeepsTarget(t *testing.T, path dataPath) {
	var mu sync.Mutex
	seen := map[string]int{}
	b := newBackendFunc(t, "b", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.RequestURI]++
		mu.Unlock()
	})
	dead, n := newBackend(t, "dead"), newBackend(t, "new")
	dead.Close()
	m := oneApp(&manifest.App{
		Listen: "127.0.0.1:0",
		Old:    manifest.Pool{Backends: []string{dead.URL + "/base?k=v", b.URL + "/base?k=v"}, Passive: manifest.Passive{MaxFails: -1}},
		New:    manifest.Pool{Backends: []string{n.URL}},
	})
	r := start(t, path, m, Options{})
	for _, target := range []string{"/x/y?q=1", "//x/y?q=1"} {
		clear(seen)
		for i := range 4 {
			res, err := r.client.Get(r.base + target)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("GET %s %d: status %d", target, i, res.StatusCode)
			}
		}
		mu.Lock()
		want := "/base" + strings.Replace(target, "?", "?k=v&", 1)
		if len(seen) != 1 || seen[want] == 0 {
			t.Errorf("GET %s: backend b received %v, want %s only, retried or not", target, seen, want)
		}
		mu.Unlock()
	}
}
