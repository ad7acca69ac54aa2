package shadow

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/migratekit/migrate/compare"
	"github.com/migratekit/migrate/telemetry"
)

// queueGaugeInterval is how often the queue depth gauge is sampled.
const queueGaugeInterval = time.Second

// Run sends the queued mirrors and judges the pairs until ctx is done: it
// owns the workers and the goroutine that counts served-only requests.
// (Requests served before Run starts are queued, within the bounds, and
// wait for it.) On shutdown it stops mirroring (requests are then served
// only), cancels the mirrors in flight, drops the queued ones and the
// pairs not yet compared (counted with reason shutdown), closes its idle
// connections and returns nil. Run may be called once.
func (m *Mirror) Run(ctx context.Context) error {
	if !m.started.CompareAndSwap(false, true) {
		return errors.New("running shadow mirror: already running")
	}
	var wg sync.WaitGroup
	for range m.workers {
		wg.Go(func() { m.work(ctx) })
	}
	wg.Go(func() { m.runTally(ctx) })
	<-ctx.Done()
	m.stopped.Store(true)
	wg.Wait()
	m.drain(ctx)
	for _, s := range m.senders() {
		s.CloseIdleConnections()
	}
	m.tel.QueueDepth(0)
	return nil
}

// drain drops what is left in the queues once the workers are gone.
func (m *Mirror) drain(ctx context.Context) {
	for range len(m.jobs) {
		j := <-m.jobs
		j.p.shutdown.Store(true)
		if j.p.last() {
			m.finish(ctx, j.p)
		}
	}
	for range len(m.done) {
		m.discard(<-m.done)
	}
}

// tallyEvent is a request served without comparison, to be counted off
// the request path.
type tallyEvent struct {
	f            *flow
	method, path string
	outcome      compare.Outcome
}

// count records the outcome of a request of flow f that is served only,
// without waiting: when the tally queue is full, the count is lost and
// counted.
func (m *Mirror) count(f *flow, r *http.Request, o compare.Outcome) {
	select {
	case m.tally <- tallyEvent{f: f, method: r.Method, path: r.URL.Path, outcome: o}:
	default:
		m.tel.Dropped(f.label, telemetry.DropTallyFull)
	}
}

// runTally counts served-only requests and samples the queue depth until
// ctx is done, then counts what is still queued.
func (m *Mirror) runTally(ctx context.Context) {
	tick := m.clock.NewTicker(queueGaugeInterval)
	defer tick.Stop()
	for {
		select {
		case e := <-m.tally:
			m.record(e.f, e.method, e.path, e.outcome)
		case <-tick.Chan():
			m.tel.QueueDepth(len(m.jobs))
		case <-ctx.Done():
			for range len(m.tally) {
				e := <-m.tally
				m.record(e.f, e.method, e.path, e.outcome)
			}
			return
		}
	}
}

// record counts an outcome of flow f that had no comparison, in the
// Comparer's stats and in the metrics.
func (m *Mirror) record(f *flow, method, path string, o compare.Outcome) {
	res := m.cmp.Record(m.app, f.dir, m.cmp.Endpoint(m.app, path), method, o)
	m.tel.Pair(f.label, res.Endpoint, string(o))
}

// mirroredAnswer counts the candidate's answer res to a mirror of flow f
// as its side's mirrored answer: its status and latency, or none when it
// gave no answer. A mirror the breaker kept from being sent, or cut by the
// mirror's shutdown, reached no backend and is not counted.
func (m *Mirror) mirroredAnswer(ctx context.Context, f *flow, res compare.Response) {
	if errors.Is(res.Err, ErrBreakerOpen) || ctx.Err() != nil {
		return
	}
	code := res.Status
	if res.Err != nil {
		code = 0
	}
	m.tel.Mirrored(f.candidate, code, res.Latency)
}
