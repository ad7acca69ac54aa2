package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// startProxy runs a loopproxy with loops loops on 127.0.0.1:0 in front of
// backend (host:port) until the test ends, and returns its address.
func startProxy(t *testing.T, backend string, loops int) string {
	t.Helper()
	srv, err := newServer("127.0.0.1:0", backend, loops, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	return srv.addr
}

// backendServer is an httptest backend that counts its new connections.
func backendServer(t *testing.T, h http.HandlerFunc) (addr string, conns *atomic.Int64) {
	t.Helper()
	conns = new(atomic.Int64)
	ts := httptest.NewUnstartedServer(h)
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	ts.Start()
	t.Cleanup(ts.Close)
	return ts.Listener.Addr().String(), conns
}

// newClient is an HTTP client with its own keep-alive connections, closed
// when the test ends.
func newHTTPClient(t *testing.T) *http.Client {
	tr := &http.Transport{MaxConnsPerHost: 1}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

type result struct {
	Status  int
	Body    string
	Chunked bool
}

func do(t *testing.T, c *http.Client, req *http.Request) result {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	chunked := len(resp.TransferEncoding) > 0 && resp.TransferEncoding[0] == "chunked"
	return result{resp.StatusCode, string(body), chunked}
}

func digest(b []byte) string { return fmt.Sprintf("%d %x", len(b), sha256.Sum256(b)) }

// TestProxy sends requests through a real proxy to a real backend.
func TestProxy(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	addr, _ := backendServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/fixed":
			io.WriteString(w, "xff="+r.Header.Get("X-Forwarded-For")+" abcdefgh")
		case "/teapot":
			w.WriteHeader(http.StatusTeapot)
			io.WriteString(w, r.Method+" "+r.URL.RequestURI())
		case "/chunked":
			for i := range 5 {
				fmt.Fprintf(w, "part %d;", i)
				w.(http.Flusher).Flush()
			}
		case "/big":
			w.Write(big)
		case "/echo":
			b, err := io.ReadAll(r.Body)
			if err != nil {
				w.WriteHeader(http.StatusInternalServerError)
			}
			io.WriteString(w, digest(b))
		case "/nocontent":
			w.WriteHeader(http.StatusNoContent)
		}
	})
	proxy := "http://" + startProxy(t, addr, 2)
	post := func(n int) *http.Request {
		b := bytes.Repeat([]byte{'p'}, n)
		req, _ := http.NewRequest(http.MethodPost, proxy+"/echo", bytes.NewReader(b))
		return req
	}
	get := func(method, path string) *http.Request {
		req, _ := http.NewRequest(method, proxy+path, nil)
		return req
	}
	tests := []struct {
		name string
		req  *http.Request
		want result
	}{
		{"GET fixed body, X-Forwarded-For", get("GET", "/fixed"), result{200, "xff=127.0.0.1 abcdefgh", false}},
		{"status and query", get("GET", "/teapot?a=b&c"), result{418, "GET /teapot?a=b&c", false}},
		{"chunked answer", get("GET", "/chunked"), result{200, "part 0;part 1;part 2;part 3;part 4;", true}},
		{"1 MiB answer", get("GET", "/big"), result{200, string(big), true}},
		{"HEAD has no body", get("HEAD", "/fixed"), result{200, "", false}},
		{"204", get("GET", "/nocontent"), result{204, "", false}},
		{"POST small body", post(100), result{200, digest(bytes.Repeat([]byte{'p'}, 100)), false}},
		{"POST 300 KiB body", post(300 << 10), result{200, digest(bytes.Repeat([]byte{'p'}, 300<<10)), false}},
		{"POST empty body", post(0), result{200, digest(nil), false}},
	}
	client := newHTTPClient(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := do(t, client, tt.req)
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("answer (-got +want):\n%s", diff)
			}
		})
	}
}

// TestStreaming checks that the answer reaches the client as the backend
// writes it: the backend holds its second part until the client has read
// the first.
func TestStreaming(t *testing.T) {
	firstRead := make(chan struct{})
	addr, _ := backendServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first;")
		w.(http.Flusher).Flush()
		select {
		case <-firstRead:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "second")
	})
	proxy := "http://" + startProxy(t, addr, 1)
	resp, err := newHTTPClient(t).Get(proxy + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first := make([]byte, len("first;"))
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatal(err)
	}
	close(firstRead)
	rest, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(first)+string(rest), "first;second"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestKeepAlive sends sequential requests on one client connection: they
// all go over one backend connection.
func TestKeepAlive(t *testing.T) {
	tests := []struct {
		name      string
		close     bool // the backend closes after each answer
		wantConns int64
	}{
		{"backend keeps alive", false, 1},
		{"backend closes", true, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, conns := backendServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Connection", map[bool]string{true: "close", false: "keep-alive"}[tt.close])
				io.WriteString(w, "ok")
			})
			proxy := "http://" + startProxy(t, addr, 2)
			var dials atomic.Int64
			tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				dials.Add(1)
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			}}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr}
			for range 20 {
				req, _ := http.NewRequest("GET", proxy+"/", nil)
				if got, want := do(t, client, req), (result{200, "ok", false}); got != want {
					t.Fatalf("got %+v, want %+v", got, want)
				}
			}
			if got := dials.Load(); got != 1 {
				t.Errorf("got %d client connections, want 1", got)
			}
			if got := conns.Load(); got != tt.wantConns {
				t.Errorf("got %d backend connections, want %d", got, tt.wantConns)
			}
		})
	}
}

// TestRaw sends raw bytes: pipelined requests answered in order, and what
// the proxy refuses.
func TestRaw(t *testing.T) {
	addr, _ := backendServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, r.URL.Path+" "+string(b))
	})
	proxy := startProxy(t, addr, 1)
	tests := []struct {
		name string
		send string
		want []string // status and body of each answer
	}{
		{"pipelined", "GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nxyzGET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			[]string{"200 /a ", "200 /b xyz", "200 /c "}},
		{"chunked request body", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
			[]string{"501 request bodies with transfer-encoding\r\n"}},
		{"bad request line", "GET /\r\n\r\n", []string{"400 bad request\n"}},
		{"bad header", "GET / HTTP/1.1\r\nHost x\r\n\r\n", []string{"400 bad request\n"}},
		{"two lengths", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", []string{"400 bad request\n"}},
		{"head too big", "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", headBuf) + "\r\n\r\n", []string{"431 request head too big"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", proxy)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			go io.WriteString(conn, tt.send) // may fail once the proxy closes
			got := readAnswers(t, conn, len(tt.want))
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("answers (-got +want):\n%s", diff)
			}
		})
	}
}

// readAnswers reads n answers from conn as "status body".
func readAnswers(t *testing.T, conn net.Conn, n int) []string {
	t.Helper()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	var got []string
	for range n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("reading answer %d: %v", len(got)+1, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d %s", resp.StatusCode, b))
	}
	return got
}

// TestBackendFailure: a dead backend is a 502; one that closes in the
// middle of an answer closes the client connection.
func TestBackendFailure(t *testing.T) {
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()
	cut, _ := backendServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, "only part")
		w.(http.Flusher).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	tests := []struct {
		name, backend string
		want          result
		wantErr       string
	}{
		{"dead backend", deadAddr, result{502, "502 backend unavailable", false}, ""},
		{"cut answer", cut, result{}, "unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proxy := "http://" + startProxy(t, tt.backend, 1)
			resp, err := newHTTPClient(t).Get(proxy + "/")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("got error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := (result{resp.StatusCode, string(body), false}); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no backend", nil, `-backend "" is not host:port`},
		{"bad backend", []string{"-backend", "http://x"}, `-backend "http://x" is not host:port`},
		{"no host", []string{"-backend", ":80"}, "no host"},
		{"port zero", []string{"-backend", "127.0.0.1:0"}, "is not a number from 1 to 65535"},
		{"no loops", []string{"-backend", "127.0.0.1:1", "-loops", "0"}, "-loops 0: want 1 or more"},
		{"bad listen", []string{"-backend", "127.0.0.1:1", "-listen", "nope"}, "listening on nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), tt.args, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run(%q) = %v, want an error with %q", tt.args, err, tt.want)
			}
		})
	}
}

// TestShutdown: when its context ends the proxy closes its listening
// sockets and the open client connections.
func TestShutdown(t *testing.T) {
	addr, _ := backendServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	})
	srv, err := newServer("127.0.0.1:0", addr, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.run(ctx) }()
	conn, err := net.Dial("tcp", srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if diff := cmp.Diff(readAnswers(t, conn, 1), []string{"200 ok"}); diff != "" {
		t.Fatalf("answer before shutdown (-got +want):\n%s", diff)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := conn.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("kept-alive connection after shutdown: read %d, %v; want EOF", n, err)
	}
	if c, err := net.Dial("tcp", srv.addr); err == nil {
		c.Close()
		t.Errorf("dialing %s after shutdown succeeded", srv.addr)
	}
}
