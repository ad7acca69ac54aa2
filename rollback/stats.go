package rollback

// The statistics behind the rules. A rule never compares a bare ratio with
// its threshold: one error in the first 20 requests is 5%, and a rollback
// on that would be noise. Instead it asks whether the counts are strong
// evidence that the new side is worse than the threshold: the rule fails
// only when the lower bound of a one-sided confidence interval, at the
// rules' confidence (default 99%), is above the threshold. With few
// requests the interval is wide and the rule holds; as requests accumulate
// it narrows around the true rate.
//
// For one proportion (an error rate, a diff rate) the interval is Wilson's
// score interval, which stays inside [0, 1] and keeps its coverage for
// small counts and rates near 0, where the normal approximation
// (p ± z·√(p(1-p)/n)) fails. For the difference of two proportions (new's
// error rate minus old's) it is Newcombe's hybrid score interval (method 10
// of Newcombe 1998), built from the two Wilson intervals.
//
// One-sided: we act only on evidence that new is worse, so the lower bound
// at confidence c uses z = Φ⁻¹(c) (2.326 for 99%), not the two-sided
// Φ⁻¹((1+c)/2) (2.576 for 99%).
//
// References: E. B. Wilson, "Probable inference, the law of succession, and
// statistical inference", JASA 22 (1927); R. G. Newcombe, "Two-sided
// confidence intervals for the single proportion: comparison of seven
// methods" and "Interval estimation for the difference between independent
// proportions: comparison of eleven methods", Statistics in Medicine 17
// (1998).

import "math"

// interval is a confidence interval [lower, upper].
type interval struct {
	lower, upper float64
}

// zOneSided is the standard normal quantile Φ⁻¹(confidence): the z of a
// one-sided bound at that confidence.
func zOneSided(confidence float64) float64 {
	return math.Sqrt2 * math.Erfinv(2*confidence-1)
}

// wilson is the Wilson score interval of x successes in n trials at z.
// With no trials it is [0, 1]: nothing is known.
func wilson(x, n uint64, z float64) interval {
	if n == 0 {
		return interval{0, 1}
	}
	nf := float64(n)
	p := float64(min(x, n)) / nf
	z2 := z * z
	den := 1 + z2/nf
	center := (p + z2/(2*nf)) / den
	half := z / den * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf))
	return interval{clamp01(center - half), clamp01(center + half)}
}

// newcombe is Newcombe's hybrid score interval for p1 - p2, with p1 = x1/n1
// and p2 = x2/n2, at z.
func newcombe(x1, n1, x2, n2 uint64, z float64) interval {
	a, b := wilson(x1, n1, z), wilson(x2, n2, z)
	p1, p2 := ratio(x1, n1), ratio(x2, n2)
	d := p1 - p2
	return interval{
		lower: d - math.Hypot(p1-a.lower, b.upper-p2),
		upper: d + math.Hypot(a.upper-p1, p2-b.lower),
	}
}

// ratio is x/n, 0 when n is 0.
func ratio(x, n uint64) float64 {
	if n == 0 {
		return 0
	}
	return float64(x) / float64(n)
}

func clamp01(v float64) float64 {
	return min(max(v, 0), 1)
}
