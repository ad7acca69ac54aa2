package lb

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/migratekit/migrate/manifest"
)

func TestForwardedHeaders(t *testing.T) { forEachPath(t, testForwardedHeaders) }

func testForwardedHeaders(t *testing.T, path dataPath) {
	tests := []struct {
		name    string
		trusted []string
		sent    http.Header
		want    map[string]string
	}{
		{
			name: "untrusted peer: spoofed headers dropped",
			sent: http.Header{
				"X-Forwarded-For":   {"6.6.6.6"},
				"X-Forwarded-Proto": {"https"},
				"X-Forwarded-Host":  {"evil.example"},
				"Forwarded":         {"for=6.6.6.6"},
			},
			want: map[string]string{
				"X-Forwarded-For":   "127.0.0.1",
				"X-Forwarded-Proto": "http",
				"X-Forwarded-Host":  "app.example.com",
				"Forwarded":         "",
				"Host":              "app.example.com",
			},
		},
		{
			name:    "trusted peer: chain kept",
			trusted: []string{"127.0.0.0/8"},
			sent: http.Header{
				"X-Forwarded-For":   {"203.0.113.7, 10.0.0.2"},
				"X-Forwarded-Proto": {"https"},
				"X-Forwarded-Host":  {"www.example.com"},
			},
			want: map[string]string{
				"X-Forwarded-For":   "203.0.113.7, 10.0.0.2, 127.0.0.1",
				"X-Forwarded-Proto": "https",
				"X-Forwarded-Host":  "www.example.com",
				"Forwarded":         "",
				"Host":              "app.example.com",
			},
		},
		{
			name:    "trusted peer without a chain",
			trusted: []string{"127.0.0.1"},
			want: map[string]string{
				"X-Forwarded-For":   "127.0.0.1",
				"X-Forwarded-Proto": "http",
				"X-Forwarded-Host":  "app.example.com",
				"Forwarded":         "",
				"Host":              "app.example.com",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			oldB, newB := newBackend(t, "old"), newBackend(t, "new")
			app := testApp(oldB, newB)
			app.TrustedProxies = tt.trusted
			r := start(t, path, oneApp(app), Options{})
			if code, _, _ := r.do(t, http.MethodGet, "/", "app.example.com", tt.sent); code != http.StatusOK {
				t.Fatalf("status %d", code)
			}
			seen := oldB.lastHeader()
			got := map[string]string{}
			for k := range tt.want {
				got[k] = seen.Get(k)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("headers at the backend (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDebugHeader(t *testing.T) { forEachPath(t, testDebugHeader) }

func testDebugHeader(t *testing.T, path dataPath) {
	tests := []struct {
		name   string
		debug  *bool
		weight int
		want   string
	}{
		{"on, old", ptr(true), 0, "old"},
		{"on, new", ptr(true), 100, "new"},
		{"off", ptr(false), 100, ""},
		{"unset", nil, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := testApp(newBackend(t, "old"), newBackend(t, "new"))
			app.DebugHeaders = tt.debug
			app.Cutover.Weight = ptr(tt.weight)
			r := start(t, path, oneApp(app), Options{})
			_, h, _ := r.do(t, http.MethodGet, "/", "", nil)
			if got := h.Get("X-Migrate-Side"); got != tt.want {
				t.Errorf("X-Migrate-Side = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCORSPreflight(t *testing.T) { forEachPath(t, testCORSPreflight) }

func testCORSPreflight(t *testing.T, path dataPath) {
	preflight := func(origin string) http.Header {
		return http.Header{
			"Origin":                         {origin},
			"Access-Control-Request-Method":  {"PUT"},
			"Access-Control-Request-Headers": {"X-Token, Content-Type"},
		}
	}
	allowed := &manifest.CORS{Origins: []string{"https://app.example.com/"}}
	tests := []struct {
		name     string
		cors     *manifest.CORS
		method   string
		sent     http.Header
		wantCode int
		wantHits int64
		want     map[string]string
	}{
		{
			name: "allowed origin answered in place", cors: allowed, method: http.MethodOptions,
			sent: preflight("https://app.example.com"), wantCode: http.StatusNoContent,
			want: map[string]string{
				"Access-Control-Allow-Origin":      "https://app.example.com",
				"Access-Control-Allow-Methods":     "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS",
				"Access-Control-Allow-Headers":     "X-Token, Content-Type",
				"Access-Control-Max-Age":           "600",
				"Access-Control-Allow-Credentials": "",
				"Vary":                             "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
			},
		},
		{
			name: "disallowed origin forbidden", cors: allowed, method: http.MethodOptions,
			sent: preflight("https://evil.example"), wantCode: http.StatusForbidden,
			want: map[string]string{"Access-Control-Allow-Origin": "", "Vary": "Origin"},
		},
		{
			name: "any origin", cors: &manifest.CORS{Origins: []string{"*"}, Headers: []string{"X-Token"}, Methods: []string{"get", "put"}, MaxAge: manifest.Duration(60e9)},
			method: http.MethodOptions, sent: preflight("https://other.example"), wantCode: http.StatusNoContent,
			want: map[string]string{
				"Access-Control-Allow-Origin":  "*",
				"Access-Control-Allow-Methods": "GET, PUT",
				"Access-Control-Allow-Headers": "X-Token",
				"Access-Control-Max-Age":       "60",
			},
		},
		{
			name: "any origin with credentials echoes the origin", cors: &manifest.CORS{Origins: []string{"*"}, Credentials: ptr(true)},
			method: http.MethodOptions, sent: preflight("https://other.example"), wantCode: http.StatusNoContent,
			want: map[string]string{
				"Access-Control-Allow-Origin":      "https://other.example",
				"Access-Control-Allow-Credentials": "true",
			},
		},
		{
			name: "OPTIONS that is not a preflight is proxied", cors: allowed, method: http.MethodOptions,
			sent: http.Header{"Origin": {"https://app.example.com"}}, wantCode: http.StatusOK, wantHits: 1,
			want: map[string]string{"Access-Control-Allow-Origin": ""},
		},
		{
			name: "simple request proxied untouched", cors: allowed, method: http.MethodGet,
			sent: http.Header{"Origin": {"https://evil.example"}}, wantCode: http.StatusOK, wantHits: 1,
			want: map[string]string{"Access-Control-Allow-Origin": ""},
		},
		{
			name: "no cors config: preflight proxied", cors: nil, method: http.MethodOptions,
			sent: preflight("https://app.example.com"), wantCode: http.StatusOK, wantHits: 1,
			want: map[string]string{"Access-Control-Allow-Origin": ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			oldB, newB := newBackend(t, "old"), newBackend(t, "new")
			app := testApp(oldB, newB)
			app.CORS = tt.cors
			r := start(t, path, oneApp(app), Options{})
			code, h, _ := r.do(t, tt.method, "/api", "", tt.sent)
			if code != tt.wantCode {
				t.Errorf("status = %d, want %d", code, tt.wantCode)
			}
			if got := oldB.hits.Load() + newB.hits.Load(); got != tt.wantHits {
				t.Errorf("backends saw %d requests, want %d", got, tt.wantHits)
			}
			got := map[string]string{}
			for k := range tt.want {
				got[k] = h.Get(k)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("response headers (-want +got):\n%s", diff)
			}
			if tt.wantHits == 1 && oldB.lastHeader().Get("Origin") != tt.sent.Get("Origin") {
				t.Errorf("backend saw Origin %q, want %q", oldB.lastHeader().Get("Origin"), tt.sent.Get("Origin"))
			}
		})
	}
}

// TestResponseTrailers: the fields a backend sends after a chunked body
// (gRPC-Web's status, a checksum) reach the client, announced or not, and
// so does the Trailer field announcing them.
func TestResponseTrailers(t *testing.T) { forEachPath(t, testResponseTrailers) }

func testResponseTrailers(t *testing.T, path dataPath) {
	b := newBackendFunc(t, "b", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum, X-Status")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "hello ")
		w.(http.Flusher).Flush() // chunked, not framed by length
		io.WriteString(w, "world")
		w.Header().Set("X-Checksum", "abc123")
		w.Header().Set("X-Status", "0")
		w.Header().Set(http.TrailerPrefix+"X-Late", "unannounced")
	})
	r := start(t, path, oneApp(testApp(b, b)), Options{})
	res, err := r.client.Get(r.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	// net/http moves the announced keys from the Trailer field into
	// res.Trailer, with no values until the body has been read.
	if _, ok := res.Trailer["X-Checksum"]; !ok {
		t.Errorf("announced trailers %v; want the Trailer field passed on", res.Trailer)
	}
	body, err := io.ReadAll(res.Body)
	if err != nil || string(body) != "hello world" {
		t.Fatalf("body %q, %v", body, err)
	}
	if got := res.Trailer.Get("X-Checksum") + " " + res.Trailer.Get("X-Status") + " " + res.Trailer.Get("X-Late"); got != "abc123 0 unannounced" {
		t.Errorf("trailers %v; want X-Checksum abc123, X-Status 0 and X-Late unannounced", res.Trailer)
	}
}

// TestExpectContinue: a client that sends Expect: 100-continue and waits
// for the interim answer before its body (curl does for bodies over 1 KiB,
// for up to a second) gets 100 Continue at once, and its body reaches the
// backend whole, without the Expect, which is for the proxy's hop (as
// nginx does): the body is there already.
func TestExpectContinue(t *testing.T) { forEachPath(t, testExpectContinue) }

func testExpectContinue(t *testing.T, path dataPath) {
	b := newBackendFunc(t, "b", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%d %v %q", len(body), err, r.Header["Expect"])
	})
	r := start(t, path, oneApp(testApp(b, b)), Options{})
	c := dialRaw(t, r)
	body := strings.Repeat("x", 5000)
	c.send(t, fmt.Sprintf("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", len(body)))
	if code, _ := c.head(t); code != http.StatusContinue {
		t.Fatalf("first answer %d; want 100 Continue before the body is sent", code)
	}
	c.send(t, body)
	res, got := c.response(t, http.MethodPost)
	if res.StatusCode != 200 || got != "5000 <nil> []" {
		t.Errorf("final answer %d %q; want 200 \"5000 <nil> []\"", res.StatusCode, got)
	}
}

// TestNoContentTypeAdded: a request body sent without a Content-Type
// reaches the backend without one, however it is framed (a client library
// may add application/octet-stream to a request it writes unless told not
// to, and a backend may answer 415 to that); nor does a User-Agent appear.
func TestNoContentTypeAdded(t *testing.T) { forEachPath(t, testNoContentTypeAdded) }

func testNoContentTypeAdded(t *testing.T, path dataPath) {
	b := newBackendFunc(t, "b", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%q %q %s", r.Header["Content-Type"], r.Header["User-Agent"], body)
	})
	r := start(t, path, oneApp(testApp(b, b)), Options{})
	for _, req := range []string{
		"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
		"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"POST /a HTTP/1.0\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
	} {
		c := dialRaw(t, r)
		c.send(t, req)
		_, got := c.response(t, http.MethodPost)
		c.Close()
		if got != "[] [] abc" {
			t.Errorf("%q: the backend saw Content-Type, User-Agent and body %s, want [] [] abc", req, got)
		}
	}
}

// TestHostUntouched: the backend gets the client's Host as it was sent,
// letter case and port included.
func TestHostUntouched(t *testing.T) { forEachPath(t, testHostUntouched) }

func testHostUntouched(t *testing.T, path dataPath) {
	b := newBackendFunc(t, "b", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, r.Host) })
	r := start(t, path, oneApp(testApp(b, b)), Options{})
	for _, host := range []string{"Shop.Example.COM", "shop.example.com:8080", "[::1]:8080"} {
		if code, _, body := r.do(t, http.MethodGet, "/", host, nil); code != 200 || body != host {
			t.Errorf("Host %q: %d, backend saw %q", host, code, body)
		}
	}
}

// TestTETrailers: TE is hop-by-hop, but a client's "trailers" in it goes
// on to the backend as "TE: trailers" (gRPC and some backends send
// trailers only then), as net/http's ReverseProxy sends it.
func TestTETrailers(t *testing.T) { forEachPath(t, testTETrailers) }

func testTETrailers(t *testing.T, path dataPath) {
	b := newBackendFunc(t, "b", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "%q", r.Header["Te"]) })
	r := start(t, path, oneApp(testApp(b, b)), Options{})
	for te, want := range map[string]string{"trailers, deflate;q=0.5": `["trailers"]`, "deflate": `[]`, "": `[]`} {
		h := http.Header{}
		if te != "" {
			h.Set("TE", te)
		}
		if code, _, body := r.do(t, http.MethodGet, "/", "", h); code != 200 || body != want {
			t.Errorf("TE %q: %d, backend saw TE %s, want %s", te, code, body, want)
		}
	}
}

// TestRequestURIUntouched checks that the request line reaches the
// backend as the client sent it: no path cleaning, no unescaping.
func TestRequestURIUntouched(t *testing.T) { forEachPath(t, testRequestURIUntouched) }

func testRequestURIUntouched(t *testing.T, path dataPath) {
	var got atomic.Value
	b := newBackendFunc(t, "b", func(w http.ResponseWriter, r *http.Request) { got.Store(r.RequestURI) })
	r := start(t, path, oneApp(testApp(b, b)), Options{})
	for _, uri := range []string{"/a/../b%2Fc//d?x=%20&y", "/%7euser/./x;p=1?a=b?c", "/x?=", "/?"} {
		res := rawRequest(t, strings.TrimPrefix(r.base, "http://"), "GET "+uri+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status %d", uri, res.StatusCode)
		}
		if got.Load() != uri {
			t.Errorf("backend got %q, want %q", got.Load(), uri)
		}
	}
}

// TestHopByHop checks that hop-by-hop headers stop at the proxy both
// ways and that each side's Connection: close stays on its own hop.
func TestHopByHop(t *testing.T) { forEachPath(t, testHopByHop) }

func testHopByHop(t *testing.T, path dataPath) {
	b := newBackendFunc(t, "b", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("X-Peer", r.RemoteAddr)
		w.Header().Set("X-Seen", strings.Join([]string{
			r.Header.Get("X-Secret"), r.Header.Get("Keep-Alive"), r.Header.Get("Proxy-Authorization"),
			r.Header.Get("Te"), r.Header.Get("Connection"), r.Header.Get("Expect"), r.Header.Get("Forwarded"),
		}, "|"))
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
	})
	r := start(t, path, oneApp(testApp(b, b)), Options{})
	c, err := net.Dial("tcp", strings.TrimPrefix(r.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	send := func(path, extra string) *http.Response {
		t.Helper()
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n", path, extra)
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	res := send("/close", "Connection: X-Secret\r\nX-Secret: 1\r\nKeep-Alive: 300\r\nProxy-Authorization: Basic eDp5\r\nTe: gzip\r\nForwarded: for=192.0.2.1\r\n")
	if got := res.Header.Get("X-Seen"); got != "||||||" {
		t.Errorf("backend saw hop-by-hop headers %q, want none", got)
	}
	if res.Header.Get("Keep-Alive") != "" || res.Close {
		t.Errorf("client got Keep-Alive %q, close %v: the backend's hop leaked", res.Header.Get("Keep-Alive"), res.Close)
	}
	// The backend closed its connection: the client's stays usable.
	if res := send("/", ""); res.StatusCode != http.StatusOK {
		t.Errorf("second request on the client connection: %d", res.StatusCode)
	}
	res = send("/last", "Connection: close\r\n")
	if !res.Close {
		t.Error("client asked Connection: close, the proxy kept its connection open")
	}
	// The backend connection that served it serves again. (On event
	// loops, idle backend connections are the loop's: a new client may
	// land on another loop, hence the new connections until one does.)
	last := res.Header.Get("X-Peer")
	for range 50 {
		c, err := net.Dial("tcp", strings.TrimPrefix(r.base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		if res.Header.Get("X-Peer") == last {
			return
		}
	}
	t.Errorf("the backend connection %s of a client's Connection: close was not used again", last)
}

// TestCORSRefusalCountedOnClientSide: a refused preflight counts on the
// side the client's requests go to. At weight 100 a client without a
// sticky cookie goes to new; its preflight counted on old.
func TestCORSRefusalCountedOnClientSide(t *testing.T) {
	everyPath(t, func(t *testing.T, pc pathCase) {
		app := splitApp(t, "cookie", 100)
		app.CORS = &manifest.CORS{Origins: []string{"https://app.example.com"}}
		metrics, reg := newMetrics(t)
		r := startOn(t, pc, oneApp(app), Options{Metrics: metrics})
		hdr := http.Header{"Origin": {"https://evil.example"}, "Access-Control-Request-Method": {"PUT"}}
		if code, _, _ := r.do(t, http.MethodOptions, "/api", "", hdr); code != http.StatusForbidden {
			t.Fatalf("preflight answered %d, want 403", code)
		}
		if _, served, _ := r.do(t, http.MethodGet, "/api", "", nil); served.Get("X-Backend") != "new" {
			t.Fatalf("the client's request went to %q, want new", served.Get("X-Backend"))
		}
		for side, want := range map[string]float64{"old": 0, "new": 1} {
			labels := map[string]string{"app": "web", "side": side, "reason": reasonCORS}
			if got := metricValue(t, reg, "migrate_proxy_errors_total", labels); got != want {
				t.Errorf("refused preflights counted on %s: %v, want %v", side, got, want)
			}
		}
	})
}
