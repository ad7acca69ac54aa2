package compare

import (
	"fmt"
	"math"
	"time"
)

// Latency regressions. An endpoint's candidate is flagged when its p50 or
// p99 is worse than the primary's by more than a margin (relative AND
// absolute), and that is judged on confidence bounds, never on the bare
// quantiles: a few slow answers, or a noisy but equal distribution, must
// not flag an endpoint.
//
// The method is distribution-free. At p50 it is paired: the pairs both
// sides answered give the differences d = candidate - primary, and the
// order statistic whose rank comes from the binomial distribution
// Bin(n, 1/2) (the sign test's interval) bounds their median from below,
// dLower, with probability at least 1-a/2, whatever the distribution; the
// primary's p50 is bounded from above, pUpper, the same way (below). By
// Bonferroni's inequality both hold at once with probability at least 1-a
// (LatencyConfidence). The endpoint is a regression at p50 when
//
//	dLower > Absolute  and  dLower > Relative × pUpper
//
// that is, the candidate adds more than the margin to the primary's
// median. For a slowdown that shifts the distribution the median of d is
// the difference of the two sides' medians, and pairing cancels what both
// answers of one request share (a slow query, a loaded machine), so that
// the bound is tight where the sides' own quantiles overlap. At p99,
// where a paired difference says little about the tail, each side's
// quantile is bounded instead: for a side with n
// answers, the order statistics X(l) and X(u) whose ranks come from the
// binomial distribution Bin(n, q) bound the side's true q-quantile from
// below and from above, each with probability at least 1-a/2, whatever the
// distribution (Conover, Practical Nonparametric Statistics, 3.2). The
// candidate's lower bound and the primary's upper bound are taken; by
// Bonferroni's inequality both hold at once with probability at least 1-a
// (LatencyConfidence), whatever the dependence between the two answers of
// a pair. The endpoint is a regression at q when
//
//	candidateLower - primaryUpper > Absolute  and  candidateLower > primaryUpper × (1+Relative)
//
// so that the true candidate quantile exceeds the true primary one by more
// than the margin with that confidence. The order statistics are read from
// the endpoint's log-scale histograms (latencyHist), the candidate's at its
// bucket's lower edge and the primary's at its upper edge: the bounds stay
// valid, only wider by a bucket (about 9%). With fewer than MinLatencyPairs
// answers a side, or when no rank bounds the quantile (p99 needs about 370
// answers a side at 95%), the verdict is insufficient, never a regression.
// The method has no randomness: the same stats give the same verdict.

// LatencyConfidence is the confidence of a latency regression.
const LatencyConfidence = 0.95

// MinLatencyPairs is the fewest answers a side needs on an endpoint before
// its latency is judged.
const MinLatencyPairs = 20

// Latency verdicts (LatencyJudgement.Verdict and QuantileJudgement.Verdict).
const (
	LatencyOK           = "ok"
	LatencyRegression   = "regression"
	LatencyInsufficient = "insufficient"
)

// LatencyMargin is how much slower than the primary the candidate may be at
// a quantile before it is a regression: both margins must be exceeded.
type LatencyMargin struct {
	Relative float64       // a fraction: 0.2 is +20%
	Absolute time.Duration // +5ms
}

// LatencyJudgement is an endpoint's latency verdict: regression when p50 or
// p99 is one, else insufficient when p50 could not be judged, else ok.
type LatencyJudgement struct {
	Verdict string            `json:"verdict"`
	P50     QuantileJudgement `json:"p50"`
	P99     QuantileJudgement `json:"p99"`
	// MarginRelative (a fraction) and MarginAbsoluteMs are the margin
	// judged by.
	MarginRelative   float64 `json:"margin_relative"`
	MarginAbsoluteMs float64 `json:"margin_absolute_ms"`
}

// QuantileJudgement is the verdict at one quantile, with the bounds it
// rests on (none when insufficient), together holding with
// LatencyConfidence: the primary's quantile is at most PrimaryUpperMs and,
// paired (p50), the median of candidate minus primary is at least
// DeltaLowerMs, else the candidate's quantile at least CandidateLowerMs.
type QuantileJudgement struct {
	Verdict          string  `json:"verdict"`
	Paired           bool    `json:"paired,omitempty"`
	DeltaLowerMs     float64 `json:"delta_lower_ms,omitempty"`
	PrimaryUpperMs   float64 `json:"primary_upper_ms,omitempty"`
	CandidateLowerMs float64 `json:"candidate_lower_ms,omitempty"`
}

// Exceeds reports whether the bounds show the candidate slower than the
// primary by more than m (false when insufficient): the CI gate re-judges a
// report's bounds with its own margin this way.
func (j QuantileJudgement) Exceeds(m LatencyMargin) bool {
	if j.Verdict == LatencyInsufficient || j.Verdict == "" {
		return false
	}
	abs := float64(m.Absolute) / float64(time.Millisecond)
	if j.Paired {
		return j.DeltaLowerMs > abs && j.DeltaLowerMs > m.Relative*j.PrimaryUpperMs
	}
	lo, hi := j.CandidateLowerMs, j.PrimaryUpperMs
	return lo-hi > abs && lo > hi*(1+m.Relative)
}

// Bounds says the bounds in words, the sides named primary and candidate:
// "new-old at least 14.1ms over the pairs, old at most 8.2ms", or "new at
// least 30.1ms against old at most 8.2ms"; "insufficient" without.
func (j QuantileJudgement) Bounds(primary, candidate string) string {
	switch {
	case j.Verdict == LatencyInsufficient || j.Verdict == "":
		return "insufficient"
	case j.Paired:
		return fmt.Sprintf("%s-%s at least %.1fms over the pairs, %s at most %.1fms",
			candidate, primary, j.DeltaLowerMs, primary, j.PrimaryUpperMs)
	}
	return fmt.Sprintf("%s at least %.1fms against %s at most %.1fms", candidate, j.CandidateLowerMs, primary, j.PrimaryUpperMs)
}

// Regressed reports whether p50 or p99 exceeds m.
func (j LatencyJudgement) Regressed(m LatencyMargin) bool {
	return j.P50.Exceeds(m) || j.P99.Exceeds(m)
}

// judgeLatency judges a candidate's latencies against a primary's: p50 on
// the pairs, p99 on each side.
func judgeLatency(primary, candidate *latencyHist, pairs *pairedHist, m LatencyMargin) LatencyJudgement {
	j := LatencyJudgement{
		P50: judgeMedian(pairs, primary, m), P99: judgeQuantile(primary, candidate, 0.99, m),
		MarginRelative: m.Relative, MarginAbsoluteMs: float64(m.Absolute) / float64(time.Millisecond),
	}
	switch {
	case j.P50.Verdict == LatencyRegression || j.P99.Verdict == LatencyRegression:
		j.Verdict = LatencyRegression
	case j.P50.Verdict == LatencyInsufficient:
		j.Verdict = LatencyInsufficient
	default:
		j.Verdict = LatencyOK
	}
	return j
}

func judgeQuantile(primary, candidate *latencyHist, q float64, m LatencyMargin) QuantileJudgement {
	insufficient := QuantileJudgement{Verdict: LatencyInsufficient}
	if primary.n < MinLatencyPairs || candidate.n < MinLatencyPairs {
		return insufficient
	}
	a := (1 - LatencyConfidence) / 2
	l, okL := lowerRank(candidate.n, q, a)
	u, okU := upperRank(primary.n, q, a)
	if !okL || !okU {
		return insufficient
	}
	j := QuantileJudgement{
		CandidateLowerMs: candidate.lowerEdgeMs(candidate.rank(l)),
		PrimaryUpperMs:   primary.upperEdgeMs(primary.rank(u)),
	}
	if math.IsInf(j.PrimaryUpperMs, 1) {
		return insufficient
	}
	j.Verdict = LatencyOK
	if j.Exceeds(m) {
		j.Verdict = LatencyRegression
	}
	return j
}

// rank returns the bucket holding the k-th smallest value (1-based).
func (h *latencyHist) rank(k uint64) int {
	var seen uint64
	for i, c := range h.counts {
		if seen += c; seen >= k {
			return i
		}
	}
	return len(h.counts) - 1
}

// lowerEdgeMs and upperEdgeMs are bucket i's bounds in milliseconds: the
// first bucket holds [0, 1µs), bucket i [2^((i-1)/8), 2^(i/8)) µs, the last
// everything above.
func (h *latencyHist) lowerEdgeMs(i int) float64 {
	if i == 0 {
		return 0
	}
	return math.Exp2(float64(i-1)/histPerDoubling) / 1000
}

func (h *latencyHist) upperEdgeMs(i int) float64 {
	if i == len(h.counts)-1 {
		return math.Inf(1)
	}
	return math.Exp2(float64(i)/histPerDoubling) / 1000
}
