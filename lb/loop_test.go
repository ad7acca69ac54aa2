//go:build linux

package lb

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/telemetry"
)

// Tests of what only the event-loop data path does (loop_linux.go), over
// raw TCP clients where http.Client cannot express the case.

// pathBackend answers with the method, path and body of the request.
func pathBackend(t *testing.T) *testBackend {
	return newBackendFunc(t, "b", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.Path, body)
	})
}

func get(path string) string { return "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n" }

func TestLoopPipelining(t *testing.T) { forEachPath(t, testLoopPipelining) }

func testLoopPipelining(t *testing.T, path dataPath) {
	for _, n := range []int{2, 10} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			b := pathBackend(t)
			r := start(t, path, oneApp(testApp(b, b)), Options{})
			c := dialRaw(t, r)
			var all strings.Builder
			for i := range n {
				all.WriteString(get(fmt.Sprintf("/%d", i)))
			}
			c.send(t, all.String())
			for i := range n {
				res, body := c.response(t, http.MethodGet)
				if want := fmt.Sprintf("GET /%d ", i); res.StatusCode != 200 || body != want {
					t.Errorf("answer %d: %d %q, want 200 %q", i, res.StatusCode, body, want)
				}
			}
			if got := b.hits.Load(); got != int64(n) {
				t.Errorf("backend saw %d requests, want %d", got, n)
			}
		})
	}
}

// TestLoopHandOffMidConnection checks that a request the loop hands to
// net/http's server after one it served itself is answered as the other
// paths answer it, and that the connection goes on where it may.
func TestLoopHandOffMidConnection(t *testing.T) { forEachPath(t, testLoopHandOffMidConnection) }

func testLoopHandOffMidConnection(t *testing.T, path dataPath) {
	tests := []struct {
		name      string
		req       string
		wantCode  int
		wantBody  string // "" : not checked
		wantAfter bool   // the connection serves further requests
	}{
		{"HTTP/1.0 keep-alive", "GET /old HTTP/1.0\r\nHost: app.example.com\r\nConnection: keep-alive\r\n\r\n", 200, "GET /old ", true},
		{"chunked POST", "POST /up HTTP/1.1\r\nHost: app.example.com\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 200, "POST /up hello world", true},
		{"absolute form, foreign authority", "GET http://x/ HTTP/1.1\r\nHost: app.example.com\r\n\r\n", http.StatusMisdirectedRequest, "", true},
		{"head over 16 KiB", "GET / HTTP/1.1\r\nHost: app.example.com\r\nX-Big: " + strings.Repeat("y", 17<<10) + "\r\n\r\n", http.StatusRequestHeaderFieldsTooLarge, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := pathBackend(t)
			a := testApp(b, b)
			a.Hosts = []string{"app.example.com"}
			r := start(t, path, oneApp(a), Options{})
			c := dialRaw(t, r)
			c.send(t, "GET /first HTTP/1.1\r\nHost: app.example.com\r\n\r\n")
			if res, body := c.response(t, http.MethodGet); res.StatusCode != 200 || body != "GET /first " {
				t.Fatalf("first answer: %d %q", res.StatusCode, body)
			}
			c.send(t, tt.req)
			res, body := c.response(t, http.MethodGet)
			if res.StatusCode != tt.wantCode || (tt.wantBody != "" && body != tt.wantBody) {
				t.Errorf("handed-off answer: %d %q, want %d %q", res.StatusCode, body, tt.wantCode, tt.wantBody)
			}
			if !tt.wantAfter {
				if !c.closed() {
					t.Error("the connection stays open, want it closed")
				}
				return
			}
			for i := range 2 {
				c.send(t, fmt.Sprintf("GET /after%d HTTP/1.1\r\nHost: app.example.com\r\n\r\n", i))
				if res, body := c.response(t, http.MethodGet); res.StatusCode != 200 || body != fmt.Sprintf("GET /after%d ", i) {
					t.Errorf("answer %d after the hand-off: %d %q", i, res.StatusCode, body)
				}
			}
		})
	}
}

// TestLoopClientLeaves checks that a client leaving before its answer is
// counted as canceled with status 499 and that the backend's request is
// cancelled (its connection is not kept).
func TestLoopClientLeaves(t *testing.T) { forEachPath(t, testLoopClientLeaves) }

func testLoopClientLeaves(t *testing.T, path dataPath) {
	for _, hints := range []bool{false, true} {
		t.Run(fmt.Sprintf("after 103: %v", hints), func(t *testing.T) {
			arrived, cancelled := make(chan struct{}, 1), make(chan struct{}, 1)
			b := newBackendFunc(t, "b", func(w http.ResponseWriter, r *http.Request) {
				if hints {
					w.Header().Set("Link", "</a.css>")
					w.WriteHeader(http.StatusEarlyHints)
				}
				arrived <- struct{}{}
				<-r.Context().Done()
				cancelled <- struct{}{}
			})
			metrics, reg := newMetrics(t)
			r := start(t, path, oneApp(testApp(b, b)), Options{Metrics: metrics})
			c := dialRaw(t, r)
			c.send(t, get("/"))
			<-arrived
			if hints {
				if code, _ := c.head(t); code != http.StatusEarlyHints {
					t.Fatalf("first head %d, want 103", code)
				}
			}
			c.Close()
			select {
			case <-cancelled:
			case <-time.After(5 * time.Second):
				t.Fatal("the backend's request was not cancelled")
			}
			old := map[string]string{"app": "web", "side": "old"}
			eventually(t, "the canceled request to be counted", func() bool {
				return metricValue(t, reg, "migrate_proxy_errors_total", with(old, "reason", "canceled")) == 1 &&
					metricValue(t, reg, "migrate_proxy_requests_total", with(old, "code_class", "4xx")) == 1
			})
		})
	}
}

func with(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for key, val := range m {
		out[key] = val
	}
	return out
}

// TestLoopLargeBodies checks request bodies larger than the gathered
// limit: streamed whole to the backend, or cut when the backend answers
// first (the client connection then closes).
func TestLoopLargeBodies(t *testing.T) {
	forEachPath(t, testLoopLargeBodies)
}

func testLoopLargeBodies(t *testing.T, path dataPath) {
	t.Run("read whole", func(t *testing.T) {
		b := newBackendFunc(t, "b", func(w http.ResponseWriter, r *http.Request) {
			h := sha256.New()
			n, err := io.Copy(h, r.Body)
			fmt.Fprintf(w, "%d %x %v", n, h.Sum(nil), err)
		})
		r := start(t, path, oneApp(testApp(b, b)), Options{})
		c := dialRaw(t, r)
		payload := bytes.Repeat([]byte("0123456789abcdef"), (3<<20)/32) // 1.5 MiB
		go func() {
			fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", len(payload))
			c.Write(append(payload[:len(payload):len(payload)], get("/")...)) // a request right after the body
		}()
		res, body := c.response(t, http.MethodPost)
		if want := fmt.Sprintf("%d %x <nil>", len(payload), sha256.Sum256(payload)); res.StatusCode != 200 || body != want {
			t.Errorf("got %d %q, want 200 %q", res.StatusCode, body, want)
		}
		if res, body := c.response(t, http.MethodGet); res.StatusCode != 200 || body != "0 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 <nil>" {
			t.Errorf("request pipelined after the body: %d %q", res.StatusCode, body)
		}
	})
	t.Run("answered before read", func(t *testing.T) {
		b := newBackendFunc(t, "b", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, "early")
		})
		r := start(t, path, oneApp(testApp(b, b)), Options{})
		c := dialRaw(t, r)
		// 3 MiB announced, half of it sent: the proxy cannot have the
		// whole body when the answer comes.
		const size = 3 << 20
		c.send(t, fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", size))
		wrote := make(chan struct{})
		go func() {
			defer close(wrote)
			io.WriteString(c, strings.Repeat("z", size/2)) // fails if the proxy closes first
		}()
		defer func() { c.Close(); <-wrote }()
		res, body := c.response(t, http.MethodPost)
		if res.StatusCode != 200 || body != "early" || !res.Close {
			t.Errorf("got %d %q close=%v, want 200 \"early\" with Connection: close", res.StatusCode, body, res.Close)
		}
		if !c.closed() {
			t.Error("the client connection stays open with the body unread, want it closed")
		}
	})
}

// TestLoopDrain checks that a drain closes an idle kept-alive connection
// and lets a busy one finish its answer, with Connection: close.
func TestLoopDrain(t *testing.T) { forEachPath(t, testLoopDrain) }

func testLoopDrain(t *testing.T, path dataPath) {
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	b := newBackendFunc(t, "b", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			arrived <- struct{}{}
			<-release
		}
		fmt.Fprint(w, "done")
	})
	r := start(t, path, oneApp(testApp(b, b)), Options{})
	idle, busy := dialRaw(t, r), dialRaw(t, r)
	idle.send(t, get("/"))
	if res, _ := idle.response(t, http.MethodGet); res.StatusCode != 200 {
		t.Fatalf("first answer on the idle connection: %d", res.StatusCode)
	}
	busy.send(t, get("/slow"))
	<-arrived
	stopped := make(chan error, 1)
	go func() { stopped <- r.stop() }()
	if !idle.closed() {
		t.Error("the idle connection was not closed by the drain")
	}
	// Every loop has seen the drain once the listener is closed (the busy
	// connection may be on another loop than the idle one).
	waitRefused(t, strings.TrimPrefix(r.base, "http://"))
	close(release)
	res, body := busy.response(t, http.MethodGet)
	if res.StatusCode != 200 || body != "done" || !res.Close {
		t.Errorf("busy answer: %d %q close=%v, want 200 \"done\" with Connection: close", res.StatusCode, body, res.Close)
	}
	if !busy.closed() {
		t.Error("the busy connection stays open after its answer")
	}
	if err := <-stopped; err != nil {
		t.Errorf("Serve = %v", err)
	}
}

// TestLoopDrainAnswersStartedHead checks that a request whose head has
// begun to arrive when a drain starts is read to its end and answered, with
// Connection: close, and that the drain waits for it.
//
// One path: the headRead hook is the loops' (a loop calls it as it reads
// the bytes of a head); net/http reads heads in its own server.
func TestLoopDrainAnswersStartedHead(t *testing.T) {
	t.Parallel()
	b := pathBackend(t)
	read := make(chan struct{}, 1)
	r := start(t, pathAuto, oneApp(testApp(b, b)), Options{test: testHooks{headRead: func() {
		select {
		case read <- struct{}{}:
		default:
		}
	}}})
	c := dialRaw(t, r)
	c.send(t, "GET /late HTTP/1.1\r\nHost: x\r\n")
	select {
	case <-read: // the loop holds the first part of the head
	case <-time.After(10 * time.Second):
		t.Fatal("the loop never read the head")
	}
	stopped := make(chan error, 1)
	go func() { stopped <- r.stop() }()
	waitRefused(t, strings.TrimPrefix(r.base, "http://"))
	select {
	case err := <-stopped:
		t.Fatalf("Serve returned (%v) before the request it had begun to read was answered", err)
	default:
	}
	c.send(t, "\r\n")
	res, body := c.response(t, http.MethodGet)
	if res.StatusCode != 200 || body != "GET /late " || !res.Close {
		t.Errorf("answer %d %q close=%v, want 200 \"GET /late \" with Connection: close", res.StatusCode, body, res.Close)
	}
	if !c.closed() {
		t.Error("the connection stays open after its answer")
	}
	if err := <-stopped; err != nil {
		t.Errorf("Serve = %v", err)
	}
}

// TestLoopBareLF checks requests whose lines end in a bare LF, which
// nginx and net/http take (RFC 9112 2.2): the loop serves them, pipelined
// and with a body, and one it hands over (HTTP/1.0) is served too.
func TestLoopBareLF(t *testing.T) { forEachPath(t, testLoopBareLF) }

func testLoopBareLF(t *testing.T, path dataPath) {
	b := pathBackend(t)
	r := start(t, path, oneApp(testApp(b, b)), Options{})
	c := dialRaw(t, r)
	c.send(t, "GET /a HTTP/1.1\nHost: x\n\nPOST /b HTTP/1.1\nHost: x\nContent-Length: 3\n\na\nbGET /c HTTP/1.1\r\nHost: x\n\r\n")
	for _, want := range []string{"GET /a ", "POST /b a\nb", "GET /c "} {
		if res, body := c.response(t, http.MethodGet); res.StatusCode != 200 || body != want {
			t.Errorf("answer %d %q, want 200 %q", res.StatusCode, body, want)
		}
	}
	c = dialRaw(t, r)
	c.send(t, "GET /old HTTP/1.0\nHost: x\n\n")
	if res, body := c.response(t, http.MethodGet); res.StatusCode != 200 || body != "GET /old " {
		t.Errorf("HTTP/1.0 answer %d %q, want 200 \"GET /old \"", res.StatusCode, body)
	}
}

// TestLoopMixedListener checks a listener shared by an app the loops serve
// and one they cannot (an https backend): the loops front it, serve the
// first app and hand the second one's connections to net/http, which
// reaches its backend over TLS. Before, one https backend anywhere on a
// listener kept every app on it off the loops.
//
// One path: it checks that the loops front a listener shared with an app
// they cannot serve; net/http serves all of it (TestPathChosen).
func TestLoopMixedListener(t *testing.T) {
	t.Parallel()
	plain := pathBackend(t)
	secure := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "tls %s %s", r.TLS.ServerName, r.URL.Path)
	}))
	secure.StartTLS()
	t.Cleanup(secure.Close)
	roots := x509.NewCertPool()
	roots.AddCert(secure.Certificate())
	cfg := &tls.Config{ServerName: "example.com", RootCAs: roots}
	m := &manifest.Manifest{Apps: map[string]*manifest.App{
		"web": {Listen: "127.0.0.1:0", Hosts: []string{"plain.test"},
			Old: manifest.Pool{Backends: []string{plain.URL}}, New: manifest.Pool{Backends: []string{plain.URL}}},
		"paas": {Listen: "127.0.0.1:0", Hosts: []string{"paas.test"},
			Old: manifest.Pool{Backends: []string{secure.URL}}, New: manifest.Pool{Backends: []string{secure.URL}}},
	}}
	r := start(t, pathAuto, m, Options{UpstreamTLS: map[PoolKey]*tls.Config{
		{App: "paas", Side: telemetry.SideOld}: cfg, {App: "paas", Side: telemetry.SideNew}: cfg}})
	if l := r.p.listeners[0]; !r.p.servedByLoops(l) {
		t.Fatal("listener not on loops")
	}
	for i := range 2 { // the hand-over, then its connection on net/http
		for _, tt := range []struct{ host, want string }{{"plain.test", "GET /p "}, {"paas.test", "tls example.com /p"}} {
			code, _, body := r.do(t, http.MethodGet, "/p", tt.host, nil)
			if code != 200 || body != tt.want {
				t.Errorf("round %d, %s: %d %q, want 200 %q", i, tt.host, code, body, tt.want)
			}
		}
	}
}

// TestLoopPipelinedHandOff checks requests written in one write where one
// in the middle is handed to net/http's server: the bytes after it go
// with it and every answer comes back in order.
func TestLoopPipelinedHandOff(t *testing.T) { forEachPath(t, testLoopPipelinedHandOff) }

func testLoopPipelinedHandOff(t *testing.T, path dataPath) {
	tests := []struct {
		name, middle, want string
	}{
		{"chunked POST", "POST /m HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", "POST /m abc"},
		{"Content-Length POST", "POST /m HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", "POST /m abc"},
		{"HTTP/1.0", "GET /m HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n", "GET /m "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := pathBackend(t)
			r := start(t, path, oneApp(testApp(b, b)), Options{})
			c := dialRaw(t, r)
			c.send(t, get("/a")+tt.middle+get("/c"))
			for _, want := range []string{"GET /a ", tt.want, "GET /c "} {
				if res, body := c.response(t, http.MethodGet); res.StatusCode != 200 || body != want {
					t.Errorf("answer %d %q, want 200 %q", res.StatusCode, body, want)
				}
			}
		})
	}
}

// TestLoopSplitHead checks a request head arriving a byte at a time.
func TestLoopSplitHead(t *testing.T) { forEachPath(t, testLoopSplitHead) }

func testLoopSplitHead(t *testing.T, path dataPath) {
	b := pathBackend(t)
	r := start(t, path, oneApp(testApp(b, b)), Options{})
	c := dialRaw(t, r)
	req := "POST /split HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody"
	for i := range len(req) {
		c.send(t, req[i:i+1])
	}
	if res, body := c.response(t, http.MethodPost); res.StatusCode != 200 || body != "POST /split body" {
		t.Errorf("got %d %q", res.StatusCode, body)
	}
}

// TestLoopClientLeavesMidBody checks a client that leaves in the middle
// of a streamed body: the backend's request ends and the connection is
// not reused, and the request is counted.
func TestLoopClientLeavesMidBody(t *testing.T) { forEachPath(t, testLoopClientLeavesMidBody) }

func testLoopClientLeavesMidBody(t *testing.T, path dataPath) {
	arrived, ended := make(chan struct{}, 1), make(chan error, 1)
	b := newBackendFunc(t, "b", func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		_, err := io.Copy(io.Discard, r.Body)
		ended <- err
	})
	metrics, reg := newMetrics(t)
	r := start(t, path, oneApp(testApp(b, b)), Options{Metrics: metrics})
	c := dialRaw(t, r)
	// Past the first MiB, which is read before the backend is (readBody).
	c.send(t, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4194304\r\n\r\n"+strings.Repeat("x", maxRetryBody+100000))
	<-arrived
	c.Close()
	select {
	case err := <-ended:
		if err == nil {
			t.Error("the backend read a whole body, want it cut")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the backend's request did not end")
	}
	old := map[string]string{"app": "web", "side": "old"}
	eventually(t, "the request to be counted", func() bool {
		return metricValue(t, reg, "migrate_proxy_requests_total", with(old, "code_class", "4xx")) == 1
	})
}

// TestLoopUpgradeAfterRequest checks a websocket upgrade on a connection
// a loop has served a request on: handed over, it reaches the backend
// and frames go both ways.
func TestLoopUpgradeAfterRequest(t *testing.T) { forEachPath(t, testLoopUpgradeAfterRequest) }

func testLoopUpgradeAfterRequest(t *testing.T, path dataPath) {
	ws := echoBackend(t)
	r := start(t, path, oneApp(testApp(ws, ws)), Options{})
	c := dialRaw(t, r)
	c.send(t, get("/"))
	if res, _ := c.response(t, http.MethodGet); res.StatusCode == http.StatusSwitchingProtocols {
		t.Fatalf("plain GET answered %d", res.StatusCode)
	}
	c.send(t, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	res, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusSwitchingProtocols || res.Header.Get("Sec-Websocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("upgrade answer %d, accept %q", res.StatusCode, res.Header.Get("Sec-Websocket-Accept"))
	}
	// A masked text frame "hi" (RFC 6455 5.2); the echo comes unmasked.
	mask := []byte{1, 2, 3, 4}
	frame := []byte{0x81, 0x80 | 2, mask[0], mask[1], mask[2], mask[3], 'h' ^ mask[0], 'i' ^ mask[1]}
	if _, err := c.Write(frame); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(c.br, got); err != nil {
		t.Fatal(err)
	}
	if want := []byte{0x81, 2, 'h', 'i'}; !bytes.Equal(got, want) {
		t.Errorf("echo frame %q, want %q", got, want)
	}
}

// TestLoopServesItself checks that a loop answers the requests it once
// handed to net/http itself, keeping the connection (what they are
// answered is TestRequestRules's, on every path): no connection goes to
// net/http.
func TestLoopServesItself(t *testing.T) {
	tests := []struct {
		name, send string
		wantCode   int
	}{
		{"host no app claims", "GET / HTTP/1.1\r\nHost: nobody.test\r\n\r\n", 421},
		{"CORS preflight", "OPTIONS /api HTTP/1.1\r\nHost: shop.test\r\nOrigin: https://shop.test\r\nAccess-Control-Request-Method: PUT\r\n\r\n", 204},
		{"HTTP/1.0 keep-alive", "GET / HTTP/1.0\r\nHost: shop.test\r\nConnection: keep-alive\r\n\r\n", 200},
		{"HTTP/1.0 421", "GET / HTTP/1.0\r\nHost: nobody.test\r\nConnection: keep-alive\r\n\r\n", 421},
		{"HTTP/1.0 without Host", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 421},
		{"chunked upload", "POST /up HTTP/1.1\r\nHost: shop.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 200},
		{"100-continue", "POST /up HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello", 200},
		{"CORS preflight refused", "OPTIONS /api HTTP/1.1\r\nHost: shop.test\r\nOrigin: https://evil.test\r\nAccess-Control-Request-Method: PUT\r\n\r\n", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var handed atomic.Int64
			shop, admin := newSeenBackend(t), newSeenBackend(t)
			r := serveProxy(t, probeApps(shop, admin), Options{test: testHooks{handedOff: func() { handed.Add(1) }}})
			c := r.dial(t)
			c.send(t, tt.send)
			res, body := c.response(t, http.MethodGet)
			for res.StatusCode == http.StatusContinue {
				res, body = c.response(t, http.MethodGet)
			}
			if res.StatusCode != tt.wantCode {
				t.Errorf("answer %d %q, want %d", res.StatusCode, body, tt.wantCode)
			}
			c.send(t, "GET /next HTTP/1.1\r\nHost: shop.test\r\n\r\n")
			if res, body := c.response(t, http.MethodGet); res.StatusCode != 200 {
				t.Errorf("next answer %d %q, want 200", res.StatusCode, body)
			}
			if n := handed.Load(); n != 0 {
				t.Errorf("%d connections handed to net/http, want none", n)
			}
		})
	}
}
