package lb

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// h1Server serves HTTP/1.x on a plain listener, in place of http.Server,
// for the proxy's own listeners. It parses with the standard library
// (http.ReadRequest, so the same header and framing rules apply) and hands
// requests to the same handler, but it does per request only what a proxy
// needs: no background read per request to watch for the client going
// away (a goroutine, a deadline and a wake-up for every request in
// net/http), no per-request context, one read deadline per request. That
// is where net/http spends most of its time beyond the system calls
// themselves (see BENCHMARKS.md, issue 2). A client that goes away is seen
// when the response is written to it.
//
// TLS listeners keep http.Server (HTTP/2, ALPN).
type h1Server struct {
	handler           http.Handler
	baseCtx           context.Context
	readHeaderTimeout time.Duration
	idleTimeout       time.Duration
	maxHeaderBytes    int64
	errorLog          *log.Logger

	shutting atomic.Bool
	mu       sync.Mutex
	ln       net.Listener
	conns    map[*h1ServerConn]struct{}
	closed   chan struct{} // closed when the last connection is gone
}

// server is what Proxy.Serve needs of an HTTP server.
type server interface {
	Serve(ln net.Listener) error
	Shutdown(ctx context.Context) error
	Close() error
}

const (
	h1StateIdle int32 = iota
	h1StateActive
)

func newH1Server(h http.Handler, baseCtx context.Context, readHeader, idle time.Duration, errorLog *log.Logger) *h1Server {
	return &h1Server{
		handler:           h,
		baseCtx:           baseCtx,
		readHeaderTimeout: readHeader,
		idleTimeout:       idle,
		maxHeaderBytes:    http.DefaultMaxHeaderBytes,
		errorLog:          errorLog,
		conns:             make(map[*h1ServerConn]struct{}),
	}
}

// Serve accepts connections on ln until Shutdown or Close, and returns
// http.ErrServerClosed then.
func (s *h1Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.shutting.Load() {
				return http.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporaryAccept(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.logf("lb: accept error: %v; retrying in %v", err, backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		c := &h1ServerConn{srv: s, nc: nc}
		if !s.track(c, true) {
			nc.Close()
			return http.ErrServerClosed
		}
		go c.serve()
	}
}

// isTemporaryAccept reports errors that a later Accept may not have
// (too many open files, a connection reset before it was accepted).
func isTemporaryAccept(err error) bool {
	var te interface{ Temporary() bool }
	return errors.As(err, &te) && te.Temporary()
}

func (s *h1Server) track(c *h1ServerConn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.shutting.Load() {
			return false
		}
		s.conns[c] = struct{}{}
		return true
	}
	delete(s.conns, c)
	if len(s.conns) == 0 && s.closed != nil {
		close(s.closed)
		s.closed = nil
	}
	return true
}

// Shutdown stops accepting, closes idle connections, and waits for the
// active ones to finish their request (they close after it) until ctx is
// done.
func (s *h1Server) Shutdown(ctx context.Context) error {
	s.shutting.Store(true)
	s.mu.Lock()
	if s.ln != nil {
		s.ln.Close()
	}
	s.mu.Unlock()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if s.closeIdle() == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// closeIdle closes the idle connections and returns how many connections
// are left.
func (s *h1Server) closeIdle() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.state.Load() == h1StateIdle {
			c.nc.Close()
		}
	}
	return len(s.conns)
}

// Close closes the listener and every connection.
func (s *h1Server) Close() error {
	s.shutting.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	if s.ln != nil {
		err = s.ln.Close()
	}
	for c := range s.conns {
		c.nc.Close()
	}
	return err
}

func (s *h1Server) logf(format string, args ...any) {
	if s.errorLog != nil {
		s.errorLog.Printf(format, args...)
	} else {
		log.Printf(format, args...)
	}
}

var (
	h1ReaderPool sync.Pool
	h1WriterPool sync.Pool
)

func getReader(r io.Reader) *bufio.Reader {
	if br, ok := h1ReaderPool.Get().(*bufio.Reader); ok {
		br.Reset(r)
		return br
	}
	return bufio.NewReaderSize(r, 4<<10)
}

func getWriter(w io.Writer) *bufio.Writer {
	if bw, ok := h1WriterPool.Get().(*bufio.Writer); ok {
		bw.Reset(w)
		return bw
	}
	return bufio.NewWriterSize(w, 4<<10)
}

// h1ServerConn is one client connection.
type h1ServerConn struct {
	srv        *h1Server
	nc         net.Conn
	state      atomic.Int32
	remoteAddr string
	lr         limitedReader
	br         *bufio.Reader
	bw         *bufio.Writer
	hijacked   bool
	pending    []byte // scratch of h1Response.pending
}

// limitedReader bounds how much of the connection the header of one
// request may take; the limit is lifted for its body.
type limitedReader struct {
	r io.Reader
	n int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errHeaderTooLarge
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

var errHeaderTooLarge = errors.New("request header too large")

func (c *h1ServerConn) serve() {
	s := c.srv
	c.remoteAddr = c.nc.RemoteAddr().String()
	c.lr.r = c.nc
	c.br = getReader(&c.lr)
	c.bw = getWriter(c.nc)
	ctx, cancel := context.WithCancel(s.baseCtx)
	defer func() {
		cancel()
		if !c.hijacked {
			c.nc.Close()
			h1ReaderPool.Put(c.br)
			c.bw.Reset(nil)
			h1WriterPool.Put(c.bw)
		}
		s.track(c, false)
	}()
	for {
		if !c.serveOne(ctx) {
			return
		}
	}
}

// serveOne reads and answers one request; it reports whether the
// connection may serve another.
func (c *h1ServerConn) serveOne(ctx context.Context) bool {
	s := c.srv
	c.state.Store(h1StateIdle)
	if s.shutting.Load() {
		return false
	}
	c.lr.n = s.maxHeaderBytes + 4096
	if c.br.Buffered() == 0 {
		// One deadline covers the wait for the request and its header.
		_ = c.nc.SetReadDeadline(time.Now().Add(s.idleTimeout))
		if _, err := c.br.Peek(1); err != nil {
			return false
		}
		c.state.Store(h1StateActive)
		_ = c.nc.SetReadDeadline(time.Now().Add(s.readHeaderTimeout))
	} else {
		c.state.Store(h1StateActive)
	}
	hosts, counted := countHosts(c.br)
	req, err := http.ReadRequest(c.br)
	if err != nil {
		c.badRequest(err)
		return false
	}
	c.lr.n = 1<<63 - 1
	if msg := checkRequest(req, hosts, counted); msg != "" {
		c.writeError(http.StatusBadRequest, msg)
		return false
	}
	if req.ContentLength != 0 || req.Header.Get("Upgrade") != "" {
		// The body (or an upgraded stream) is read at the handler's pace.
		_ = c.nc.SetReadDeadline(time.Time{})
	}
	req.RemoteAddr = c.remoteAddr
	req = req.WithContext(ctx)
	w := newH1Response(c, req)
	if !w.expectContinue() {
		return false
	}
	c.run(w, req)
	if c.hijacked {
		return false
	}
	return w.finish()
}

// run calls the handler, recovering a panic as net/http does.
func (c *h1ServerConn) run(w *h1Response, req *http.Request) {
	defer func() {
		if err := recover(); err != nil {
			w.panicked = true
			if err != http.ErrAbortHandler {
				c.srv.logf("lb: panic serving %s: %v\n%s", c.remoteAddr, err, debug.Stack())
			}
		}
	}()
	c.srv.handler.ServeHTTP(w, req)
}

// countHosts counts the Host fields of the request header waiting in br,
// when the whole header is buffered (ReadRequest merges them into one
// req.Host). Headers longer than the buffer are not counted (ok false).
func countHosts(br *bufio.Reader) (n int, ok bool) {
	buf, _ := br.Peek(br.Buffered())
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	if end < 0 {
		return 0, false
	}
	head := buf[:end+2]
	for {
		i := bytes.IndexByte(head, '\n')
		if i < 0 {
			return n, true
		}
		head = head[i+1:]
		if len(head) >= 5 && head[4] == ':' && bytes.EqualFold(head[:4], []byte("host")) {
			n++
		}
	}
}

// checkRequest applies the rules http.Server applies after parsing; hosts
// is the number of Host fields when counted.
func checkRequest(req *http.Request, hosts int, counted bool) string {
	if req.ProtoMajor != 1 {
		return "unsupported protocol version"
	}
	switch {
	case req.ProtoAtLeast(1, 1) && req.Method != http.MethodConnect &&
		(counted && hosts == 0 || !counted && req.Host == ""):
		return "missing required Host header"
	case hosts > 1:
		return "too many Host headers"
	case !validHost(req.Host):
		return "malformed Host header"
	}
	return ""
}

// validHost reports whether h has only bytes a Host header may carry
// (net/http's httpguts.ValidHostHeader).
func validHost(h string) bool {
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '!' || c == '$' || c == '%' || c == '&' || c == '\'' || c == '(' || c == ')' ||
			c == '*' || c == '+' || c == ',' || c == '-' || c == '.' || c == ':' || c == ';' ||
			c == '=' || c == '[' || c == ']' || c == '_' || c == '~':
		default:
			return false
		}
	}
	return true
}

// badRequest answers a request that could not be parsed, as net/http does.
func (c *h1ServerConn) badRequest(err error) {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.As(err, &ne):
		return // the client went away or timed out: nobody to answer
	case errors.Is(err, errHeaderTooLarge):
		c.writeError(http.StatusRequestHeaderFieldsTooLarge, "Request Header Fields Too Large")
	case isUnsupportedTE(err):
		c.writeError(http.StatusNotImplemented, "Unsupported transfer encoding")
	default:
		c.writeError(http.StatusBadRequest, "Bad Request")
	}
}

// isUnsupportedTE recognises ReadRequest's error for a transfer coding
// other than chunked (its type is not exported).
func isUnsupportedTE(err error) bool {
	return strings.HasPrefix(err.Error(), "unsupported transfer encoding")
}

func (c *h1ServerConn) writeError(code int, msg string) {
	_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = io.WriteString(c.nc, "HTTP/1.1 "+statusLine(code)+"\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"+statusLine(code)+": "+msg)
}
