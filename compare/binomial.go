package compare

import "math"

// exactBinomialMax is the largest sample whose quantile ranks come from the
// exact binomial distribution; above it the normal approximation (with
// continuity correction) is used, whose error there (n·q·(1-q) over 9,900
// at q = 0.99) is far below the ranks' step.
const exactBinomialMax = 1_000_000

// lowerRank returns the largest rank l (1-based) such that the l-th
// smallest of n values is at most the q-quantile with probability at least
// 1-a: P(Bin(n,q) <= l-1) <= a. ok is false when even the smallest value
// is no such bound (n too small).
func lowerRank(n uint64, q, a float64) (uint64, bool) {
	k, ok := binomialSearch(n, q, func(cdf float64) bool { return cdf > a })
	// k is the first count whose cdf exceeds a; l-1 = k-1.
	if !ok || k == 0 {
		return 0, false
	}
	return k, true
}

// upperRank returns the smallest rank u such that the u-th smallest of n
// values is at least the q-quantile with probability at least 1-a:
// P(Bin(n,q) <= u-1) >= 1-a. ok is false when even the largest value is no
// such bound.
func upperRank(n uint64, q, a float64) (uint64, bool) {
	k, ok := binomialSearch(n, q, func(cdf float64) bool { return cdf >= 1-a })
	if !ok || k+1 > n {
		return 0, false
	}
	return k + 1, true
}

// binomialSearch returns the smallest k in [0, n] with stop(P(Bin(n,q) <=
// k)), or false when there is none.
func binomialSearch(n uint64, q float64, stop func(cdf float64) bool) (uint64, bool) {
	if n == 0 {
		return 0, false
	}
	if n > exactBinomialMax {
		return normalSearch(n, q, stop)
	}
	lo, pmf := binomialPMF(int(n), q)
	cdf := 0.0
	for i, p := range pmf {
		if cdf += p; stop(cdf) {
			return uint64(lo + i), true
		}
	}
	return 0, false
}

// binomialPMF returns P(Bin(n,q) = k) for k from lo on, over the counts
// whose probability is not negligible (under 1e-18 of the mode's). It walks
// out from the mode by the ratio of consecutive terms, so it neither
// underflows nor costs more than a few standard deviations.
func binomialPMF(n int, q float64) (lo int, pmf []float64) {
	mode := min(n, int(float64(n+1)*q))
	var left, right []float64
	for k, r := mode, 1.0; k > 0 && r > 1e-18; k-- {
		r *= float64(k) / float64(n-k+1) * (1 - q) / q
		left = append(left, r)
	}
	for k, r := mode, 1.0; k < n && r > 1e-18; k++ {
		r *= float64(n-k) / float64(k+1) * q / (1 - q)
		right = append(right, r)
	}
	pmf = make([]float64, 0, len(left)+1+len(right))
	for i := len(left) - 1; i >= 0; i-- {
		pmf = append(pmf, left[i])
	}
	pmf = append(pmf, 1)
	pmf = append(pmf, right...)
	total := 0.0
	for _, p := range pmf {
		total += p
	}
	for i := range pmf {
		pmf[i] /= total
	}
	return mode - len(left), pmf
}

// normalSearch is binomialSearch by the normal approximation, by bisection
// over k.
func normalSearch(n uint64, q float64, stop func(cdf float64) bool) (uint64, bool) {
	mean, sd := float64(n)*q, math.Sqrt(float64(n)*q*(1-q))
	cdf := func(k uint64) float64 { return 0.5 * math.Erfc(-(float64(k)+0.5-mean)/(sd*math.Sqrt2)) }
	if !stop(cdf(n)) {
		return 0, false
	}
	lo, hi := uint64(0), n
	for lo < hi {
		mid := lo + (hi-lo)/2
		if stop(cdf(mid)) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo, true
}
