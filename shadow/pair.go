package shadow

import (
	"context"
	"net/http"
	"sync/atomic"

	"github.com/migratekit/migrate/compare"
	"github.com/migratekit/migrate/telemetry"
)

// pair is one mirrored request on its way: the request, the halves as
// they come in, and the buffers they hold. Each half writes only its own
// field and then arrives; the arrival that completes the pair (an atomic
// count, so no goroutine waits for another) hands it to the comparison.
type pair struct {
	m  *Mirror
	f  *flow // its direction
	cp compare.Pair
	// remoteAddr and tls are the client connection's, for X-Forwarded-*.
	remoteAddr string
	tls        bool

	body    *shared    // the request body (nil: none)
	bufs    [3]*shared // captured bodies: primary, candidate, secondary
	capture capture    // the primary's writer (one allocation with the pair)

	parts   int32
	arrived atomic.Int32

	stream    atomic.Bool // a side streamed: served only, skipped_stream
	aborted   atomic.Bool // the primary broke off before a status: nothing to compare
	abandoned atomic.Bool // the client left before the primary's answer was complete: aborted
	shutdown  atomic.Bool // the mirror stopped before the pair was compared
}

// Halves of a pair, as indexes of pair.bufs.
const (
	halfPrimary = iota
	halfCandidate
	halfSecondary
)

// job is one request to send: to the candidate or to the secondary.
type job struct {
	p    *pair
	half int
}

func (m *Mirror) newPair(f *flow, r *http.Request, body *shared) *pair {
	p := &pair{
		m: m,
		f: f,
		cp: compare.Pair{
			App:                  m.app,
			Direction:            f.dir,
			SecondaryOfCandidate: f.secondaryOfCandidate,
			Request: compare.Request{
				Method:   r.Method,
				Path:     r.URL.Path,
				RawQuery: r.URL.RawQuery,
				Host:     r.Host,
				Header:   r.Header.Clone(),
				Body:     body.bytes(),
			},
			At: m.clock.Now(),
		},
		remoteAddr: r.RemoteAddr,
		tls:        r.TLS != nil,
		body:       body,
		parts:      2,
	}
	if f.secondary != nil {
		p.parts = 3
	}
	return p
}

// admit queues the pair's mirrors without waiting. It reports false, and
// the pair is the caller's to release, when the pool is full.
func (m *Mirror) admit(p *pair) bool {
	if m.pending.Add(1) > m.maxPending {
		m.pending.Add(-1)
		return false
	}
	select {
	case m.jobs <- job{p: p, half: halfCandidate}:
	default:
		m.pending.Add(-1)
		return false
	}
	m.mirrored.Add(1)
	if p.f.secondary != nil {
		select {
		case m.jobs <- job{p: p, half: halfSecondary}:
		default:
			p.last() // compared without a secondary; the primary is still to come
		}
	}
	return true
}

// drop turns a pair away before it was admitted.
func (m *Mirror) drop(r *http.Request, p *pair) {
	m.dropped.Add(1)
	m.tel.Dropped(p.f.label, telemetry.DropQueueFull)
	m.count(p.f, r, compare.OutcomeDropped)
	p.body.release()
}

// last records the arrival of one half and reports whether it completed
// the pair.
func (p *pair) last() bool { return p.arrived.Add(1) == p.parts }

// handOff passes a pair completed on the request path to the workers, or
// discards it when the mirror has stopped.
func (m *Mirror) handOff(p *pair) {
	if m.stopped.Load() {
		m.discard(p)
		return
	}
	m.done <- p // never blocks: it has room for every pending pair
}

// discard drops a pair the mirror stopped before comparing.
func (m *Mirror) discard(p *pair) {
	m.tel.Dropped(p.f.label, telemetry.DropShutdown)
	m.release(p)
}

// finish compares a complete pair, records its outcome and keeps it if it
// differs, then releases it. It runs on a worker.
func (m *Mirror) finish(ctx context.Context, p *pair) {
	if p.shutdown.Load() || ctx.Err() != nil {
		m.discard(p)
		return
	}
	defer m.release(p)
	switch {
	case p.stream.Load():
		m.record(p.f, p.cp.Request.Method, p.cp.Request.Path, compare.OutcomeSkippedStream)
		return
	case p.abandoned.Load():
		// The captured answer is not the one the backend gave: no
		// comparison, no example.
		m.record(p.f, p.cp.Request.Method, p.cp.Request.Path, compare.OutcomeAborted)
		return
	case p.aborted.Load():
		return // the proxy counted its error
	}
	res := m.cmp.Compare(p.cp)
	m.tel.Pair(p.f.label, res.Endpoint, string(res.Outcome))
	if c := p.cp.Candidate; c.Err == nil {
		m.tel.Latency(p.f.label, res.Endpoint, c.Latency, p.cp.Primary.Latency)
	}
	if m.sink != nil && len(res.Diffs) > 0 {
		m.keep(ctx, p.cp, res)
	}
}

// keep hands a differing pair to the sink, bounded like a mirror.
func (m *Mirror) keep(ctx context.Context, cp compare.Pair, res compare.Result) {
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	if err := m.sink.Add(ctx, cp, res); err != nil {
		if n := m.sinkErrors.Add(1); n == 1 || n%1000 == 0 {
			m.log.Warn("keeping shadow example", "err", err, "failures", n)
		}
	}
}

// release gives back the pair's buffers and its place in the pool.
func (m *Mirror) release(p *pair) {
	p.body.release()
	for _, b := range p.bufs {
		b.release()
	}
	m.pending.Add(-1)
}
