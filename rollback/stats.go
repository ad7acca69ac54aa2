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

// The recent-window test. A window of 30 s answers slowly when a healthy
// new side turns bad: its first bad seconds are diluted by the clean ones
// before them. So the rules also look at a few recent windows (the
// interval, twice it, four times it, ... below the window) and fail when
// one of them alone is strong evidence. Looking at K windows is K tests,
// so each is made stricter, and with a bound that holds for any number of
// requests, not an approximation for large ones: Chernoff's bound on the
// binomial tail, P(X ≥ x) ≤ exp(-n·KL(x/n ‖ q)) for X ~ Bin(n, q) and
// x/n ≥ q, where KL is the Kullback-Leibler divergence of two Bernoulli
// distributions. A window fails when n·KL(x/n ‖ limit) > h with
// h = ln(K·E / (1 - confidence)), E being the evaluations in one whole
// window (window / interval, 30 by default): at a true rate at or below
// the limit, each window does so with a probability of at most e^-h, and
// any of the K over the E evaluations of a whole window with at most
// K·E·e^-h = 1 - confidence (the union bound). E is there because the
// recent windows overlap from one evaluation to the next: one burst of
// errors stays in the 2, 4, 8 and 16 s windows for several evaluations,
// so two breaches in a row are no second piece of evidence, and without
// it a healthy side at half the limit was rolled back about once in
// 20,000 windows (3 false rollbacks in 60,000 windows of 20 rps at 1%
// against a 2% limit; 0 in the same run with E).
//
// The bound reported is the smallest rate q with n·KL(x/n ‖ q) ≤ h: the
// lower end of the likelihood-ratio interval, as Wilson's lower bound is
// for the whole window. It fails exactly when it is above the limit.
//
// Reference: H. Chernoff, "A measure of asymptotic efficiency for tests of
// a hypothesis based on the sum of observations", Ann. Math. Statist. 23
// (1952); W. Hoeffding, "Probability inequalities for sums of bounded
// random variables", JASA 58 (1963), eq. (2.1).

// bernoulliKL is KL(p ‖ q) between Bernoulli(p) and Bernoulli(q), in nats,
// with 0·ln 0 = 0. It is +Inf when q is 0 or 1 and p is not. For small p
// and q the second term is (1-p)·(ln(1-p) - ln(1-q)) with log1p: the ratio
// (1-p)/(1-q) rounds to 1 ± 1e-16, an error that n·KL multiplies by n
// (a relative 1e-4 at n = 1e12 and p = 1e-10, found by FuzzKLLower).
func bernoulliKL(p, q float64) float64 {
	if p < 0.5 && q < 0.5 {
		return xlogxy(p, q) + (1-p)*(math.Log1p(-p)-math.Log1p(-q))
	}
	return xlogxy(p, q) + xlogxy(1-p, 1-q)
}

// xlogxy is x·ln(x/y), 0 when x is 0.
func xlogxy(x, y float64) float64 {
	if x <= 0 {
		return 0
	}
	if y <= 0 {
		return math.Inf(1)
	}
	return x * math.Log(x/y)
}

// recentThreshold is h for k recent windows of rules r (defaults
// applied): ln(k·E/(1-c)) with E = window/interval evaluations, at least 1.
func recentThreshold(k int, r Rules) float64 {
	evals := max(1, float64(r.Window)/float64(r.Interval))
	return math.Log(float64(max(k, 1)) * evals / (1 - r.Confidence))
}

// klLower is the smallest q ≤ x/n with n·KL(x/n ‖ q) ≤ h: 0 when there
// are no errors or no trials. KL(p ‖ q) falls from +Inf at q = 0 to 0 at
// q = p, so a bisection finds it, halving until the bracket is within a
// relative 1e-13 of the bound: about 45 halvings for a bound near p, 95
// for one near 1e-16 of it, and at most the 1,074 of float64's smallest
// number plus those 45.
func klLower(x, n uint64, h float64) float64 {
	if n == 0 || x == 0 {
		return 0
	}
	p := float64(min(x, n)) / float64(n)
	nf := float64(n)
	lo, hi := 0.0, p
	for i := 0; i < 1200 && hi-lo > hi*1e-13; i++ {
		mid := (lo + hi) / 2
		if nf*bernoulliKL(p, mid) > h {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}
