package telemetry

// Sliding windows: the recent per-side numbers the rollback analysis reads.
//
// Every Side keeps a ring of one-second buckets over the last WindowMax
// (Options.WindowMax, default 5m): answered requests by latency bucket (on
// DurationBuckets, so that a window's p99 agrees with the exported
// histogram), 5xx and 4xx answers. Every app's Shadow keeps its compared
// pairs and real diffs the same way. Window and ShadowWindow sum the
// buckets of the last d.
//
// The ring is written on the request path without a lock. Each field of a
// bucket is one atomic word holding the second it counts in its upper 32
// bits and the count in its lower 32: a writer whose second matches adds
// one; a writer that finds an older second swaps in (second, 1), so a
// bucket reused after the ring has wrapped starts from zero without a
// separate reset; a reader counts a word only when it holds the second
// asked for. A write older than the word's second is dropped (its writer
// stalled for a whole ring).
//
// Seconds count from the creation of the Metrics on its clock
// (Options.Clock, default real time). Reading the real clock (some 25ns)
// would cost more than the rest of Side.Request, so on real time Run keeps
// the current second in an atomic, refreshed by a timer at every second
// boundary, and requests read that: the window then adds one or two
// atomic adds to a request (see BenchmarkSideRequestClock). Before and
// after Run (tools, tests), and always on an injected clock, every request
// reads the clock, which keeps tests on a fake clock exact and free of
// extra timers.

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
)

// DefaultWindowMax is the longest window Window and ShadowWindow answer
// unless Options.WindowMax says otherwise.
const DefaultWindowMax = 5 * time.Minute

// WindowStats are one side's numbers over a recent window.
type WindowStats struct {
	Requests  uint64 `json:"requests"`
	Errors5xx uint64 `json:"errors_5xx"`
	Errors4xx uint64 `json:"errors_4xx"`
	// P99 is the 99th percentile latency, interpolated within
	// DurationBuckets as Snapshot does; 0 without requests.
	P99 time.Duration `json:"p99"`
	// Window is the span summed: the one asked for, rounded up to whole
	// seconds and capped at WindowMax. The current second, so far, is
	// counted on top of it.
	Window time.Duration `json:"window"`
}

// ShadowWindowStats are one app's shadow comparisons over a recent window:
// compared pairs (outcomes match, diff and noise) and real diffs (outcome
// diff), as package compare counts them.
type ShadowWindowStats struct {
	Pairs  uint64        `json:"pairs"`
	Diffs  uint64        `json:"diffs"`
	Window time.Duration `json:"window"`
}

// Window returns one app's side over the last d ending at now, which must
// come from the clock the Metrics was created with. A side that recorded
// nothing, and a nil Metrics, give zero counts.
func (m *Metrics) Window(app, side string, d time.Duration, now time.Time) WindowStats {
	if m == nil {
		return WindowStats{}
	}
	m.mu.Lock()
	s := m.sides[sideKey{app, side}]
	m.mu.Unlock()
	first, last, n := m.win.span(d, now)
	st := WindowStats{Window: time.Duration(n) * time.Second}
	if s != nil {
		s.win.sum(&st, m.win, first, last)
	}
	return st
}

// ShadowWindow returns one app's compared pairs and diffs over the last d
// ending at now, which must come from the clock the Metrics was created
// with.
func (m *Metrics) ShadowWindow(app string, d time.Duration, now time.Time) ShadowWindowStats {
	if m == nil {
		return ShadowWindowStats{}
	}
	v := m.shadow
	v.mu.Lock()
	s := v.apps[app]
	v.mu.Unlock()
	first, last, n := m.win.span(d, now)
	st := ShadowWindowStats{Window: time.Duration(n) * time.Second}
	if s != nil {
		st.Pairs, st.Diffs = s.win.sum(m.win, first, last)
	}
	return st
}

// WindowMax is the longest window Window and ShadowWindow answer; longer
// ones are capped.
func (m *Metrics) WindowMax() time.Duration {
	if m == nil {
		return 0
	}
	return time.Duration(m.win.seconds) * time.Second
}

// windowClock maps time to the seconds that index the rings.
type windowClock struct {
	clock   clockwork.Clock
	start   time.Time
	seconds uint32          // WindowMax in seconds; every ring has seconds+1 buckets
	bounds  []float64       // latency bucket upper bounds, in seconds
	limits  []time.Duration // the same bounds, as durations
	// cache is set on real time: Run then runs runClock.
	cache bool
	// cached is, while runClock keeps it, the current second plus one in
	// the upper 32 bits and its slot in the rings in the lower 32; 0 when
	// requests must read the clock.
	cached atomic.Uint64
}

func newWindowClock(c clockwork.Clock, keep time.Duration) *windowClock {
	cache := c == nil
	if c == nil {
		c = clockwork.NewRealClock()
	}
	if keep <= 0 {
		keep = DefaultWindowMax
	}
	secs := (keep + time.Second - 1) / time.Second
	limits := make([]time.Duration, len(DurationBuckets))
	for i, b := range DurationBuckets {
		limits[i] = time.Duration(b * float64(time.Second))
	}
	return &windowClock{clock: c, start: c.Now(), seconds: uint32(secs), bounds: DurationBuckets, limits: limits, cache: cache}
}

// now returns the current second and its slot in the rings.
func (c *windowClock) now() (sec, slot uint32) {
	if v := c.cached.Load(); v != 0 {
		return uint32(v>>32) - 1, uint32(v)
	}
	var el time.Duration
	if c.cache {
		el = time.Since(c.start) // the monotonic clock only: half of Now
	} else {
		el = c.clock.Since(c.start)
	}
	sec = secondOf(el)
	return sec, c.slot(sec)
}

// slot is the index of a second's bucket in the rings.
func (c *windowClock) slot(sec uint32) uint32 {
	return sec % (c.seconds + 1)
}

func secondOf(d time.Duration) uint32 {
	if d < 0 {
		return 0
	}
	return uint32(d / time.Second)
}

// span returns the seconds of the window of length d ending at now: the
// last n whole seconds and the current one.
func (c *windowClock) span(d time.Duration, now time.Time) (first, last, n uint32) {
	n = c.seconds
	if d < time.Duration(n)*time.Second {
		n = uint32((max(d, 0) + time.Second - 1) / time.Second)
	}
	last = secondOf(now.Sub(c.start))
	if last >= n {
		first = last - n
	}
	return first, last, n
}

// runClock keeps cached at the current second until ctx is done, waking at
// every second boundary.
func (c *windowClock) runClock(ctx context.Context) {
	defer c.cached.Store(0)
	t := c.clock.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.Chan():
		}
		el := max(c.clock.Since(c.start), 0)
		sec := secondOf(el)
		c.cached.Store(uint64(sec+1)<<32 | uint64(c.slot(sec)))
		t.Reset(time.Second - el%time.Second)
	}
}

// sideWindow is a Side's ring: per bucket, one word per latency bucket
// (the last for +Inf), then 5xx, then 4xx.
type sideWindow struct {
	words  []atomic.Uint64
	stride int
}

func newSideWindow(c *windowClock) sideWindow {
	stride := len(c.bounds) + 3
	return sideWindow{words: make([]atomic.Uint64, (int(c.seconds)+1)*stride), stride: stride}
}

func (w *sideWindow) record(c *windowClock, code int, d time.Duration) {
	sec, slot := c.now()
	b := w.bucket(slot)
	bump(&b[latencyIndex(c.limits, d)], sec)
	switch code / 100 {
	case 5:
		bump(&b[w.stride-2], sec)
	case 4:
		bump(&b[w.stride-1], sec)
	}
}

func (w *sideWindow) bucket(slot uint32) []atomic.Uint64 {
	i := int(slot) * w.stride
	return w.words[i : i+w.stride]
}

func (w *sideWindow) sum(st *WindowStats, c *windowClock, first, last uint32) {
	bounds := c.bounds
	lat := make([]uint64, len(bounds)+1)
	for sec := first; sec <= last; sec++ {
		b := w.bucket(c.slot(sec))
		for i := range lat {
			lat[i] += count(&b[i], sec)
		}
		st.Errors5xx += count(&b[w.stride-2], sec)
		st.Errors4xx += count(&b[w.stride-1], sec)
	}
	for _, n := range lat {
		st.Requests += n
	}
	st.P99 = latencyQuantile(0.99, bounds, lat, st.Requests)
}

// latencyIndex is the bucket of d: the first limit d does not exceed, or
// the +Inf bucket.
func latencyIndex(limits []time.Duration, d time.Duration) int {
	for i, l := range limits {
		if d <= l {
			return i
		}
	}
	return len(limits)
}

// latencyQuantile estimates the q-quantile of per-bucket counts as
// bucketQuantile does for a Prometheus histogram.
func latencyQuantile(q float64, bounds []float64, counts []uint64, total uint64) time.Duration {
	if total == 0 {
		return 0
	}
	rank := q * float64(total)
	var lower float64
	var below uint64
	for i, n := range counts[:len(bounds)] {
		if cum := below + n; float64(cum) >= rank && n > 0 {
			v := lower + (bounds[i]-lower)*(rank-float64(below))/float64(n)
			return time.Duration(v * float64(time.Second))
		}
		lower, below = bounds[i], below+n
	}
	return time.Duration(lower * float64(time.Second))
}

// pairWindow is a Shadow's ring: compared pairs and diffs per second.
type pairWindow struct {
	words []atomic.Uint64
}

func newPairWindow(c *windowClock) pairWindow {
	return pairWindow{words: make([]atomic.Uint64, (int(c.seconds)+1)*2)}
}

// record counts a pair's outcome; outcomes that were not compared are
// left out.
func (w *pairWindow) record(c *windowClock, outcome string) {
	switch outcome {
	case "match", "noise", "diff": // compare.OutcomeMatch, OutcomeNoise, OutcomeDiff
	default:
		return
	}
	sec, slot := c.now()
	i := int(slot) * 2
	bump(&w.words[i], sec)
	if outcome == "diff" {
		bump(&w.words[i+1], sec)
	}
}

func (w *pairWindow) sum(c *windowClock, first, last uint32) (pairs, diffs uint64) {
	for sec := first; sec <= last; sec++ {
		i := int(c.slot(sec)) * 2
		pairs += count(&w.words[i], sec)
		diffs += count(&w.words[i+1], sec)
	}
	return pairs, diffs
}

// bump adds one to word for second sec (see the top of the file).
func bump(word *atomic.Uint64, sec uint32) {
	for {
		v := word.Load()
		switch s := uint32(v >> 32); {
		case s == sec:
			word.Add(1)
			return
		case s > sec:
			return
		}
		if word.CompareAndSwap(v, uint64(sec)<<32|1) {
			return
		}
	}
}

// count is word's count for second sec.
func count(word *atomic.Uint64, sec uint32) uint64 {
	v := word.Load()
	if uint32(v>>32) != sec {
		return 0
	}
	return v & 0xffffffff
}
