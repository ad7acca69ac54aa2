package compare

import (
	"math"
	"time"
)

// pairedHist holds the differences candidate minus primary of the pairs
// both sides answered, by sign, log-scale like latencyHist.
type pairedHist struct {
	slower latencyHist // d >= 0, as d
	faster latencyHist // d < 0, as -d
}

func (p *pairedHist) add(primary, candidate time.Duration) {
	if d := candidate - primary; d >= 0 {
		p.slower.add(d)
	} else {
		p.faster.add(-d)
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

// judgeMedian judges p50 on the pairs and the primary's p50 (see the
// comment of latency.go).
func judgeMedian(p *pairedHist, primary *latencyHist, m LatencyMargin) QuantileJudgement {
	insufficient := QuantileJudgement{Verdict: LatencyInsufficient}
	if p.n() < MinLatencyPairs || primary.n < MinLatencyPairs {
		return insufficient
	}
	a := (1 - LatencyConfidence) / 2
	kd, okD := lowerRank(p.n(), 0.5, a)
	ku, okU := upperRank(primary.n, 0.5, a)
	if !okD || !okU {
		return insufficient
	}
	j := QuantileJudgement{
		Verdict: LatencyOK, Paired: true,
		DeltaLowerMs:   p.deltaLowerMs(kd),
		PrimaryUpperMs: primary.upperEdgeMs(primary.rank(ku)),
	}
	if math.IsInf(j.DeltaLowerMs, -1) || math.IsInf(j.PrimaryUpperMs, 1) {
		return insufficient // JSON has no infinity, and the bound says nothing
	}
	if j.Exceeds(m) {
		j.Verdict = LatencyRegression
	}
	return j
}
