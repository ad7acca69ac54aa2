package lb

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/migratekit/migrate/manifest"
)

// TestLargeBodies sends bodies larger than the buffered limit both
// ways: an upload streams to the backend, a download to the client.
func TestLargeBodies(t *testing.T) { forEachPath(t, testLargeBodies) }

func testLargeBodies(t *testing.T, path dataPath) {
	const size = 8 << 20
	payload := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	sum := sha256.Sum256(payload)
	var gotUpload atomic.Value
	b := newBackendFunc(t, "big", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			h := sha256.New()
			n, _ := io.Copy(h, r.Body)
			gotUpload.Store(fmt.Sprintf("%d %x", n, h.Sum(nil)))
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(size))
		w.Write(payload)
	})
	other := newBackend(t, "other")
	app := testApp(b, b)
	app.Old.Backends = append(app.Old.Backends, other.URL) // retries are possible: the upload is still not buffered
	r := start(t, path, oneApp(app), Options{})
	for i := range 2 { // the first PUT goes to other (round robin)
		req, _ := http.NewRequest(http.MethodPut, r.base+"/up", bytes.NewReader(payload))
		res, err := r.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("PUT %d: status %d", i, res.StatusCode)
		}
	}
	if want := fmt.Sprintf("%d %x", size, sum); gotUpload.Load() != want {
		t.Errorf("backend got upload %v, want %s", gotUpload.Load(), want)
	}
	for range 2 {
		res, err := r.client.Get(r.base + "/down")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if res.Header.Get("X-Backend") != "big" {
			continue
		}
		if sha256.Sum256(body) != sum || res.ContentLength != size {
			t.Errorf("download: %d bytes (Content-Length %d), want %d with the same sum", len(body), res.ContentLength, size)
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
	for _, uri := range []string{"/a/../b%2Fc//d?x=%20&y", "/%7euser/./x;p=1?a=b?c", "/x?="} {
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
			r.Header.Get("Te"), r.Header.Get("Connection"),
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
	res := send("/close", "Connection: X-Secret\r\nX-Secret: 1\r\nKeep-Alive: 300\r\nProxy-Authorization: Basic eDp5\r\nTe: gzip\r\n")
	if got := res.Header.Get("X-Seen"); got != "||||" {
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

// TestHeadAnswer checks that the answer to HEAD keeps the backend's
// Content-Length and has no body.
func TestHeadAnswer(t *testing.T) { forEachPath(t, testHeadAnswer) }

func testHeadAnswer(t *testing.T, path dataPath) {
	b := newBackendFunc(t, "b", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1234")
		if r.Method != http.MethodHead {
			w.Write(make([]byte, 1234))
		}
	})
	r := start(t, path, oneApp(testApp(b, b)), Options{})
	res, err := r.client.Head(r.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.ContentLength != 1234 {
		t.Errorf("HEAD Content-Length = %d, want 1234", res.ContentLength)
	}
}

// TestStaleConnection checks that a kept-alive backend connection the
// backend closed meanwhile costs an idempotent request nothing.
func TestStaleConnection(t *testing.T) { forEachPath(t, testStaleConnection) }

func testStaleConnection(t *testing.T, path dataPath) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			// One answer with keep-alive, then the connection is closed
			// before the next request arrives.
			br := bufio.NewReader(c)
			if req, err := http.ReadRequest(br); err == nil {
				req.Body.Close()
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Backend: once\r\n\r\nok")
			}
			time.Sleep(20 * time.Millisecond)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	app := &manifest.App{Listen: "127.0.0.1:0",
		Old: manifest.Pool{Backends: []string{"http://" + ln.Addr().String()}},
		New: manifest.Pool{Backends: []string{"http://" + ln.Addr().String()}}}
	r := start(t, path, oneApp(app), Options{})
	for i := range 3 {
		if _, code := r.get(t, nil); code != http.StatusOK {
			t.Fatalf("GET %d: status %d", i, code)
		}
		time.Sleep(50 * time.Millisecond) // the backend has closed the connection
	}
}

// TestDrainCutsStream checks that a drain deadline cuts an answer
// still streaming, and Serve returns.
func TestDrainCutsStream(t *testing.T) { forEachPath(t, testDrainCutsStream) }

func testDrainCutsStream(t *testing.T, path dataPath) {
	started := make(chan struct{}, 1)
	b := newBackendFunc(t, "b", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("first"))
		w.(http.Flusher).Flush()
		started <- struct{}{}
		<-r.Context().Done()
	})
	m := oneApp(testApp(b, b))
	m.Global.Drain = manifest.Duration(100 * time.Millisecond)
	r := start(t, path, m, Options{})
	res, err := r.client.Get(r.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	<-started
	stopped := make(chan error, 1)
	go func() { stopped <- r.stop() }()
	if _, err := io.ReadAll(res.Body); err == nil {
		t.Error("the stream ended cleanly, want it cut")
	}
	select {
	case err := <-stopped:
		if err != nil && !errors.Is(err, ErrDrainDeadline) {
			t.Errorf("Serve = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after the drain deadline")
	}
}

// TestChunkedUpload checks that a request body of unknown length (chunked)
// reaches the backend whole, small or large.
func TestChunkedUpload(t *testing.T) { forEachPath(t, testChunkedUpload) }

func testChunkedUpload(t *testing.T, path dataPath) {
	b := newBackendFunc(t, "b", func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		fmt.Fprintf(w, "%d %x %v", n, h.Sum(nil), err)
	})
	r := start(t, path, oneApp(testApp(b, b)), Options{})
	for _, size := range []int{10, 3 << 20} {
		payload := bytes.Repeat([]byte("x"), size)
		req, _ := http.NewRequest(http.MethodPost, r.base+"/", io.MultiReader(bytes.NewReader(payload))) // no length: chunked
		res, err := r.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if want := fmt.Sprintf("%d %x <nil>", size, sha256.Sum256(payload)); string(body) != want {
			t.Errorf("chunked upload of %d bytes: backend read %q, want %q", size, body, want)
		}
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

// TestRefusedUpgradeStreams checks that the answer to an upgrade request
// the backend refuses reaches the client while it is written, not once it
// is whole.
func TestRefusedUpgradeStreams(t *testing.T) { forEachPath(t, testRefusedUpgradeStreams) }

func testRefusedUpgradeStreams(t *testing.T, path dataPath) {
	received := make(chan struct{})
	b := newBackendFunc(t, "b", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", fmt.Sprint(256<<10+1000)) // a known length: ReverseProxy does not flush
		w.Write(make([]byte, 256<<10))                             // no upgrade: a plain answer
		select {
		case <-received: // the client has the first part
		case <-time.After(10 * time.Second):
			t.Error("the client got nothing of the answer while the backend wrote it")
		}
		w.Write(make([]byte, 1000))
	})
	r := start(t, path, oneApp(testApp(b, b)), Options{})
	req, _ := http.NewRequest(http.MethodGet, r.base+"/ws", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	res, err := r.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if _, err := io.ReadFull(res.Body, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	close(received)
	rest, err := io.ReadAll(res.Body)
	if err != nil || len(rest) != 256<<10 {
		t.Errorf("rest of the answer: %d bytes, %v; want %d", len(rest), err, 256<<10)
	}
}

// TestInterimThenSilence checks that the response-header timeout runs to
// the final answer head: a backend that sends 103 Early Hints and then
// nothing gets the client a 504, on every path.
func TestInterimThenSilence(t *testing.T) { forEachPath(t, testInterimThenSilence) }

func testInterimThenSilence(t *testing.T, path dataPath) {
	app := hintingApp(t)
	r := start(t, path, oneApp(app), Options{})
	r.client.Timeout = 10 * time.Second // a wait that never ends fails the test
	if code, _, body := r.do(t, http.MethodGet, "/", "", nil); code != http.StatusGatewayTimeout || body != "gateway timeout\n" {
		t.Errorf("answer %d %q, want 504 \"gateway timeout\\n\"", code, body)
	}
}

// hintingApp is an app whose one backend answers a request with 103
// Early Hints and then nothing, with a 100 ms response-header timeout.
func hintingApp(t *testing.T) *manifest.App {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hinted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(hinted)
			return
		}
		if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
			io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n")
		}
		hinted <- c // kept open, silent, until the test ends
	}()
	t.Cleanup(func() {
		ln.Close()
		if c, ok := <-hinted; ok {
			c.Close()
		}
	})
	u := "http://" + ln.Addr().String()
	return &manifest.App{Listen: "127.0.0.1:0", Old: manifest.Pool{Backends: []string{u}}, New: manifest.Pool{Backends: []string{u}},
		Timeouts: manifest.Timeouts{ResponseHeader: manifest.Duration(100 * time.Millisecond)}}
}
