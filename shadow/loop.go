package shadow

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httputil"
	"time"

	"github.com/migratekit/migrate/compare"
)

// Primary is what BeginPrimary returns: the answer of a mirrored request
// that its caller serves itself, reported as it goes (lb's event loops).
// Its methods are called from one goroutine, in order: Header once, Body
// any number of times, End once. It is an alias, so that BeginPrimary
// implements lb.LoopMirror (whose lb.MirrorPrimary is the same type)
// without this package importing lb.
type Primary = interface {
	// Header reports the final answer's status and header fields (the
	// backend's, hop-by-hop ones removed); chunked says that the body
	// bytes reported next are still in their chunked framing.
	Header(code int, h http.Header, chunked bool)
	// Body reports bytes of the answer's body; the slice is not kept.
	Body(b []byte)
	// End reports the answer complete (served), or broken off; clientGone
	// says that the client left before its end.
	End(served, clientGone bool)
}

// BeginPrimary starts the mirror of r, a request that its caller serves
// itself from side and whose whole body is body, once Leaves said the
// mirror takes it. It returns the Primary to report the served answer to,
// or nil when r is served without a mirror (a method or path not mirrored,
// the candidate backing off, a body over max_body, the queue full, a side
// not mirrored); either way r is counted as Serve counts it. It never
// blocks.
func (m *Mirror) BeginPrimary(r *http.Request, side string, body []byte) Primary {
	if m == nil || m.stopped.Load() {
		return nil
	}
	f := m.flow(side)
	if f == nil {
		return nil
	}
	if o := m.skip(r); o != "" {
		m.count(f, r, o)
		return nil
	}
	if f.to.backingOff() {
		m.count(f, r, compare.OutcomeShadowError)
		return nil
	}
	if int64(len(body)) > m.maxBody {
		m.count(f, r, compare.OutcomeTooLarge)
		return nil
	}
	var sb *shared
	if len(body) > 0 {
		sb = m.bufs.get()
		sb.buf.Write(body)
	}
	p := m.newPair(f, r, sb)
	if !m.admit(p) {
		m.drop(r, p)
		return nil
	}
	pr := &primary{m: m, p: p, start: m.clock.Now()}
	buf := m.bufs.get()
	p.bufs[halfPrimary] = buf
	p.capture.init(&pr.w, buf, m.maxBody)
	return pr
}

var _ Primary = (*primary)(nil)

// primary is the Primary of BeginPrimary: it drives the pair's capture as
// the answer of a served request would through Serve.
type primary struct {
	m       *Mirror
	p       *pair
	w       headerOnly
	start   time.Time
	chunked bool
	raw     bytes.Buffer // chunked body bytes, decoded at End
}

func (pr *primary) Header(code int, h http.Header, chunked bool) {
	pr.w.h, pr.chunked = h, chunked
	pr.p.capture.WriteHeader(code)
}

func (pr *primary) Body(b []byte) {
	if !pr.chunked {
		_, _ = pr.p.capture.Write(b)
		return
	}
	// The framing takes a few bytes a chunk: twice max_body is enough to
	// hold max_body of data, and the capture stops there anyway.
	if room := 2*int(pr.m.maxBody) + 64 - pr.raw.Len(); room > 0 {
		pr.raw.Write(b[:min(len(b), room)])
	}
}

func (pr *primary) End(served, clientGone bool) {
	p, c := pr.p, &pr.p.capture
	if pr.chunked && pr.raw.Len() > 0 {
		body, err := io.ReadAll(httputil.NewChunkedReader(&pr.raw))
		_, _ = c.Write(body)
		if err != nil {
			c.truncated = true // cut off within a chunk
		}
	}
	pr.m.primaryEnded(p, served, clientGone, pr.start)
}

// headerOnly is the ResponseWriter under a loop-driven capture: the answer
// already went to the client, so it only holds the header fields.
type headerOnly struct{ h http.Header }

func (w *headerOnly) Header() http.Header {
	if w.h == nil {
		w.h = http.Header{}
	}
	return w.h
}

func (w *headerOnly) Write(b []byte) (int, error) { return len(b), nil }

func (w *headerOnly) WriteHeader(int) {}
