package rollback

// One function per rule: each returns its Check with the numbers behind it
// and a sentence a user can read.

import (
	"fmt"
	"strconv"
	"time"
)

// evaluator applies rules (with defaults) to one sample.
type evaluator struct {
	r Rules
	s Sample
	z float64 // one-sided z at r.Confidence

	// recent are the samples of the recent windows (none: the source's
	// short windows are not exact) and h their threshold.
	recent []Sample
	h      float64
}

// errors are a side's errors under the rules: 5xx, plus 4xx with Count4xx.
func (e *evaluator) errors(s SideSample) uint64 {
	if e.r.Count4xx {
		return s.Errors + s.Errors4xx
	}
	return s.Errors
}

func (e *evaluator) errorsName() string {
	if e.r.Count4xx {
		return "errors (5xx+4xx)"
	}
	return "5xx"
}

// enough says why n requests (or pairs) of what are too few to judge, or
// "" when they are enough.
func (e *evaluator) enough(what string, n uint64) string {
	if n == 0 {
		return fmt.Sprintf("%s: none in %s", what, e.s.Window)
	}
	if n < uint64(e.r.MinRequests) {
		return fmt.Sprintf("%s: %d in %s, below min_requests %d", what, n, e.s.Window, e.r.MinRequests)
	}
	return ""
}

func (e *evaluator) confidence() string {
	return strconv.FormatFloat(e.r.Confidence*100, 'g', 4, 64) + "%"
}

func (e *evaluator) minRequests() Check {
	c := Check{Rule: RuleMinRequests, Threshold: float64(e.r.MinRequests), Value: float64(e.s.New.Requests), Result: Pass}
	if why := e.enough("new side requests", e.s.New.Requests); why != "" {
		c.Result, c.Reason = Insufficient, why
		return c
	}
	c.Reason = fmt.Sprintf("new side: %d requests in %s, no limit set", e.s.New.Requests, e.s.Window)
	return c
}

// errorRate fails when the lower bound of new's error rate is above maxRate.
func (e *evaluator) errorRate(maxRate float64) Check {
	n, x := e.s.New.Requests, e.errors(e.s.New)
	c := Check{Rule: RuleMaxErrorRate, Threshold: maxRate, Value: ratio(x, n)}
	if why := e.enough("new side requests", n); why != "" {
		c.Result, c.Reason = Insufficient, why
		return c
	}
	c.Bound = wilson(x, n, e.z).lower
	c.Result, c.Reason = judge(c.Bound, maxRate, fmt.Sprintf("new %s %s (%d/%d), %s lower bound %s",
		e.errorsName(), pct(c.Value), x, n, e.confidence(), pct(c.Bound)), "max "+limit(maxRate))
	if c.Result == Pass {
		return e.recentErrorRate(c, maxRate)
	}
	return c
}

// errorRateIncrease fails when the lower bound of new's error rate minus
// old's is above maxRate.
func (e *evaluator) errorRateIncrease(maxRate float64) Check {
	nn, xn := e.s.New.Requests, e.errors(e.s.New)
	no, xo := e.s.Old.Requests, e.errors(e.s.Old)
	c := Check{Rule: RuleMaxErrorRateIncrease, Threshold: maxRate, Value: ratio(xn, nn) - ratio(xo, no)}
	for _, side := range []struct {
		what string
		n    uint64
	}{{"new side requests", nn}, {"old side requests", no}} {
		if why := e.enough(side.what, side.n); why != "" {
			c.Result, c.Reason = Insufficient, why
			return c
		}
	}
	c.Bound = newcombe(xn, nn, xo, no, e.z).lower
	c.Result, c.Reason = judge(c.Bound, maxRate, fmt.Sprintf("new %s %s (%d/%d) vs old %s (%d/%d): %s, %s lower bound %s",
		e.errorsName(), pct(ratio(xn, nn)), xn, nn, pct(ratio(xo, no)), xo, no,
		signed(c.Value), e.confidence(), signed(c.Bound)), "max +"+limit(maxRate))
	if c.Result == Pass {
		return e.recentErrorRateIncrease(c, maxRate)
	}
	return c
}

// p99Increase fails when new's p99 is above old's plus the allowance.
// There is no confidence bound on a percentile of a histogram: Value and
// Bound are new's p99 and Threshold the limit, all in seconds.
func (e *evaluator) p99Increase(l LatencyLimit) Check {
	old, nw := e.s.Old.P99, e.s.New.P99
	c := Check{Rule: RuleMaxP99Increase, Value: nw.Seconds(), Bound: nw.Seconds()}
	for _, side := range []struct {
		name string
		n    uint64
		p99  time.Duration
	}{{"new side", e.s.New.Requests, nw}, {"old side", e.s.Old.Requests, old}} {
		why := e.enough(side.name+" requests", side.n)
		if why == "" && side.p99 <= 0 {
			why = side.name + ": p99 unknown"
		}
		if why != "" {
			c.Result, c.Reason = Insufficient, why
			return c
		}
	}
	lim, how := old+l.Delta, "old + "+fmtDuration(l.Delta)
	if l.Delta <= 0 {
		lim = time.Duration(float64(old) * (1 + l.Ratio))
		how = "old +" + limit(l.Ratio)
	}
	c.Threshold = lim.Seconds()
	c.Result, c.Reason = judge(nw.Seconds(), lim.Seconds(), fmt.Sprintf("new p99 %s vs old %s",
		fmtDuration(nw), fmtDuration(old)), fmt.Sprintf("limit %s (%s)", fmtDuration(lim), how))
	return c
}

// diffRate fails when the lower bound of the share of compared pairs that
// differ is above maxRate.
func (e *evaluator) diffRate(maxRate float64) Check {
	n, x := e.s.Pairs, e.s.Diffs
	c := Check{Rule: RuleMaxDiffRate, Threshold: maxRate, Value: ratio(x, n)}
	if why := e.enough("compared shadow pairs", n); why != "" {
		c.Result, c.Reason = Insufficient, why
		return c
	}
	c.Bound = wilson(x, n, e.z).lower
	c.Result, c.Reason = judge(c.Bound, maxRate, fmt.Sprintf("diffs %s (%d/%d pairs), %s lower bound %s",
		pct(c.Value), x, n, e.confidence(), pct(c.Bound)), "max "+limit(maxRate))
	if c.Result == Pass {
		return e.recentDiffRate(c, maxRate)
	}
	return c
}

// judge fails when v is above most, and says so after what.
func judge(v, most float64, what, lim string) (result, reason string) {
	if v > most {
		return Fail, what + " > " + lim
	}
	return Pass, what + " ≤ " + lim
}

// pct formats a measured rate: "15.0%", "0.40%".
func pct(v float64) string {
	p := v * 100
	switch {
	case p == 0:
		return "0%"
	case p > -1 && p < 1:
		return strconv.FormatFloat(p, 'f', 2, 64) + "%"
	}
	return strconv.FormatFloat(p, 'f', 1, 64) + "%"
}

// signed formats a difference of rates: "+9.0%", "-0.40%".
func signed(v float64) string {
	if v >= 0 {
		return "+" + pct(v)
	}
	return pct(v)
}

// limit formats a configured rate as written: "2%", "0.5%".
func limit(v float64) string {
	return strconv.FormatFloat(v*100, 'g', 4, 64) + "%"
}

// fmtDuration rounds a latency for reading: "340ms", "1.25ms".
func fmtDuration(d time.Duration) string {
	switch {
	case d >= 10*time.Millisecond:
		return d.Round(time.Millisecond).String()
	case d >= 10*time.Microsecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.String()
}
