package shadow

import (
	"net/http"
	"strings"
	"time"

	"github.com/migratekit/migrate/compare"
)

// Serve implements lb.Mirror: it serves r through serve and, when r is
// to be mirrored (to the other side of side, which serves it), queues its
// copy first and captures the served answer on the way to the client. It
// never waits for the mirror.
func (m *Mirror) Serve(w http.ResponseWriter, r *http.Request, side string, serve http.Handler) {
	if m == nil {
		serve.ServeHTTP(w, r)
		return
	}
	if _, forged := r.Header[Header]; forged {
		// Only the mirror may mark a request as a shadow.
		r = shallow(r)
		r.Header = r.Header.Clone()
		delete(r.Header, Header)
	}
	f := m.flow(side)
	if f == nil || m.stopped.Load() {
		serve.ServeHTTP(w, r)
		return
	}
	if !m.sampled(w, r) {
		m.tel.NotSampled(f.label)
		serve.ServeHTTP(w, r)
		return
	}
	if o := m.skip(r); o != "" {
		m.count(f, r, o)
		serve.ServeHTTP(w, r)
		return
	}
	if f.to.backingOff() {
		// The mirror would fail at once without a dial: served only.
		m.count(f, r, compare.OutcomeShadowError)
		serve.ServeHTTP(w, r)
		return
	}
	m.mirror(w, r, f, serve)
}

// skip returns the outcome of a request that is served without a mirror,
// or "".
func (m *Mirror) skip(r *http.Request) compare.Outcome {
	if isUpgrade(r.Header) {
		return compare.OutcomeSkippedStream
	}
	if !m.allowed(r.Method, r.URL.Path) {
		return compare.OutcomeSkippedUnsafe
	}
	return ""
}

// mirror queues r's copy in flow f, then serves r while capturing the
// answer.
func (m *Mirror) mirror(w http.ResponseWriter, r *http.Request, f *flow, serve http.Handler) {
	body, r, ok := m.readBody(f, r)
	if !ok {
		serve.ServeHTTP(w, r)
		return
	}
	p := m.newPair(f, r, body)
	if !m.admit(p) {
		m.drop(r, p)
		serve.ServeHTTP(w, r)
		return
	}
	sb := m.bufs.get()
	p.bufs[halfPrimary] = sb
	c := &p.capture
	c.init(w, sb, m.maxBody)
	start := m.clock.Now()
	served := false
	defer func() {
		// Deferred: a response that breaks off (the client left, the
		// backend broke) panics with http.ErrAbortHandler through here, and
		// its pair must still be completed. Its body is incomplete; with no
		// status written there is nothing to compare. A client that left
		// before the end got no answer to compare (the proxy records 499,
		// or the copy broke off).
		m.primaryEnded(p, served, c.clientGone || r.Context().Err() != nil, start)
	}()
	serve.ServeHTTP(c, r)
	served = true
}

// primaryEnded completes the primary half of p, whose answer was captured
// from start on: served says it ended normally, abandoned that the client
// left before its end.
func (m *Mirror) primaryEnded(p *pair, served, abandoned bool, start time.Time) {
	c := &p.capture
	if !served {
		c.truncated = true
		p.aborted.Store(c.code == 0)
	}
	if abandoned {
		p.abandoned.Store(true)
	}
	p.cp.Primary = c.response(m.clock.Since(start))
	if c.stream {
		p.stream.Store(true)
	}
	if p.last() {
		m.handOff(p)
	}
}

// isUpgrade reports a protocol switch request (websocket).
func isUpgrade(h http.Header) bool {
	if len(h["Upgrade"]) > 0 {
		return true
	}
	for _, v := range h["Connection"] {
		for f := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), "upgrade") {
				return true
			}
		}
	}
	return false
}
