package lb

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/migratekit/migrate/manifest"
)

// countingServer counts the connections its clients open.
func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	s := httptest.NewUnstartedServer(h)
	s.Config.ConnState = func(c net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s, &conns
}

func newTestH1(t *testing.T) *Upstream {
	t.Helper()
	tr := newH1Transport(manifest.Timeouts{}, newTransport(manifest.Timeouts{}, false, nil), nil)
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

func h1Get(t *testing.T, tr http.RoundTripper, method, url string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tr.RoundTrip(req)
}

func TestH1ReusesConnections(t *testing.T) {
	t.Parallel()
	s, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })
	tr := newTestH1(t)
	for i := 0; i < 10; i++ {
		resp, err := h1Get(t, tr, "GET", s.URL)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "hello" {
			t.Fatalf("body %q", b)
		}
	}
	if got := conns.Load(); got != 1 {
		t.Errorf("10 answers read to the end took %d connections, want 1", got)
	}
	// An answer abandoned halfway costs its connection.
	resp, err := h1Get(t, tr, "GET", s.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Read(make([]byte, 2))
	resp.Body.Close()
	resp, err = h1Get(t, tr, "GET", s.URL)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if got := conns.Load(); got != 2 {
		t.Errorf("after an abandoned answer: %d connections, want 2", got)
	}
}

// rawServer answers each connection's first request with keep-alive, then
// closes the connection without a word, as a backend whose idle timeout
// ran out does. Before its answer it sends a 103 Early Hints.
func rawServer(t *testing.T) (addr string, requests *atomic.Int64) {
	t.Helper()
	requests = new(atomic.Int64)
	ln := serveConns(t, func(c net.Conn) {
		defer c.Close()
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		requests.Add(1)
		io.Copy(io.Discard, req.Body)
		io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	})
	return ln.Addr().String(), requests
}

func TestH1StaleConnections(t *testing.T) {
	t.Parallel()
	tests := []struct {
		method    string
		wantRetry bool
	}{
		{"GET", true},
		{"HEAD", true},
		{"POST", false},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			addr, requests := rawServer(t)
			tr := newTestH1(t)
			resp, err := h1Get(t, tr, tt.method, "http://"+addr+"/")
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 200 {
				t.Fatalf("status %d, want the 200 after the 103", resp.StatusCode)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			// The pooled connection is dead now.
			resp, err = h1Get(t, tr, tt.method, "http://"+addr+"/")
			if tt.wantRetry {
				if err != nil {
					t.Fatalf("%s on a stale connection: %v, want it sent again on a new one", tt.method, err)
				}
				resp.Body.Close()
				if got := requests.Load(); got != 2 {
					t.Errorf("backend saw %d requests, want 2", got)
				}
				return
			}
			if err == nil {
				resp.Body.Close()
				t.Fatalf("%s on a stale connection succeeded; it must not be sent twice", tt.method)
			}
		})
	}
}

func TestH1ContextCancelMidBody(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	s, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", 64<<10))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	tr := newTestH1(t)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadFull(resp.Body, make([]byte, 1024))
	cancel()
	if _, err := io.Copy(io.Discard, resp.Body); err == nil {
		t.Fatal("reading on after the context ended: no error")
	}
	resp.Body.Close()
	resp, err = h1Get(t, tr, "GET", s.URL)
	if err == nil {
		resp.Body.Close()
	}
	if got := conns.Load(); got != 2 {
		t.Errorf("after a cancelled answer: %d connections, want 2 (the cut one is not reused)", got)
	}
}

// A request whose context ends while it is being sent fails at once, not
// when the response-header timeout runs out.
func TestUpstreamCancelledWhileSending(t *testing.T) {
	t.Parallel()
	hold := make(chan struct{})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hold:
		case <-r.Context().Done():
		}
	}))
	defer s.Close()
	defer close(hold)
	tr := NewUpstream(manifest.Timeouts{ResponseHeader: manifest.Duration(time.Hour)}, nil, 4, nil)
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithCancel(context.Background())
	body := &cancelOnRead{cancel: cancel, r: strings.NewReader("payload")}
	req, _ := http.NewRequestWithContext(ctx, "PUT", s.URL, body)
	req.ContentLength = int64(len("payload"))
	done := make(chan error, 1)
	go func() {
		resp, err := tr.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("RoundTrip of a cancelled request succeeded")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("RoundTrip of a request cancelled while sending still waits for the answer")
	}
}

// cancelOnRead cancels its request's context when the body is read.
type cancelOnRead struct {
	cancel func()
	r      io.Reader
}

func (c *cancelOnRead) Read(p []byte) (int, error) {
	c.cancel()
	return c.r.Read(p)
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
