package rollback

import (
	"math"
	"testing"
	"time"
)

// The expected values below were computed with 40-digit arithmetic
// (mpmath) from the formulas in stats.go; the 95% ones also match the
// four-decimal values published by Newcombe (1998), Table I (single
// proportion, method 3, the score interval) and Table II (difference,
// method 10).

const (
	z95 = 1.9599639845400542355 // Φ⁻¹(0.975): two-sided 95%
	z99 = 2.3263478740408411009 // Φ⁻¹(0.99): one-sided 99%
)

func near(got, want float64) bool { return math.Abs(got-want) < 1e-12 }

func TestZOneSided(t *testing.T) {
	tests := []struct {
		name       string
		confidence float64
		want       float64
	}{
		{"97.5%", 0.975, z95},
		{"99%", 0.99, z99},
		{"99.5%", 0.995, 2.575829303548900761},
		{"99.9%", 0.999, 3.0902323061678135415},
		{"50%", 0.5, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := zOneSided(tt.confidence); !near(got, tt.want) {
				t.Errorf("zOneSided(%v) = %.16f, want %.16f", tt.confidence, got, tt.want)
			}
		})
	}
}

func TestWilson(t *testing.T) {
	tests := []struct {
		name string
		x, n uint64
		z    float64
		want interval
	}{
		{"81/263 at 95% (Newcombe: 0.2553, 0.3662)", 81, 263, z95, interval{0.255288519878274, 0.3662095769828}},
		{"15/148 at 95% (Newcombe: 0.0624, 0.1605)", 15, 148, z95, interval{0.0623863995307363, 0.160487241723308}},
		{"0/20 at 95% (Newcombe: 0, 0.1611)", 0, 20, z95, interval{0, 0.161125158052819}},
		{"1/29 at 95% (Newcombe: 0.0061, 0.1718)", 1, 29, z95, interval{0.00611321429276266, 0.171755218793203}},
		{"1/20 at 99% one-sided", 1, 20, z99, interval{0.00690960048759655, 0.284760682149683}},
		{"30/200 at 99% one-sided", 30, 200, z99, interval{0.100533838837226, 0.21790874508534}},
		{"6/600 at 99% one-sided", 6, 600, z99, interval{0.00400310443673934, 0.0247573057752494}},
		{"0/20 at 99% one-sided", 0, 20, z99, interval{0, 0.212966980708089}},
		{"no trials", 0, 0, z99, interval{0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := wilson(tt.x, tt.n, tt.z)
			if !near(got.lower, tt.want.lower) || !near(got.upper, tt.want.upper) {
				t.Errorf("wilson(%d, %d) = [%.15f, %.15f], want [%.15f, %.15f]",
					tt.x, tt.n, got.lower, got.upper, tt.want.lower, tt.want.upper)
			}
		})
	}
}

func TestNewcombe(t *testing.T) {
	tests := []struct {
		name           string
		x1, n1, x2, n2 uint64
		z              float64
		want           interval
	}{
		{"56/70-48/80 at 95% (Newcombe: 0.0524, 0.3339)", 56, 70, 48, 80, z95, interval{0.0524314724023649, 0.333872654036906}},
		{"9/10-3/10 at 95% (Newcombe: 0.1705, 0.8090)", 9, 10, 3, 10, z95, interval{0.170522723934503, 0.809017973535488}},
		{"6/7-2/7 at 95% (Newcombe: 0.0582, 0.8062)", 6, 7, 2, 7, z95, interval{0.0582279274823122, 0.806249637524228}},
		{"5/56-0/29 at 95% (Newcombe: -0.0381, 0.1926)", 5, 56, 0, 29, z95, interval{-0.0381371479035369, 0.192560013855112}},
		{"0/10-0/20 at 95% (Newcombe: -0.1611, 0.2775)", 0, 10, 0, 20, z95, interval{-0.161125158052819, 0.277532799862889}},
		{"0/10-0/10 at 95% (Newcombe: -0.2775, 0.2775)", 0, 10, 0, 10, z95, interval{-0.277532799862889, 0.277532799862889}},
		{"60/600-6/600 at 99% one-sided", 60, 600, 6, 600, z99, interval{0.0609581571449173, 0.122718634031512}},
		{"10/10-0/20 at 99% one-sided", 10, 10, 0, 20, z99, interval{0.589315682885749, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := newcombe(tt.x1, tt.n1, tt.x2, tt.n2, tt.z)
			if !near(got.lower, tt.want.lower) || !near(got.upper, tt.want.upper) {
				t.Errorf("newcombe(%d/%d - %d/%d) = [%.15f, %.15f], want [%.15f, %.15f]",
					tt.x1, tt.n1, tt.x2, tt.n2, got.lower, got.upper, tt.want.lower, tt.want.upper)
			}
		})
	}
}

func TestRecentThreshold(t *testing.T) {
	tests := []struct {
		name  string
		k     int
		rules Rules
		want  float64
	}{
		// ln(5·30/0.01): five windows over the 30 evaluations of a 30s
		// window at 99%.
		{"defaults", 5, DefaultRules(), 9.615805480084347118049978934201805966976},
		{"an interval as long as the window counts once", 0, Rules{Window: time.Second, Interval: 5 * time.Second}.withDefaults(), math.Log(100)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := recentThreshold(tt.k, tt.rules); !near(got, tt.want) {
				t.Errorf("recentThreshold(%d) = %.16f, want %.16f", tt.k, got, tt.want)
			}
		})
	}
}

// The expected values are the roots of n·KL(x/n ‖ q) = ln(500) computed
// with 40-digit arithmetic (mpmath); 20/20 is also exp(-ln(500)/20).
func TestKLLower(t *testing.T) {
	h := math.Log(500)
	tests := []struct {
		name string
		x, n uint64
		want float64
	}{
		{"6/40", 6, 40, 0.024380819641207630904},
		{"8/80", 8, 80, 0.021706438794335030015},
		{"5/20", 5, 20, 0.033731558821182388675},
		{"20/20", 20, 20, 0.73291143855426879393},
		{"1/1000", 1, 1000, 7.3666891568859698896e-7},
		{"30/200", 30, 200, 0.075960057976662145715},
		{"no errors", 0, 40, 0},
		{"no trials", 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := klLower(tt.x, tt.n, h); math.Abs(got-tt.want) > 1e-12*max(1, tt.want) {
				t.Errorf("klLower(%d, %d) = %.18g, want %.18g", tt.x, tt.n, got, tt.want)
			}
		})
	}
}

// TestKLLowerIsTheRoot checks over every count up to 300 trials that the
// bound is at most the observed rate and that n·KL at the bound is h (it
// is where the likelihood-ratio interval ends).
func TestKLLowerIsTheRoot(t *testing.T) {
	h := math.Log(500)
	for n := uint64(1); n <= 300; n++ {
		for x := uint64(1); x <= n; x++ {
			p, b := float64(x)/float64(n), klLower(x, n, h)
			if b > p || b <= 0 {
				t.Fatalf("klLower(%d, %d) = %g, want in (0, %g]", x, n, b, p)
			}
			if got := float64(n) * bernoulliKL(p, b); math.Abs(got-h) > 1e-6 {
				t.Fatalf("klLower(%d, %d) = %g: n·KL there is %g, want h = %g", x, n, b, got, h)
			}
		}
	}
}

// FuzzKLLower checks the recent-window bound's invariants on any counts
// and threshold: within [0, x/n]; the smallest q with n·KL(x/n ‖ q) ≤ h,
// to a relative 1e-9, when there are errors; lower for a stricter h; and never above a limit that
// the observed rate does not exceed (a recent window at or under its
// limit never fails).
func FuzzKLLower(f *testing.F) {
	f.Add(uint64(6), uint64(40), 6.2)
	f.Add(uint64(0), uint64(0), 1.0)
	f.Add(uint64(1), uint64(1), 0.01)
	f.Add(uint64(999999), uint64(1000000), 40.0)
	f.Add(uint64(1), uint64(1<<40), 3.0)
	f.Fuzz(func(t *testing.T, x, n uint64, h float64) {
		// h is ln(K/(1-confidence)): under 100 for any confidence a
		// float64 holds below 1.
		if n == 0 || n > 1<<50 || !(h > 1e-9 && h < 100) {
			return
		}
		x %= n + 1
		p := float64(x) / float64(n)
		b := klLower(x, n, h)
		if !(b >= 0 && b <= p) {
			t.Fatalf("klLower(%d, %d, %g) = %g, want in [0, %g]", x, n, h, b, p)
		}
		if x == 0 {
			if b != 0 {
				t.Fatalf("klLower(0, %d, %g) = %g, want 0", n, h, b)
			}
			return
		}
		// b is the root to a relative 1e-9 (what float64 arithmetic on
		// KL near q = p allows): n·KL ≤ h at b, and ≥ h a hair below.
		nf := float64(n)
		if got := nf * bernoulliKL(p, b); got > h*(1+1e-9) {
			t.Fatalf("klLower(%d, %d, %g) = %g: n·KL there is %g, above h", x, n, h, b, got)
		}
		if below := b * (1 - 1e-9); below > 1e-290 && nf*bernoulliKL(p, below) < h*(1-1e-9) {
			t.Fatalf("klLower(%d, %d, %g) = %g: %g below it is well inside the interval too", x, n, h, b, below)
		}
		if stricter := klLower(x, n, 2*h); stricter > b {
			t.Fatalf("klLower(%d, %d) at h=%g is %g, above %g at h=%g", x, n, 2*h, stricter, b, h)
		}
		if b > p {
			t.Fatalf("bound %g above the observed rate %g: a window at its limit would fail", b, p)
		}
	})
}
