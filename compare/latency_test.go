package compare

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// latencyPairs compares n pairs on one endpoint, each side's latency drawn
// by its function from one seeded source, and returns the endpoint's
// judgement.
func latencyPairs(t *testing.T, seed uint64, n int, primary, candidate func(*rand.Rand) time.Duration) LatencyJudgement {
	t.Helper()
	return latencyPairsOf(t, seed, n, func(r *rand.Rand) (time.Duration, time.Duration) { return primary(r), candidate(r) })
}

// latencyPairsOf is latencyPairs with both latencies of a pair drawn
// together.
func latencyPairsOf(t *testing.T, seed uint64, n int, pair func(*rand.Rand) (time.Duration, time.Duration)) LatencyJudgement {
	t.Helper()
	e, err := NewEngine(Config{})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 17))
	for range n {
		p, c := pair(rng)
		e.Compare(Pair{App: "shop", Request: Request{Method: "GET", Path: "/api/search"},
			Primary: Response{Status: 200, Latency: p}, Candidate: Response{Status: 200, Latency: c}})
	}
	stats := e.Stats("shop")
	if len(stats) != 1 {
		t.Fatalf("%d endpoints, want 1", len(stats))
	}
	return stats[0].Latency.Judgement
}

// logNormal draws around median with the spread sigma (of the log).
func logNormal(median time.Duration, sigma float64) func(*rand.Rand) time.Duration {
	return func(r *rand.Rand) time.Duration {
		return time.Duration(float64(median) * math.Exp(sigma*r.NormFloat64()))
	}
}

// spiky is a noisy service: log-normal, and one answer in twenty ten times
// slower (a GC pause, a cold cache).
func spiky(median time.Duration) func(*rand.Rand) time.Duration {
	base := logNormal(median, 0.5)
	return func(r *rand.Rand) time.Duration {
		d := base(r)
		if r.IntN(20) == 0 {
			d *= 10
		}
		return d
	}
}

func TestLatencyJudgement(t *testing.T) {
	tests := []struct {
		name           string
		n              int
		primary, cand  func(*rand.Rand) time.Duration
		want, p50, p99 string
		seeds          int // judged alike on each seed
	}{
		// The demo's /api/search: +13.6ms at p50, about +60%.
		{"slower by 60% and 13.6ms", 200, logNormal(22700*time.Microsecond, 0.2), logNormal(36300*time.Microsecond, 0.2),
			LatencyRegression, LatencyRegression, LatencyInsufficient, 20},
		{"noisy but equal", 2000, spiky(20 * time.Millisecond), spiky(20 * time.Millisecond),
			LatencyOK, LatencyOK, LatencyOK, 20},
		{"equal and tight", 500, logNormal(20*time.Millisecond, 0.05), logNormal(20*time.Millisecond, 0.05),
			LatencyOK, LatencyOK, LatencyOK, 5},
		{"faster", 500, logNormal(20*time.Millisecond, 0.2), logNormal(10*time.Millisecond, 0.2),
			LatencyOK, LatencyOK, LatencyOK, 5},
		{"too few pairs, much slower", 15, logNormal(5*time.Millisecond, 0.1), logNormal(50*time.Millisecond, 0.1),
			LatencyInsufficient, LatencyInsufficient, LatencyInsufficient, 5},
		// Over +20% but under +5ms: fast endpoints are not flagged for
		// a millisecond.
		{"+50% but +2ms", 2000, logNormal(4*time.Millisecond, 0.05), logNormal(6*time.Millisecond, 0.05),
			LatencyOK, LatencyOK, LatencyOK, 5},
		// Over +5ms but under +20%.
		{"+10% and +10ms", 2000, logNormal(100*time.Millisecond, 0.05), logNormal(110*time.Millisecond, 0.05),
			LatencyOK, LatencyOK, LatencyOK, 5},
		// Same median, a slow tail: only p99 shows it.
		{"slow tail", 3000, logNormal(20*time.Millisecond, 0.1), func(r *rand.Rand) time.Duration {
			if r.IntN(20) == 0 {
				return 200 * time.Millisecond
			}
			return logNormal(20*time.Millisecond, 0.1)(r)
		}, LatencyRegression, LatencyOK, LatencyRegression, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for seed := range uint64(tt.seeds) {
				j := latencyPairs(t, seed, tt.n, tt.primary, tt.cand)
				if j.Verdict != tt.want || j.P50.Verdict != tt.p50 || j.P99.Verdict != tt.p99 {
					t.Fatalf("seed %d: verdict %s (p50 %+v, p99 %+v), want %s (p50 %s, p99 %s)",
						seed, j.Verdict, j.P50, j.P99, tt.want, tt.p50, tt.p99)
				}
			}
		})
	}
}

// TestLatencyJudgementPaired: on a loaded machine both answers of a pair
// wait for the CPU alike (here a shared delay of 0 to 200ms, heavy-tailed,
// as the demo saw under -race at load 15: old's p50 20ms, p95 97ms); the
// sides' quantiles overlap, but the paired differences still show new
// +15ms (4ms against 19ms of work), and equal sides stay ok.
func TestLatencyJudgementPaired(t *testing.T) {
	shared := func(r *rand.Rand) time.Duration {
		return time.Duration(float64(10*time.Millisecond) * math.Exp(1.2*r.NormFloat64()))
	}
	jitter := logNormal(time.Millisecond, 0.3)
	tests := []struct {
		name     string
		old, new time.Duration
		wantP50  string
	}{
		{"slower under shared load", 4 * time.Millisecond, 19 * time.Millisecond, LatencyRegression},
		{"equal under shared load", 4 * time.Millisecond, 4 * time.Millisecond, LatencyOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for seed := range uint64(20) {
				j := latencyPairsOf(t, seed, 90, func(r *rand.Rand) (time.Duration, time.Duration) {
					s := shared(r)
					return tt.old + s + jitter(r), tt.new + s + jitter(r)
				})
				if j.P50.Verdict != tt.wantP50 {
					t.Fatalf("seed %d: p50 %+v, want %s", seed, j.P50, tt.wantP50)
				}
			}
		})
	}
}

// TestLatencyMarginFromConfig: the margin is the engine's, and a report's
// bounds re-judged with another margin (the CI gate) agree with the engine
// judging with that margin.
func TestLatencyMarginFromConfig(t *testing.T) {
	rel, abs := 1.0, 30*time.Millisecond // +100% and +30ms: the demo's slowdown is under it
	e, err := NewEngine(Config{LatencyRelative: &rel, LatencyAbsolute: &abs})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	old, nw := logNormal(22700*time.Microsecond, 0.2), logNormal(36300*time.Microsecond, 0.2)
	for range 300 {
		e.Compare(Pair{App: "shop", Request: Request{Path: "/api/search"},
			Primary: Response{Status: 200, Latency: old(rng)}, Candidate: Response{Status: 200, Latency: nw(rng)}})
	}
	j := e.Stats("shop")[0].Latency.Judgement
	if j.Verdict != LatencyOK || j.MarginRelative != 1 || j.MarginAbsoluteMs != 30 {
		t.Errorf("judgement %+v, want ok under a +100%% and +30ms margin", j)
	}
	if !j.Regressed(LatencyMargin{Relative: 0.2, Absolute: 5 * time.Millisecond}) {
		t.Errorf("bounds %+v re-judged with +20%% and +5ms: not a regression, want one", j.P50)
	}
	if _, err := NewEngine(Config{LatencyRelative: new(-0.1)}); err == nil {
		t.Error("NewEngine accepted a negative latency margin")
	}
}

// TestQuantileRanks checks the order-statistic ranks against published
// values and the normal approximation against the exact ranks.
func TestQuantileRanks(t *testing.T) {
	a := 0.025
	tests := []struct {
		n        uint64
		q        float64
		l, u     uint64
		okL, okU bool
	}{
		{20, 0.5, 6, 15, true, true},     // Conover's table A.3: the median of 20 lies in [X(6), X(15)] at 95%
		{100, 0.5, 40, 61, true, true},   // [X(40), X(61)]
		{5, 0.5, 0, 0, false, false},     // 0.5^5 > 0.025: no bound
		{300, 0.99, 293, 0, true, false}, // p99 has no upper bound below about 367 values
		{400, 0.99, 392, 400, true, true},
	}
	for _, tt := range tests {
		l, okL := lowerRank(tt.n, tt.q, a)
		u, okU := upperRank(tt.n, tt.q, a)
		if l != tt.l || u != tt.u || okL != tt.okL || okU != tt.okU {
			t.Errorf("n %d q %v: ranks %d %v, %d %v; want %d %v, %d %v", tt.n, tt.q, l, okL, u, okU, tt.l, tt.okL, tt.u, tt.okU)
		}
	}
	n := uint64(exactBinomialMax)
	for _, q := range []float64{0.5, 0.99} {
		le, _ := lowerRank(n, q, a)
		ue, _ := upperRank(n, q, a)
		ln, _ := normalSearch(n, q, func(cdf float64) bool { return cdf > a })
		un, _ := normalSearch(n, q, func(cdf float64) bool { return cdf >= 1-a })
		if d := math.Abs(float64(le) - float64(ln)); d > 2 {
			t.Errorf("q %v: exact lower rank %d, normal %d", q, le, ln)
		}
		if d := math.Abs(float64(ue) - float64(un+1)); d > 2 {
			t.Errorf("q %v: exact upper rank %d, normal %d", q, ue, un+1)
		}
	}
}
