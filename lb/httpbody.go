package lb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
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
func (s *httpSide) handleError(w http.ResponseWriter, r *http.Request, err error) {
	code, body := s.failed(err, clientLeft(r, err), "method", r.Method, "path", r.URL.Path)
	s.writeError(w, code, body)
}

// clientLeft reports whether err is r's client going away, on net/http's
// path.
func clientLeft(r *http.Request, err error) bool {
	return r.Context().Err() != nil && errors.Is(err, context.Canceled)
}

// writeError writes a short plain-text answer of the proxy's own.
func (s *httpSide) writeError(w http.ResponseWriter, code int, body string) {
	if s.app.debug {
		w.Header()["X-Migrate-Side"] = s.debugValue
	}
	plainError(w, code, body)
}

// errBodyAborted is the read error of a request body abandoned after its
// answer (abortBody).
var errBodyAborted = errors.New("request body abandoned after the answer")
