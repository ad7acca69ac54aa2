//go:build linux

package lb

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/migratekit/migrate/manifest"
)

// Tests of the loop path's side towards the backends (loopup_linux.go):
// answers framed every way, stale and failing connections, timeouts, over
// raw backends that write exactly the bytes a case needs.

const nextAnswer = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext"

// TestLoopAnswerFraming checks that answers framed every way reach the
// client byte for byte, and that the connection goes on after them when
// their end is known.
func TestLoopAnswerFraming(t *testing.T) {
	forEachPath(t, testLoopAnswerFraming)
}

func testLoopAnswerFraming(t *testing.T, path dataPath) {
	tests := []struct {
		name      string
		method    string
		answer    string // the backend's answer
		closeUp   bool   // the backend closes after it
		wantCodes []int  // the heads the client gets (1xx first)
		wantHdr   map[string]string
		wantBody  string // the bytes after the final head, exactly
		wantClose bool   // the client connection closes after the answer
	}{
		{name: "chunked with trailer", method: "GET",
			answer:    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: abc\r\n\r\n",
			wantCodes: []int{200}, wantHdr: map[string]string{"Transfer-Encoding": "chunked"},
			wantBody: "5\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: abc\r\n\r\n"},
		{name: "chunked with a Content-Length", method: "GET",
			answer:    "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
			wantCodes: []int{200}, wantHdr: map[string]string{"Transfer-Encoding": "chunked", "Content-Length": ""},
			wantBody: "2\r\nok\r\n0\r\n\r\n"},
		{name: "close-delimited", method: "GET", answer: "HTTP/1.1 200 OK\r\n\r\nbody", closeUp: true,
			wantCodes: []int{200}, wantHdr: map[string]string{"Connection": "close"}, wantBody: "body", wantClose: true},
		{name: "Content-Length 0", method: "GET", answer: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
			wantCodes: []int{200}, wantHdr: map[string]string{"Content-Length": "0"}},
		{name: "204", method: "GET", answer: "HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n",
			wantCodes: []int{204}, wantHdr: map[string]string{"X-A": "1"}},
		{name: "204 with a length and a stray body", method: "GET", answer: "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello", closeUp: true,
			wantCodes: []int{204}, wantHdr: map[string]string{"Content-Length": ""}},
		{name: "204 with Transfer-Encoding", method: "GET", answer: "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n", closeUp: true,
			wantCodes: []int{204}, wantHdr: map[string]string{"Transfer-Encoding": ""}},
		{name: "Content-Length twice", method: "GET", answer: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
			wantCodes: []int{200}, wantHdr: map[string]string{"Content-Length": "2"}, wantBody: "ok"},
		{name: "304 with a length", method: "GET", answer: "HTTP/1.1 304 Not Modified\r\nETag: \"e\"\r\nContent-Length: 10\r\n\r\n",
			wantCodes: []int{304}, wantHdr: map[string]string{"Etag": "\"e\"", "Content-Length": "10"}},
		{name: "103 then 200", method: "GET",
			answer:    "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
			wantCodes: []int{103, 200}, wantHdr: map[string]string{"Content-Length": "2"}, wantBody: "ok"},
		{name: "HEAD with a length", method: "HEAD", answer: "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n",
			wantCodes: []int{200}, wantHdr: map[string]string{"Content-Length": "1234"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rb := newRawBackend(t, func(req *http.Request, _ int) (string, bool) {
				if req.URL.Path == "/next" {
					return nextAnswer, false
				}
				return tt.answer, tt.closeUp
			})
			r := start(t, path, oneApp(rb.app()), Options{})
			c := dialRaw(t, r)
			c.send(t, tt.method+" /case HTTP/1.1\r\nHost: x\r\n\r\n")
			var h textproto.MIMEHeader
			for i, want := range tt.wantCodes {
				var code int
				code, h = c.head(t)
				if code != want {
					t.Fatalf("head %d: status %d, want %d", i, code, want)
				}
				if code == 103 && h.Get("Link") != "</a.css>; rel=preload" {
					t.Errorf("103 Link = %q", h.Get("Link"))
				}
			}
			for k, want := range tt.wantHdr {
				if path == pathNetHTTP && code304(tt.wantCodes) && k == "Content-Length" {
					// The one allowed difference: net/http's server deletes
					// the Content-Length of every 304 it sends (it cannot be
					// told otherwise), where the loops pass it on. It is
					// harmless: a 304 has no body whatever its length says,
					// and a cache must not take Content-Length from a 304
					// into the response it stored (RFC 9111 3.2).
					want = ""
				}
				if got := h.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if n := len(h["Content-Length"]); n > 1 {
				t.Errorf("%d Content-Length fields, want one at most", n)
			}
			if tt.wantClose {
				body, err := io.ReadAll(c.br)
				if string(body) != tt.wantBody || err != nil {
					t.Errorf("body to the end: %q, %v; want %q", body, err, tt.wantBody)
				}
				return
			}
			body := make([]byte, len(tt.wantBody))
			if _, err := io.ReadFull(c.br, body); err != nil || string(body) != tt.wantBody {
				t.Errorf("body %q, %v; want %q", body, err, tt.wantBody)
			}
			c.send(t, get("/next"))
			if res, body := c.response(t, http.MethodGet); res.StatusCode != 200 || body != "next" {
				t.Errorf("next answer on the connection: %d %q", res.StatusCode, body)
			}
		})
	}
}

// code304 reports whether the final answer of codes is a 304.
func code304(codes []int) bool { return codes[len(codes)-1] == http.StatusNotModified }

// TestLoopStaleBackend checks that a kept-alive backend connection the
// backend closed is replaced for a GET, without an error, and that a POST
// the backend read before closing is not sent again.
func TestLoopStaleBackend(t *testing.T) { forEachPath(t, testLoopStaleBackend) }

func testLoopStaleBackend(t *testing.T, path dataPath) {
	t.Run("closed between requests", func(t *testing.T) {
		closedUp := make(chan struct{}, 4)
		rb := newRawBackend(t, func(*http.Request, int) (string, bool) {
			defer func() { closedUp <- struct{}{} }()
			return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", true // no Connection: close
		})
		metrics, reg := newMetrics(t)
		r := start(t, path, oneApp(rb.app()), Options{Metrics: metrics})
		c := dialRaw(t, r)
		for i := range 3 {
			c.send(t, get("/"))
			if res, body := c.response(t, http.MethodGet); res.StatusCode != 200 || body != "ok" {
				t.Fatalf("GET %d: %d %q", i, res.StatusCode, body)
			}
			<-closedUp
		}
		for _, reason := range []string{"connect", "bad_gateway"} {
			if got := metricValue(t, reg, "migrate_proxy_errors_total", map[string]string{"app": "web", "side": "old", "reason": reason}); got != 0 {
				t.Errorf("%s errors = %v, want 0", reason, got)
			}
		}
	})
	t.Run("closed after reading the next request", func(t *testing.T) {
		// The second request on each backend connection is read, then the
		// connection closes without an answer.
		rb := newRawBackend(t, func(req *http.Request, n int) (string, bool) {
			if n > 1 {
				return "", true
			}
			return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false
		})
		r := start(t, path, oneApp(rb.app()), Options{})
		c := dialRaw(t, r)
		for _, path := range []string{"/warm", "/again"} {
			c.send(t, get(path))
			if res, body := c.response(t, http.MethodGet); res.StatusCode != 200 || body != "ok" {
				t.Fatalf("GET %s: %d %q, want 200 \"ok\"", path, res.StatusCode, body)
			}
		}
		if got := rb.count("GET /again"); got != 2 {
			t.Errorf("backend saw GET /again %d times, want 2 (sent again on a fresh connection)", got)
		}
		c.send(t, "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx")
		if res, _ := c.response(t, http.MethodPost); res.StatusCode != http.StatusBadGateway {
			t.Errorf("POST on a connection closed after reading it: %d, want 502", res.StatusCode)
		}
		if got := rb.count("POST /p"); got != 1 {
			t.Errorf("backend saw the POST %d times, want 1", got)
		}
		c.send(t, "GET /warm HTTP/1.1\r\nHost: x\r\n\r\n")
		if res, _ := c.response(t, http.MethodGet); res.StatusCode != 200 {
			t.Fatalf("GET /warm: %d", res.StatusCode)
		}
		c.send(t, "POST /key HTTP/1.1\r\nHost: x\r\nIdempotency-Key: k1\r\nContent-Length: 1\r\n\r\nx")
		if res, _ := c.response(t, http.MethodPost); res.StatusCode != 200 {
			t.Errorf("POST with an Idempotency-Key on a stale connection: %d, want 200", res.StatusCode)
		}
		if got := rb.count("POST /key"); got != 2 {
			t.Errorf("backend saw the POST with an Idempotency-Key %d times, want 2 (sent again)", got)
		}
	})
}

// TestLoopBadAnswerHead checks that an answer head a loop cannot use is
// a counted 502.
func TestLoopBadAnswerHead(t *testing.T) { forEachPath(t, testLoopBadAnswerHead) }

func testLoopBadAnswerHead(t *testing.T, path dataPath) {
	tests := []struct{ name, answer string }{
		{"garbage", "garbage\r\n\r\n"},
		{"101 without an upgrade", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"},
		{"bad length", "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rb := newRawBackend(t, func(*http.Request, int) (string, bool) { return tt.answer, true })
			metrics, reg := newMetrics(t)
			r := start(t, path, oneApp(rb.app()), Options{Metrics: metrics})
			c := dialRaw(t, r)
			c.send(t, get("/"))
			if res, _ := c.response(t, http.MethodGet); res.StatusCode != http.StatusBadGateway {
				t.Errorf("status %d, want 502", res.StatusCode)
			}
			if got := metricValue(t, reg, "migrate_proxy_errors_total", map[string]string{"app": "web", "side": "old", "reason": "bad_gateway"}); got != 1 {
				t.Errorf("bad_gateway errors = %v, want 1", got)
			}
		})
	}
}

// TestLoopConnectFailure checks backends a loop cannot connect to: one
// nobody listens on (refused) and one that does not complete the connect
// (its accept queue full). A GET goes to another backend; with none left,
// the answer is a counted 502 or 504.
func TestLoopConnectFailure(t *testing.T) { forEachPath(t, testLoopConnectFailure) }

func testLoopConnectFailure(t *testing.T, path dataPath) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	full := fullListener(t)
	good := newBackend(t, "good")
	tests := []struct {
		name     string
		backends []string
		wantCode int
		wantBody string
		reason   string // of the error counted when no backend is left
	}{
		{"refused, retried on another backend", []string{dead, good.URL}, 200, "good", ""},
		{"refused, no other backend", []string{dead}, 502, "bad gateway\n", "connect"},
		{"connect timeout, retried on another backend", []string{full, good.URL}, 200, "good", ""},
		{"connect timeout, no other backend", []string{full}, http.StatusGatewayTimeout, "gateway timeout\n", "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := &manifest.App{Listen: "127.0.0.1:0", Old: manifest.Pool{Backends: tt.backends}, New: manifest.Pool{Backends: []string{good.URL}},
				Timeouts: manifest.Timeouts{Connect: manifest.Duration(100 * time.Millisecond)}}
			metrics, reg := newMetrics(t)
			r := start(t, path, oneApp(app), Options{Metrics: metrics})
			r.p.App("web").sides[sideOld].pool.next.Store(uint64(len(tt.backends) - 1)) // start at the failing one
			c := dialRaw(t, r)
			c.send(t, get("/"))
			res, body := c.response(t, http.MethodGet)
			if res.StatusCode != tt.wantCode || body != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", res.StatusCode, body, tt.wantCode, tt.wantBody)
			}
			old := map[string]string{"app": "web", "side": "old"}
			for _, reason := range []string{"connect", "timeout"} {
				want := 0.0
				if reason == tt.reason {
					want = 1
				}
				if got := metricValue(t, reg, "migrate_proxy_errors_total", with(old, "reason", reason)); got != want {
					t.Errorf("%s errors = %v, want %v", reason, got, want)
				}
			}
			if len(tt.backends) > 1 {
				if got := metricValue(t, reg, "migrate_proxy_retries_total", old); got != 1 {
					t.Errorf("retries = %v, want 1", got)
				}
			}
		})
	}
}

// TestLoopLargeAnswer checks answers much larger than a loop's buffers,
// by length and chunked, read by a client slower than the backend.
func TestLoopLargeAnswer(t *testing.T) { forEachPath(t, testLoopLargeAnswer) }

func testLoopLargeAnswer(t *testing.T, path dataPath) {
	payload := bytes.Repeat([]byte("0123456789abcdef"), 5<<16) // 5 MiB
	b := newBackendFunc(t, "b", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/length" {
			w.Header().Set("Content-Length", fmt.Sprint(len(payload)))
		}
		for p := payload; len(p) > 0; p = p[min(len(p), 100000):] {
			w.Write(p[:min(len(p), 100000)])
			w.(http.Flusher).Flush()
		}
	})
	r := start(t, path, oneApp(testApp(b, b)), Options{})
	c := dialRaw(t, r)
	for _, path := range []string{"/length", "/chunked"} {
		c.send(t, get(path))
		res, body := c.response(t, http.MethodGet)
		if res.StatusCode != 200 || sha256.Sum256([]byte(body)) != sha256.Sum256(payload) {
			t.Errorf("%s: %d, %d bytes, want 200 and the %d bytes sent", path, res.StatusCode, len(body), len(payload))
		}
	}
}

// TestLoopConnectionClose checks the close of a connection asked by
// either end: the client's request ends it after the answer; the
// backend's keeps the client's open.
func TestLoopConnectionClose(t *testing.T) { forEachPath(t, testLoopConnectionClose) }

func testLoopConnectionClose(t *testing.T, path dataPath) {
	rb := newRawBackend(t, func(req *http.Request, _ int) (string, bool) {
		if req.URL.Path == "/close" {
			return "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", true
		}
		return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false
	})
	r := start(t, path, oneApp(rb.app()), Options{})
	c := dialRaw(t, r)
	for i := range 2 {
		c.send(t, get("/close"))
		if res, body := c.response(t, http.MethodGet); res.StatusCode != 200 || body != "ok" || res.Close {
			t.Errorf("answer %d to a backend's close: %d %q close=%v, want 200 \"ok\" kept alive", i, res.StatusCode, body, res.Close)
		}
	}
	if got := rb.conns.Load(); got != 2 {
		t.Errorf("backend connections = %d, want 2 (none reused after its close)", got)
	}
	c.send(t, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if res, _ := c.response(t, http.MethodGet); res.StatusCode != 200 || !res.Close {
		t.Errorf("answer to a client's close: %d close=%v, want 200 with Connection: close", res.StatusCode, res.Close)
	}
	if !c.closed() {
		t.Error("the connection stays open after Connection: close")
	}
}

// TestLoopInterimThenTimeout checks a backend that sends 103 Early Hints
// and then nothing: the client gets the 103, then a 504 when the
// response-header timeout ends the wait, as on the other paths.
func TestLoopInterimThenTimeout(t *testing.T) { forEachPath(t, testLoopInterimThenTimeout) }

func testLoopInterimThenTimeout(t *testing.T, path dataPath) {
	app := hintingApp(t)
	metrics, reg := newMetrics(t)
	r := start(t, path, oneApp(app), Options{Metrics: metrics})
	c := dialRaw(t, r)
	c.send(t, get("/"))
	if code, _ := c.head(t); code != 103 {
		t.Fatalf("first head %d, want 103", code)
	}
	if res, body := c.response(t, http.MethodGet); res.StatusCode != http.StatusGatewayTimeout || body != "gateway timeout\n" {
		t.Errorf("final answer %d %q, want 504 \"gateway timeout\\n\"", res.StatusCode, body)
	}
	if got := metricValue(t, reg, "migrate_proxy_errors_total", map[string]string{"app": "web", "side": "old", "reason": "timeout"}); got != 1 {
		t.Errorf("timeout errors = %v, want 1", got)
	}
}

// fullListener is a backend address whose accept queue is full: a
// connect to it waits (loopback's SYNs are dropped) until it times out.
func fullListener(t *testing.T) string {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*unix.SockaddrInet4).Port)
	for range 4 { // fill the queue: a connect that does not complete
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return "http://" + addr
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Fatal("could not fill the accept queue of a listener")
	return ""
}

// TestLoopAnswerMisframed checks answers whose framing the backend breaks:
// bytes past the announced length are dropped (and the backend connection
// not reused); an answer cut short reaches the client cut, and its
// connection closes.
func TestLoopAnswerMisframed(t *testing.T) {
	forEachPath(t, testLoopAnswerMisframed)
}

func testLoopAnswerMisframed(t *testing.T, path dataPath) {
	t.Run("bytes past the length", func(t *testing.T) {
		rb := newRawBackend(t, func(req *http.Request, _ int) (string, bool) {
			if req.URL.Path == "/next" {
				return nextAnswer, false
			}
			return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", false
		})
		r := start(t, path, oneApp(rb.app()), Options{})
		c := dialRaw(t, r)
		c.send(t, get("/"))
		if res, body := c.response(t, http.MethodGet); res.StatusCode != 200 || body != "ok" {
			t.Errorf("answer %d %q, want 200 \"ok\"", res.StatusCode, body)
		}
		c.send(t, get("/next"))
		if res, body := c.response(t, http.MethodGet); res.StatusCode != 200 || body != "next" {
			t.Errorf("next answer %d %q, want 200 \"next\"", res.StatusCode, body)
		}
		if got := rb.conns.Load(); got != 2 {
			t.Errorf("backend connections = %d, want 2 (the misframed one not reused)", got)
		}
	})
	t.Run("chunked with a Content-Length", func(t *testing.T) {
		rb := newRawBackend(t, func(req *http.Request, _ int) (string, bool) {
			return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", false
		})
		r := start(t, path, oneApp(rb.app()), Options{})
		c := dialRaw(t, r)
		for i := range 2 {
			c.send(t, get("/"))
			if res, body := c.response(t, http.MethodGet); res.StatusCode != 200 || body != "ok" {
				t.Errorf("answer %d: %d %q, want 200 \"ok\"", i, res.StatusCode, body)
			}
		}
		if got := rb.conns.Load(); got != 2 {
			t.Errorf("backend connections = %d, want 2 (none reused after a doubtful framing)", got)
		}
	})
	t.Run("cut short", func(t *testing.T) {
		rb := newRawBackend(t, func(*http.Request, int) (string, bool) {
			return "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", true
		})
		r := start(t, path, oneApp(rb.app()), Options{})
		c := dialRaw(t, r)
		c.send(t, get("/"))
		res, err := http.ReadResponse(c.br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(res.Body)
		if string(body) != "abc" || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("body %q, %v; want \"abc\" cut short", body, err)
		}
	})
}

// TestLoopPipelinedMixed checks pipelined requests around a failed one and
// around large answers that fill a loop's buffers while the client has not
// read yet.
func TestLoopPipelinedMixed(t *testing.T) { forEachPath(t, testLoopPipelinedMixed) }

func testLoopPipelinedMixed(t *testing.T, path dataPath) {
	big := strings.Repeat("b", 100<<10)
	rb := newRawBackend(t, func(req *http.Request, _ int) (string, bool) {
		switch req.URL.Path {
		case "/bad":
			return "garbage\r\n\r\n", true
		case "/big":
			return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(big), big), false
		}
		return nextAnswer, false
	})
	r := start(t, path, oneApp(rb.app()), Options{})
	c := dialRaw(t, r)
	paths := []string{"/a", "/bad", "/big", "/big", "/c", "/big", "/bad", "/d"}
	var all strings.Builder
	for _, p := range paths {
		all.WriteString(get(p))
	}
	c.send(t, all.String())
	for _, p := range paths {
		wantCode, wantBody := 200, "next"
		switch p {
		case "/bad":
			wantCode, wantBody = http.StatusBadGateway, "bad gateway\n"
		case "/big":
			wantBody = big
		}
		if res, body := c.response(t, http.MethodGet); res.StatusCode != wantCode || body != wantBody {
			t.Errorf("%s: %d, %d bytes, want %d, %d bytes", p, res.StatusCode, len(body), wantCode, len(wantBody))
		}
	}
}

// TestLoopHTTP10Backend checks an HTTP/1.0 backend: the client gets its
// answer in HTTP/1.1, as from the other paths, and keeps its connection.
func TestLoopHTTP10Backend(t *testing.T) { forEachPath(t, testLoopHTTP10Backend) }

func testLoopHTTP10Backend(t *testing.T, path dataPath) {
	rb := newRawBackend(t, func(req *http.Request, _ int) (string, bool) {
		return "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", true
	})
	r := start(t, path, oneApp(rb.app()), Options{})
	c := dialRaw(t, r)
	for i := range 2 {
		c.send(t, get("/"))
		res, body := c.response(t, http.MethodGet)
		if res.StatusCode != 200 || body != "ok" || res.Proto != "HTTP/1.1" || res.Close {
			t.Errorf("answer %d: %s %d %q close=%v, want HTTP/1.1 200 \"ok\" kept alive", i, res.Proto, res.StatusCode, body, res.Close)
		}
	}
}
