package rollback

import (
	"math"
	"testing"
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
