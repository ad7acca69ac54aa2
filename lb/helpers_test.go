package lb

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/telemetry"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testBackend is an httptest backend that names itself in X-Backend and in
// its body, and remembers the last request's headers.
type testBackend struct {
	*httptest.Server
	name string
	hits atomic.Int64
	mu   sync.Mutex
	last http.Header
}

func newBackend(t *testing.T, name string) *testBackend {
	return newBackendFunc(t, name, nil)
}

// newBackendFunc starts a backend; next, when set, answers after the hit
// is counted (and may write the response itself).
func newBackendFunc(t *testing.T, name string, next http.HandlerFunc) *testBackend {
	t.Helper()
	b := &testBackend{name: name}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		b.mu.Lock()
		b.last = r.Header.Clone()
		b.last.Set("Host", r.Host)
		b.mu.Unlock()
		w.Header().Set("X-Backend", name)
		if next != nil {
			next(w, r)
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, name)
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *testBackend) lastHeader() http.Header {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last
}

func ptr[T any](v T) *T { return &v }

// testApp is an app on 127.0.0.1:0 with one backend per side.
func testApp(oldB, newB *testBackend) *manifest.App {
	return &manifest.App{
		Listen: "127.0.0.1:0",
		Old:    manifest.Pool{Backends: []string{oldB.URL}},
		New:    manifest.Pool{Backends: []string{newB.URL}},
	}
}

func oneApp(a *manifest.App) *manifest.Manifest {
	return &manifest.Manifest{Apps: map[string]*manifest.App{"web": a}}
}

// running is a proxy serving on real listeners, with a client.
type running struct {
	p      *Proxy
	base   string // http://addr of the 127.0.0.1:0 listener
	client *http.Client
	stop   func() error // cancels Serve and returns its result
	tls    *tls.Config  // the client's, on a TLS listener
}

// start is serveProxy on path: every test names the path it serves on,
// forEachPath's or, for a test of one path's internals, that one.
func start(t *testing.T, path dataPath, m *manifest.Manifest, opts Options) *running {
	t.Helper()
	opts.test.path = path
	return serveProxy(t, m, opts)
}

// do sends a request with the given Host and headers and returns the
// status, the X-Backend of the answer and its body.
func (r *running) do(t *testing.T, method, path, host string, hdr http.Header) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, r.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	res, err := r.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return res.StatusCode, res.Header, string(body)
}

// get returns the backend that served a GET (or "" if none did) and the
// status.
func (r *running) get(t *testing.T, hdr http.Header) (string, int) {
	t.Helper()
	code, h, _ := r.do(t, http.MethodGet, "/", "", hdr)
	return h.Get("X-Backend"), code
}

// newMetrics returns metrics on a fresh registry.
func newMetrics(t *testing.T) (*telemetry.Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := telemetry.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	return m, reg
}

// metricValue returns the value of the series of name with exactly these
// labels, or 0 if there is none.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	v, err := telemetry.Read(reg, name, labels)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// waitRefused waits until nothing accepts connections on addr (a drain
// has closed the listener).
func waitRefused(t *testing.T, addr string) {
	t.Helper()
	eventually(t, "the listener to refuse connections", func() bool {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
}

// eventually polls cond until it holds or 5s pass; it is for waiting on
// another goroutine, never for timing assertions.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rawBackend is a backend that answers each request (read with
// http.ReadRequest) with answer(request); close says to close the
// connection after it. It counts requests by "METHOD path".
type rawBackend struct {
	ln    net.Listener
	conns atomic.Int64 // connections accepted
	mu    sync.Mutex
	seen  map[string]int
}

func newRawBackend(t *testing.T, answer func(req *http.Request, n int) (string, bool)) *rawBackend {
	t.Helper()
	rb := &rawBackend{seen: map[string]int{}}
	rb.ln = serveConns(t, func(c net.Conn) {
		rb.conns.Add(1)
		rb.serve(c, answer)
	})
	return rb
}

// serveConns listens on a loopback port and runs handle on a goroutine per
// accepted connection; at cleanup it closes the listener and every
// connection and waits for the handlers.
func serveConns(t testing.TB, handle func(net.Conn)) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { handle(c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln
}

// serve answers the requests of one connection; n counts them from 1.
func (rb *rawBackend) serve(c net.Conn, answer func(*http.Request, int) (string, bool)) {
	defer c.Close()
	br := bufio.NewReader(c)
	for n := 1; ; n++ {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, req.Body)
		rb.mu.Lock()
		rb.seen[req.Method+" "+req.URL.Path]++
		rb.mu.Unlock()
		out, closeAfter := answer(req, n)
		if _, err := io.WriteString(c, out); err != nil || closeAfter {
			return
		}
	}
}

func (rb *rawBackend) count(what string) int {
	rb.mu.Lock()
	defer rb.mu.Unlock()
	return rb.seen[what]
}

func (rb *rawBackend) app() *manifest.App {
	u := "http://" + rb.ln.Addr().String()
	return &manifest.App{Listen: "127.0.0.1:0", Old: manifest.Pool{Backends: []string{u}}, New: manifest.Pool{Backends: []string{u}}}
}

// rawConn is a raw client connection to a proxy.
type rawConn struct {
	net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, r *running) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(r.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second)) // a hung test fails instead of hanging
	return &rawConn{Conn: c, br: bufio.NewReader(c)}
}

func (c *rawConn) send(t *testing.T, s string) {
	t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatalf("writing request: %v", err)
	}
}

// response reads one whole answer to a request of method.
func (c *rawConn) response(t *testing.T, method string) (*http.Response, string) {
	t.Helper()
	res, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading answer: %v", err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatalf("reading answer body: %v", err)
	}
	return res, string(body)
}

// head reads one answer head as it came: the status code and the header.
func (c *rawConn) head(t *testing.T) (int, textproto.MIMEHeader) {
	t.Helper()
	tp := textproto.NewReader(c.br)
	line, err := tp.ReadLine()
	if err != nil {
		t.Fatalf("reading status line: %v", err)
	}
	var code int
	if _, err := fmt.Sscanf(line, "HTTP/1.1 %d", &code); err != nil {
		t.Fatalf("status line %q: %v", line, err)
	}
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		t.Fatalf("reading header: %v", err)
	}
	return code, h
}

// closed reports whether the proxy closed the connection: a read ends
// with end of stream or a reset, not with the test's deadline.
func (c *rawConn) closed() bool {
	_, err := c.br.ReadByte()
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}
