package lb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
)

// The reasons of migrate_proxy_errors_total: a fixed set, one per way the
// proxy answers a request itself.
const (
	// reasonUnavailable: every backend of the side is down and failover is
	// off (or the other side is down too).
	reasonUnavailable = "unavailable"
	// reasonNoBackend: the pool went down between the split and the pick.
	reasonNoBackend = "no_backend"
	// reasonConnect: the backend could not be reached or dropped the
	// connection.
	reasonConnect = "connect"
	// reasonTimeout: connecting or waiting for response headers timed out.
	reasonTimeout = "timeout"
	// reasonBadGateway: the backend answered something unusable.
	reasonBadGateway = "bad_gateway"
	// reasonCanceled: the client went away before the response.
	reasonCanceled = "canceled"
	// reasonClientBody: the client's request body could not be read.
	reasonClientBody = "client_body"
	// reasonCORS: a CORS preflight from an origin that is not allowed.
	reasonCORS = "cors_forbidden"
)

// statusClientClosed is recorded (nginx's convention) when the client left
// before its response; nobody receives it.
const statusClientClosed = 499

var (
	errNoBackend  = errors.New("no backend in rotation")
	errClientBody = errors.New("client body")
)

// clientBody reads a client's request body on its way to a backend and
// keeps its first read error: a body that breaks off or is malformed is the
// client's failure (400, reason client_body), and must not count against
// the backend it was going to, or a few broken uploads would take a healthy
// backend out of rotation. The error is kept rather than only returned
// because a transport may wrap it beyond errors.Is (net/http's
// Request.Write does).
type clientBody struct {
	r      io.Reader
	c      io.Closer // nil: nothing to close
	left   int64     // bytes still due by the body's Content-Length; -1: unknown
	failed atomic.Pointer[error]
	first  []byte // read by awaitStart, not yet returned
	abort  func() // ends a read in progress (the gate's abortBody); nil: none
}

// abortRead ends a read of the body in progress and every later one: the
// backend answered before it had the whole body, and the answer is out.
func (b *clientBody) abortRead() {
	if b.abort != nil {
		b.abort()
	}
}

// newClientBody reads r, a body of size bytes (-1: unknown), closing c.
func newClientBody(r io.Reader, c io.Closer, size int64) *clientBody {
	return &clientBody{r: r, c: c, left: max(size, -1)}
}

func (b *clientBody) Read(p []byte) (int, error) {
	if len(b.first) > 0 {
		n := copy(p, b.first)
		if b.first = b.first[n:]; len(b.first) == 0 {
			b.first = nil // not kept for a body that stalls after it
		}
		return n, nil
	}
	if f := b.failed.Load(); f != nil {
		return 0, *f // sticky: a reader may read on after an error that came with bytes
	}
	n, err := b.r.Read(p)
	if b.left >= 0 {
		b.left -= int64(n)
		if err == io.EOF && b.left > 0 {
			err = io.ErrUnexpectedEOF // the stream ended short of its Content-Length
		}
	}
	if err != nil && err != io.EOF && !errors.Is(err, errBodyAborted) { // an abort is the proxy's
		err = fmt.Errorf("reading request body: %w: %w", errClientBody, err)
		b.failed.CompareAndSwap(nil, &err)
	}
	return n, err
}

// prefetch reads the body's first n bytes (or all of it, when shorter),
// which Read then returns first: a backend connection is taken once they
// are in, not for a body that has not arrived (a client may declare one
// and stall; the client body timeout then answers it 408 without any
// backend), as nginx buffers bodies.
func (b *clientBody) prefetch(n int) error {
	var buf []byte
	for len(buf) < n {
		buf = growBody(buf, n-len(buf))
		k, err := b.Read(buf[len(buf):min(cap(buf), n)])
		buf = buf[:len(buf)+k]
		if err == io.EOF {
			break // an ended body ends again at the next read
		}
		if err != nil {
			return err
		}
	}
	b.first = buf
	return nil
}

// growBody makes room in b for more of a body of which more bytes are
// still to be read: its capacity doubles, from bodyChunk, but never
// past what the body will need (slices.Grow's growth overshoots it by up
// to half, for each of many slow clients).
func growBody(b []byte, more int) []byte {
	if len(b) < cap(b) {
		return b
	}
	c := min(max(2*cap(b), bodyChunk), len(b)+more)
	return append(make([]byte, 0, c), b...)
}

// bodyChunk is the first room made for a body read into memory.
const bodyChunk = 64 << 10

func (b *clientBody) Close() error {
	if b.c == nil {
		return nil
	}
	return b.c.Close()
}

// blame returns the body's read error when there was one (the exchange
// failed because of the client), else err.
func (b *clientBody) blame(err error) error {
	if b != nil {
		if f := b.failed.Load(); f != nil {
			return *f
		}
	}
	return err
}

// handleError is the ReverseProxy ErrorHandler of a side: a short, honest
// answer to the client, the details in the log, the reason in telemetry.
func (s *side) handleError(w http.ResponseWriter, r *http.Request, err error) {
	code, body := s.failed(err, clientLeft(r, err), "method", r.Method, "path", r.URL.Path)
	s.writeError(w, code, body)
}

// clientLeft reports whether err is r's client going away, on net/http's
// path.
func clientLeft(r *http.Request, err error) bool {
	return r.Context().Err() != nil && errors.Is(err, context.Canceled)
}

// failed is the answer to a request that could not be proxied, on every
// path: err classified (classifyErr; canceled says the client went away),
// counted and logged with attrs.
func (s *side) failed(err error, canceled bool, attrs ...any) (code int, body string) {
	reason, code, body := s.classifyErr(err, canceled)
	s.proxyError(reason, code)
	if reason == reasonCanceled {
		s.log.Debug("client went away", append(attrs, "err", err)...)
	} else {
		s.log.Warn("proxying request failed", append(attrs, "reason", reason, "status", code, "err", err)...)
	}
	return code, body
}

// proxyError counts an answer of the proxy's own, on every path: its
// reason, and a refusal by the rules (a body that stalled: 408) on the
// app's listener.
func (s *side) proxyError(reason string, code int) {
	s.tel.ProxyError(reason)
	if code == http.StatusRequestTimeout {
		s.app.refused.Request(code)
	}
}

// classifyErr maps a proxying error to its reason, status and body;
// canceled says the client went away (the loops end such a request
// without an answer).
func (s *side) classifyErr(err error, canceled bool) (reason string, code int, body string) {
	switch {
	case errors.Is(err, errNoBackend):
		return reasonNoBackend, http.StatusBadGateway, s.unavailable
	case errors.Is(err, errBodyTimeout):
		return reasonClientBody, http.StatusRequestTimeout, ruleAnswer(http.StatusRequestTimeout)
	case errors.Is(err, errClientBody):
		return reasonClientBody, http.StatusBadRequest, "bad request body\n"
	case canceled:
		return reasonCanceled, statusClientClosed, ""
	case isTimeout(err):
		return reasonTimeout, http.StatusGatewayTimeout, "gateway timeout\n"
	case isConnError(err):
		return reasonConnect, http.StatusBadGateway, "bad gateway\n"
	}
	return reasonBadGateway, http.StatusBadGateway, "bad gateway\n"
}

// isTimeout reports a timeout.
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isConnError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// writeError writes a short plain-text answer of the proxy's own.
func (s *side) writeError(w http.ResponseWriter, code int, body string) {
	if s.app.debug {
		w.Header()["X-Migrate-Side"] = s.debugValue
	}
	plainError(w, code, body)
}

// ownFields are the header fields of every answer of the proxy's own, on
// every path (plainError, appendLoopError, ownHeader).
var ownFields = [...][2]string{{"Content-Type", "text/plain; charset=utf-8"}, {"X-Content-Type-Options", "nosniff"}}

// ownHeader is a new header of ownFields.
func ownHeader() http.Header {
	h := make(http.Header, len(ownFields))
	for _, f := range ownFields {
		h[f[0]] = []string{f[1]}
	}
	return h
}

func plainError(w http.ResponseWriter, code int, body string) {
	h := w.Header()
	h.Del("Content-Length")
	for _, f := range ownFields {
		h[f[0]] = []string{f[1]}
	}
	w.WriteHeader(code)
	_, _ = io.WriteString(w, body)
}

// timeoutError is a net.Error that timed out.
type timeoutError struct{ what string }

func (e timeoutError) Error() string   { return e.what }
func (e timeoutError) Timeout() bool   { return true }
func (e timeoutError) Temporary() bool { return true }
