package shadow

import (
	"bytes"
	"io"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/migratekit/migrate/compare"
)

// shared is a pooled buffer with a reference count: a request body read
// once and replayed to several sides, or a captured response. It goes back
// to the pool when the last holder releases it. A body handed to a
// transport is released when the transport closes it (the documented
// signal that it is done reading); one that is never closed is left to the
// GC, never reused early.
type shared struct {
	buf  bytes.Buffer
	refs atomic.Int32
	pool *bufferPool
}

func (s *shared) bytes() []byte {
	if s == nil {
		return nil
	}
	return s.buf.Bytes()
}

func (s *shared) retain() { s.refs.Add(1) }

func (s *shared) release() {
	if s == nil {
		return
	}
	if s.refs.Add(-1) == 0 {
		s.pool.put(s)
	}
}

// reader returns a new body over the buffer, holding a reference until
// it is closed.
func (s *shared) reader() io.ReadCloser {
	s.retain()
	rb := &replay{sb: s}
	rb.r.Reset(s.bytes())
	rb.Reader = &rb.r
	return rb
}

// replay is a request body over a shared buffer, optionally followed by
// the rest of the client's stream (a body over the limit).
type replay struct {
	io.Reader
	r      bytes.Reader
	sb     *shared
	rest   io.Closer // the client's body, when it is still being read
	closed atomic.Bool
}

func (b *replay) Close() error {
	if !b.closed.CompareAndSwap(false, true) {
		return nil
	}
	var err error
	if b.rest != nil {
		err = b.rest.Close()
	}
	b.sb.release()
	return err
}

// readBody buffers r's body for replay in flow f. It returns the buffer
// (nil for no body) and the request to serve; ok is false when the request
// must be served without mirroring (too large, or the client's body
// failed).
func (m *Mirror) readBody(f *flow, r *http.Request) (sb *shared, serve *http.Request, ok bool) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil, r, true
	}
	if r.ContentLength > m.maxBody {
		m.count(f, r, compare.OutcomeTooLarge)
		return nil, r, false
	}
	sb = m.bufs.get()
	if r.ContentLength > 0 {
		sb.buf.Grow(int(r.ContentLength) + bytes.MinRead)
	}
	n, err := sb.buf.ReadFrom(io.LimitReader(r.Body, m.maxBody+1))
	serve = shallow(r)
	switch {
	case err == nil && n == 0: // a chunked body with no chunk
		sb.release()
		serve.Body = http.NoBody
		return nil, serve, true
	case err != nil:
		// The client's body broke: the proxy sees the same error after the
		// bytes that did arrive.
		serve.Body = &replay{Reader: io.MultiReader(bytes.NewReader(sb.bytes()), errReader{err}), sb: sb, rest: r.Body}
		return nil, serve, false
	case n > m.maxBody:
		m.count(f, r, compare.OutcomeTooLarge)
		serve.Body = &replay{Reader: io.MultiReader(bytes.NewReader(sb.bytes()), r.Body), sb: sb, rest: r.Body}
		return nil, serve, false
	}
	serve.Body = sb.reader() // the pair keeps the first reference
	return sb, serve, true
}

// shallow copies r so that its Body (or Header) can be replaced without
// touching the server's request.
func shallow(r *http.Request) *http.Request {
	c := new(http.Request)
	*c = *r
	return c
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// bufferPool recycles the buffers of request bodies and captured
// responses. Buffers that grew past maxPooled are left to the GC.
type bufferPool struct{ pool sync.Pool }

const maxPooled = 256 << 10

func (b *bufferPool) get() *shared {
	s, ok := b.pool.Get().(*shared)
	if !ok {
		s = &shared{pool: b}
	}
	s.refs.Store(1)
	return s
}

func (b *bufferPool) put(s *shared) {
	if s.buf.Cap() > maxPooled {
		return
	}
	s.buf.Reset()
	b.pool.Put(s)
}
