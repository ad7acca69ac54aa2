package main

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
)

// Target is where the requests go: the address to dial, the Host header
// and the request target (path and query).
type Target struct {
	Addr string
	Host string
	Path string
}

// Config is one paced run.
type Config struct {
	Target      Target
	Rate        float64       // requests per second offered
	Duration    time.Duration // measured time after Warmup
	Warmup      time.Duration // unmeasured time before, at the same rate
	Connections int           // keep-alive connections: requests in flight at most
	Timeout     time.Duration // longest a request may take from its sending
	// Sources gives each connection a loopback source address of its own
	// (sourceAddr), so that a proxy keyed on the client's address sees one
	// client per connection; false: the kernel's choice, for all.
	Sources bool
}

// fineMargin is how long before a due time a worker on the real clock
// stops waiting on a Go timer and waits the rest on its fineTimer, which
// wakes it on time where a Go timer may be up to about 1 ms late.
const fineMargin = 2 * time.Millisecond

// Run sends the requests of cfg at their due times until Warmup+Duration
// has passed and returns what the measured part saw. clock is the time
// source (nil: the real one).
//
// Each of the Connections workers is a goroutine that owns one keep-alive
// connection and sends one request at a time on it; a worker takes the
// next request index from a shared counter, so requests go out in order
// of their due times. The design over net/http's client: the bound on
// requests in flight is the number of goroutines by construction, there is
// no connection pool to hand requests between goroutines, and no reader and
// writer goroutine per connection, so the generator takes less of the CPU
// it shares with the servers it measures. When every worker is busy, a due
// request waits for the first free one and its latency still counts from
// its due time. A request due before the end but not sent by then is not
// sent; one sent before the end is waited for (up to Timeout) and counted.
func Run(ctx context.Context, cfg Config, clock clockwork.Clock) (*Result, error) {
	realClock := clock == nil
	if realClock {
		clock = clockwork.NewRealClock()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := &schedule{
		start:    clock.Now(),
		rate:     cfg.Rate,
		measured: cfg.Warmup,
		end:      cfg.Warmup + cfg.Duration,
	}
	tallies := make([]*tally, cfg.Connections)
	var wg sync.WaitGroup
	for i := range tallies {
		tallies[i] = &tally{}
		w := &worker{cfg: cfg, clock: clock, sched: s, tally: tallies[i]}
		if cfg.Sources {
			w.from = sourceAddr(i)
		}
		if realClock {
			w.fine, _ = newFineTimer() // nil (Go's timers alone) if it fails
		}
		wg.Go(func() { w.run(ctx) })
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return newResult(cfg, s, tallies), nil
}

// schedule hands out request indexes; request i is due at start + i/rate.
// Times are offsets from start.
type schedule struct {
	start    time.Time
	rate     float64
	measured time.Duration // offset at which measuring begins (the warmup)
	end      time.Duration // offset at which sending stops
	next     atomic.Int64  // the next index to hand out
	unsent   atomic.Int64  // measured requests due before end, never sent
}

// due is the offset of request i.
func (s *schedule) due(i int64) time.Duration {
	return time.Duration(float64(i) / s.rate * float64(time.Second))
}

// take hands out the next request index and its due offset; ok is false
// once that request is due at or after the end.
func (s *schedule) take() (i int64, due time.Duration, ok bool) {
	i = s.next.Add(1) - 1
	due = s.due(i)
	return i, due, due < s.end
}

// offered is the number of requests due in the measured period.
func (s *schedule) offered() int64 {
	return s.firstAt(s.end) - s.firstAt(s.measured)
}

// firstAt is the index of the first request due at or after offset off.
func (s *schedule) firstAt(off time.Duration) int64 {
	i := int64(off.Seconds() * s.rate)
	for i > 0 && s.due(i-1) >= off {
		i--
	}
	for s.due(i) < off {
		i++
	}
	return i
}

// worker sends the requests it takes on its own connection.
type worker struct {
	cfg   Config
	clock clockwork.Clock
	sched *schedule
	tally *tally
	conn  *clientConn
	from  *net.TCPAddr // the source address of its connections; nil: any
	// fine sleeps the last fineMargin before a due time, on time; nil
	// leaves the whole wait to clock (a fake one in tests).
	fine *fineTimer
}

// run takes and sends requests until the schedule ends or ctx is done.
func (w *worker) run(ctx context.Context) {
	defer w.closeConn()
	defer func() {
		if w.fine != nil {
			w.fine.close()
		}
	}()
	for ctx.Err() == nil {
		_, due, ok := w.sched.take()
		if !ok {
			return
		}
		if !w.waitUntil(ctx, due) {
			return
		}
		if w.clock.Since(w.sched.start) >= w.sched.end {
			if due >= w.sched.measured {
				w.sched.unsent.Add(1)
			}
			continue
		}
		w.send(due)
	}
}

// waitUntil waits until offset due; false if ctx ended first.
func (w *worker) waitUntil(ctx context.Context, due time.Duration) bool {
	d := due - w.clock.Since(w.sched.start)
	if w.fine != nil {
		d -= fineMargin
	}
	if d > 0 && !w.sleep(ctx, d) {
		return false
	}
	if w.fine != nil {
		if rest := due - w.clock.Since(w.sched.start); rest > 0 {
			if err := w.fine.sleep(rest); err != nil {
				w.fine.close()
				w.fine = nil // Go's timers from now on
				return w.sleep(ctx, due-w.clock.Since(w.sched.start))
			}
		}
	}
	return true
}

// sleep waits d on the clock; false if ctx ended first.
func (w *worker) sleep(ctx context.Context, d time.Duration) bool {
	t := w.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.Chan():
		return true
	case <-ctx.Done():
		return false
	}
}

// send does one request due at offset due and records it when due falls
// in the measured period.
func (w *worker) send(due time.Duration) {
	sent := w.clock.Now()
	code, err := w.do(sent.Add(w.cfg.Timeout))
	done := w.clock.Now()
	if due < w.sched.measured {
		return
	}
	dueAt := w.sched.start.Add(due)
	w.tally.record(code, err, done.Sub(dueAt), sent.Sub(dueAt))
}

// do sends the request on the worker's connection, dialling one first if
// it has none; a connection that failed or that the server closes is
// dropped, so the next request dials afresh.
func (w *worker) do(deadline time.Time) (int, error) {
	if w.conn == nil {
		c, err := dial(w.cfg.Target, w.from, deadline)
		if err != nil {
			return 0, err
		}
		w.conn = c
	}
	code, keep, err := w.conn.get(deadline)
	if err != nil || !keep {
		w.closeConn()
	}
	return code, err
}

// closeConn closes the worker's connection, if any.
func (w *worker) closeConn() {
	if w.conn != nil {
		w.conn.close()
		w.conn = nil
	}
}
