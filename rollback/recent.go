package rollback

import (
	"fmt"
	"time"
)

// maxRecentWindows bounds the recent windows of rules whose interval is
// tiny next to their window.
const maxRecentWindows = 12

// RecentWindows are the recent windows the rules also look at (see
// stats.go): the interval, then doubling, while shorter than the window.
// With the defaults (1s, 30s): 1s, 2s, 4s, 8s, 16s.
func (r Rules) RecentWindows() []time.Duration {
	r = r.withDefaults()
	var ws []time.Duration
	for d := r.Interval; d < r.Window && len(ws) < maxRecentWindows; d *= 2 {
		ws = append(ws, d)
	}
	return ws
}

// ExactWindows is implemented by a Source whose samples are exact counts
// over any window down to the rules' interval (the in-process telemetry,
// the log-derived windows), so that a recent window of a few seconds is
// evidence. A Prometheus source is not: increase() over a window shorter
// than a few scrape intervals is empty or extrapolated. The controller
// samples the recent windows only of a source that says true.
type ExactWindows interface {
	ExactWindows() bool
}

// recentBound is a recent window's evidence: its sample, the counts
// tested, their lower bound and how far it is above the window's limit.
type recentBound struct {
	s      Sample
	x, n   uint64
	bound  float64
	excess float64 // bound minus the window's limit
}

// worstRecent returns the recent window whose klLower bound of x/n (from
// count) is furthest above its limit (from limitOf), and whether any is
// above.
func (e *evaluator) worstRecent(count func(Sample) (x, n uint64), limitOf func(Sample) float64) (recentBound, bool) {
	var worst recentBound
	found := false
	for _, s := range e.recent {
		x, n := count(s)
		if n == 0 {
			continue
		}
		b := klLower(x, n, e.h)
		if ex := b - limitOf(s); ex > 0 && (!found || ex > worst.excess) {
			worst, found = recentBound{s: s, x: x, n: n, bound: b, excess: ex}, true
		}
	}
	return worst, found
}

// recentWhy names the statistics of a recent-window failure. The
// confidence holds for the recent windows together over a whole
// window of time (see recentThreshold): "99% per 30s over 5 recent
// windows".
func (e *evaluator) recentWhy() string {
	return fmt.Sprintf("%s per %s over %d recent windows", e.confidence(), e.r.Window, len(e.recent))
}

// recentErrorRate fails c (a passing max_error_rate check) when a recent
// window alone shows new's error rate above maxRate.
func (e *evaluator) recentErrorRate(c Check, maxRate float64) Check {
	w, ok := e.worstRecent(func(s Sample) (uint64, uint64) { return e.errors(s.New), s.New.Requests },
		func(Sample) float64 { return maxRate })
	if !ok {
		return c
	}
	c.Result, c.Value, c.Bound = Fail, ratio(w.x, w.n), w.bound
	c.Reason = fmt.Sprintf("new %s %s (%d/%d) in the last %s, lower bound %s (%s) > max %s",
		e.errorsName(), pct(c.Value), w.x, w.n, w.s.Window, pct(w.bound), e.recentWhy(), limit(maxRate))
	return c
}

// recentErrorRateIncrease fails c (a passing max_error_rate_increase
// check) when a recent window alone shows new's error rate above old's
// plus maxRate. Old's rate there is the higher of its upper bound over the
// whole window (the steady baseline, with its own 1 - confidence of
// error) and its rate in the same recent window: a failure of both sides
// at once (a shared database, say) is not blamed on new.
func (e *evaluator) recentErrorRateIncrease(c Check, maxRate float64) Check {
	base := wilson(e.errors(e.s.Old), e.s.Old.Requests, e.z).upper
	oldRate := func(s Sample) float64 { return max(base, ratio(e.errors(s.Old), s.Old.Requests)) }
	w, ok := e.worstRecent(func(s Sample) (uint64, uint64) { return e.errors(s.New), s.New.Requests },
		func(s Sample) float64 { return oldRate(s) + maxRate })
	if !ok {
		return c
	}
	old := oldRate(w.s)
	c.Result, c.Value, c.Bound = Fail, ratio(w.x, w.n)-ratio(e.errors(w.s.Old), w.s.Old.Requests), w.bound-old
	c.Reason = fmt.Sprintf("new %s %s (%d/%d) in the last %s, lower bound %s (%s), vs old at most %s: %s > max +%s",
		e.errorsName(), pct(ratio(w.x, w.n)), w.x, w.n, w.s.Window, pct(w.bound), e.recentWhy(),
		pct(old), signed(c.Bound), limit(maxRate))
	return c
}

// recentDiffRate fails c (a passing max_diff_rate check) when a recent
// window alone shows a diff rate above maxRate.
func (e *evaluator) recentDiffRate(c Check, maxRate float64) Check {
	w, ok := e.worstRecent(func(s Sample) (uint64, uint64) { return s.Diffs, s.Pairs },
		func(Sample) float64 { return maxRate })
	if !ok {
		return c
	}
	c.Result, c.Value, c.Bound = Fail, ratio(w.x, w.n), w.bound
	c.Reason = fmt.Sprintf("diffs %s (%d/%d pairs) in the last %s, lower bound %s (%s) > max %s",
		pct(c.Value), w.x, w.n, w.s.Window, pct(w.bound), e.recentWhy(), limit(maxRate))
	return c
}
