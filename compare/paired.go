package compare

import (
	"math"
	"time"
)

// pairedHist holds what the pairs both sides answered say together: the
// differences candidate minus primary (by sign, log-scale like
// latencyHist) and the ratios candidate over primary (a ratio r is kept as
// r milliseconds, so the same buckets hold 0.001 to 268,000).
type pairedHist struct {
	slower latencyHist // d >= 0, as d
	faster latencyHist // d < 0, as -d
	ratio  latencyHist
}

func (p *pairedHist) add(primary, candidate time.Duration) {
	if d := candidate - primary; d >= 0 {
		p.slower.add(d)
	} else {
		p.faster.add(-d)
	}
	if primary > 0 {
		r := min(float64(candidate)/float64(primary), 1e9)
		p.ratio.add(time.Duration(r * float64(time.Millisecond)))
	}
}

func (p *pairedHist) n() uint64 { return p.slower.n + p.faster.n }

// deltaLowerMs is a lower bound, in milliseconds, of the k-th smallest
// difference (1-based): the negatives first, largest first.
func (p *pairedHist) deltaLowerMs(k uint64) float64 {
	if k <= p.faster.n {
		return -p.faster.upperEdgeMs(p.faster.rank(p.faster.n - k + 1))
	}
	return p.slower.lowerEdgeMs(p.slower.rank(k - p.faster.n))
}

// judgeMedian judges p50 on the pairs (see the comment of latency.go).
func judgeMedian(p *pairedHist, m LatencyMargin) QuantileJudgement {
	insufficient := QuantileJudgement{Verdict: LatencyInsufficient}
	if p.n() < MinLatencyPairs || p.ratio.n < MinLatencyPairs {
		return insufficient
	}
	a := (1 - LatencyConfidence) / 2
	kd, okD := lowerRank(p.n(), 0.5, a)
	kr, okR := lowerRank(p.ratio.n, 0.5, a)
	if !okD || !okR {
		return insufficient
	}
	j := QuantileJudgement{
		Verdict: LatencyOK, Paired: true,
		DeltaLowerMs: p.deltaLowerMs(kd),
		RatioLower:   p.ratio.lowerEdgeMs(p.ratio.rank(kr)),
	}
	if math.IsInf(j.DeltaLowerMs, -1) {
		j.DeltaLowerMs = -math.MaxFloat64 // JSON has no infinity
	}
	if j.Exceeds(m) {
		j.Verdict = LatencyRegression
	}
	return j
}
