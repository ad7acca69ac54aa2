package lb

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// startH1 serves h with an h1Server on a loopback listener and returns its
// address; the server is closed when the test ends.
func startH1(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newH1Server(h, context.Background(), 5*time.Second, 5*time.Second, nil)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve returned %v, want http.ErrServerClosed", err)
		}
	})
	return ln.Addr().String()
}

// exchange writes raw to a new connection and returns everything the
// server sends until it closes the connection or goes quiet.
func exchange(t *testing.T, addr, raw string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	out, _ := io.ReadAll(c)
	return string(out)
}

func TestH1ServerFraming(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/length", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "5")
		io.WriteString(w, "hello")
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "abc")
		w.(http.Flusher).Flush()
		io.WriteString(w, "de")
	})
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/long", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", 5000))
	})
	mux.HandleFunc("/nocontent", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
		io.WriteString(w, "dropped")
	})
	mux.HandleFunc("/trailer", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Sum")
		io.WriteString(w, "body")
		w.Header().Set("X-Sum", "42")
		w.Header().Set(http.TrailerPrefix+"X-Late", "yes")
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Host", r.Host)
		w.Header().Set("X-Remote-Set", boolText(r.RemoteAddr != ""))
		w.Write(b)
	})
	addr := startH1(t, mux)

	tests := []struct {
		name string
		raw  string
		want []string // substrings of the answer, in order
		not  []string
	}{
		{"declared length", "GET /length HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
			[]string{"HTTP/1.1 200 OK\r\n", "Content-Length: 5\r\n", "Date: ", "\r\n\r\nhello"}, []string{"chunked"}},
		{"chunked without a length", "GET /stream HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
			[]string{"Transfer-Encoding: chunked\r\n", "\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"}, nil},
		{"close-delimited for HTTP/1.0", "GET /stream HTTP/1.0\r\n\r\n",
			[]string{"HTTP/1.1 200 OK\r\n", "Connection: close\r\n", "\r\n\r\nabcde"}, []string{"chunked"}},
		{"empty body gets length 0", "GET /empty HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
			[]string{"Content-Length: 0\r\n"}, []string{"chunked"}},
		{"204 drops the body", "GET /nocontent HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
			[]string{"HTTP/1.1 204 No Content\r\n"}, []string{"dropped", "Content-Length", "chunked"}},
		{"HEAD has no body", "HEAD /length HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
			[]string{"Content-Length: 5\r\n"}, []string{"hello"}},
		{"trailers", "GET /trailer HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
			[]string{"Trailer: X-Sum\r\n", "4\r\nbody\r\n0\r\n", "X-Sum: 42\r\n", "X-Late: yes\r\n"}, nil},
		{"request body and host", "POST /echo HTTP/1.1\r\nHost: b.example\r\nContent-Length: 3\r\nConnection: close\r\n\r\nxyz",
			[]string{"\r\n\r\nxyz"}, []string{"chunked"}},
		{"a short body without a length gets one", "POST /echo HTTP/1.1\r\nHost: b.example\r\nContent-Length: 3\r\nConnection: close\r\n\r\nxyz",
			[]string{"Content-Length: 3\r\n"}, nil},
		{"host and remote address", "POST /echo HTTP/1.1\r\nHost: b.example\r\nContent-Length: 3\r\nConnection: close\r\n\r\nxyz",
			[]string{"X-Host: b.example\r\n"}, nil},
		{"remote address set", "POST /echo HTTP/1.1\r\nHost: b.example\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
			[]string{"X-Remote-Set: true\r\n"}, nil},
		{"a long body without a length is chunked", "GET /long HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
			[]string{"Transfer-Encoding: chunked\r\n", "1388\r\nxxx", "\r\n0\r\n\r\n"}, nil},
		{"chunked request body", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\nxy\r\n1\r\nz\r\n0\r\n\r\n",
			[]string{"\r\n\r\nxyz"}, nil},
		{"expect 100-continue", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: 100-continue\r\nConnection: close\r\n\r\nok",
			[]string{"HTTP/1.1 100 Continue\r\n\r\n", "HTTP/1.1 200 OK\r\n", "\r\n\r\nok"}, nil},
		{"unknown expectation", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: magic\r\n\r\nok",
			[]string{"HTTP/1.1 417 Expectation Failed\r\n"}, []string{"200 OK"}},
		{"missing host", "GET /length HTTP/1.1\r\n\r\n",
			[]string{"HTTP/1.1 400 Bad Request\r\n", "missing required Host header"}, nil},
		{"two hosts", "GET /length HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
			[]string{"HTTP/1.1 400 Bad Request\r\n"}, nil},
		{"bad host", "GET /length HTTP/1.1\r\nHost: a b\r\n\r\n",
			[]string{"HTTP/1.1 400 Bad Request\r\n"}, nil},
		{"malformed request line", "GARBAGE\r\n\r\n",
			[]string{"HTTP/1.1 400 Bad Request\r\n"}, nil},
		{"unsupported transfer encoding", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
			[]string{"HTTP/1.1 501 Not Implemented\r\n"}, nil},
		{"header too large", "GET /length HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("x", http.DefaultMaxHeaderBytes+8192) + "\r\n\r\n",
			[]string{"HTTP/1.1 431 Request Header Fields Too Large\r\n"}, nil},
		{"HTTP/2 preface refused", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
			[]string{"HTTP/1.1 400 Bad Request\r\n"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := exchange(t, addr, tt.raw)
			rest := got
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("answer lacks %q (in order):\n%s", w, got)
				}
				rest = rest[i+len(w):]
			}
			for _, n := range tt.not {
				if strings.Contains(got, n) {
					t.Errorf("answer has %q:\n%s", n, got)
				}
			}
		})
	}
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// TestH1ServerKeepAlive sends pipelined and successive requests on one
// connection, HTTP/1.0 keep-alive included, and reads every answer.
func TestH1ServerKeepAlive(t *testing.T) {
	addr := startH1(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.URL.Path)
	}))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	// Two pipelined requests in one write, then one more.
	io.WriteString(c, "GET /one HTTP/1.1\r\nHost: a\r\n\r\nGET /two HTTP/1.1\r\nHost: a\r\n\r\n")
	for _, want := range []string{"/one", "/two"} {
		readAnswer(t, br, want)
	}
	io.WriteString(c, "GET /three HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
	resp := readAnswer(t, br, "/three")
	if got := resp.Header.Get("Connection"); got != "keep-alive" {
		t.Errorf("HTTP/1.0 keep-alive answer has Connection %q, want keep-alive", got)
	}
	io.WriteString(c, "GET /four HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	readAnswer(t, br, "/four")
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("after Connection: close, read %v, want EOF", err)
	}
}

func readAnswer(t *testing.T, br *bufio.Reader, want string) *http.Response {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the answer to %s: %v", want, err)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != want {
		t.Errorf("body %q, want %q", b, want)
	}
	return resp
}

// TestH1ServerPanicAndHijack checks that a panicking handler closes its
// connection without taking the server down, and that a hijacked
// connection keeps what the client sent after the request.
func TestH1ServerPanicAndHijack(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/panic", func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) })
	mux.HandleFunc("/hijack", func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		line, _ := brw.ReadString('\n')
		brw.WriteString("echo " + line)
		brw.Flush()
	})
	addr := startH1(t, mux)
	if got := exchange(t, addr, "GET /panic HTTP/1.1\r\nHost: a\r\n\r\n"); got != "" {
		t.Errorf("a panicking handler answered %q, want the connection closed", got)
	}
	got := exchange(t, addr, "GET /hijack HTTP/1.1\r\nHost: a\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nping\n")
	if !strings.HasPrefix(got, "HTTP/1.1 101 ") || !strings.HasSuffix(got, "echo ping\n") {
		t.Errorf("hijacked exchange = %q, want a 101 then %q", got, "echo ping\n")
	}
}

// TestH1ServerShutdown checks that Shutdown closes idle connections at
// once and lets an active request finish, answered with Connection: close.
func TestH1ServerShutdown(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newH1Server(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(started)
			<-release
		}
		io.WriteString(w, "done")
	}), context.Background(), 5*time.Second, 5*time.Second, nil)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	idle, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	io.WriteString(idle, "GET /fast HTTP/1.1\r\nHost: a\r\n\r\n")
	idleBR := bufio.NewReader(idle)
	readAnswer(t, idleBR, "done")

	active, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer active.Close()
	io.WriteString(active, "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	<-started

	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()
	idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := idleBR.ReadByte(); err != io.EOF {
		t.Errorf("idle connection during shutdown: read %v, want EOF", err)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	default:
	}
	close(release)
	resp := readAnswer(t, bufio.NewReader(active), "done")
	if !resp.Close {
		t.Error("the answer during shutdown does not close the connection")
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown = %v, want nil", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve = %v, want http.ErrServerClosed", err)
	}
}
