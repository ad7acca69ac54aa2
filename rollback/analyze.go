package rollback

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"github.com/migratekit/migrate/manifest"
)

// Rule names, as in Check.Rule and the manifest's `rollback:` keys.
const (
	RuleMaxErrorRate         = "max_error_rate"
	RuleMaxErrorRateIncrease = "max_error_rate_increase"
	RuleMaxP99Increase       = "max_p99_increase"
	RuleMaxDiffRate          = "max_diff_rate"
	RuleFastBreaker          = "fast_breaker"
	// RuleMinRequests is the only check of rules that set no limit: pass
	// once the new side has min_requests, else insufficient. Its Value and
	// Threshold are request counts.
	RuleMinRequests = "min_requests"
	// RuleOnNoData is the check of a verdict whose source failed.
	RuleOnNoData = "on_no_data"
)

// What a failing source does (Rules.OnNoData).
const (
	OnNoDataHold     = "hold"     // the verdict is insufficient
	OnNoDataRollback = "rollback" // the verdict fails
)

// Rules are an app's rollback rules, from the manifest's `rollback:`
// section (see RulesFrom). A nil limit turns its rule off.
type Rules struct {
	// MaxErrorRate is the highest error rate of the new side: the rule
	// fails when the lower confidence bound of new's rate is above it.
	MaxErrorRate *float64
	// MaxErrorRateIncrease is the most new's error rate may exceed old's:
	// the rule fails when the lower confidence bound of the difference is
	// above it.
	MaxErrorRateIncrease *float64
	// MaxP99Increase is how much slower new's p99 may be than old's.
	MaxP99Increase *LatencyLimit
	// MaxDiffRate is the highest share of compared shadow pairs that may
	// differ (lower confidence bound, as MaxErrorRate).
	MaxDiffRate *float64
	// Count4xx counts 4xx answers as errors too.
	Count4xx bool
	// MinRequests a side (or the shadow pairs, for MaxDiffRate) needs in
	// the window before a rule can pass or fail; below it the rule is
	// insufficient. 0 still needs one request.
	MinRequests int
	// Window is the span the numbers are taken over (default
	// [manifest.DefaultRollbackWindow]).
	Window time.Duration
	// Interval is how often the controller evaluates (default
	// [manifest.DefaultRollbackInterval]).
	Interval time.Duration
	// Confidence of the one-sided bounds, in (0.5, 1) (default
	// [manifest.DefaultConfidence]).
	Confidence float64
	// Breaches is how many failing evaluations in a row act (default
	// [manifest.DefaultBreaches]).
	Breaches int
	// FastBreaker acts on the first evaluation on gross failure.
	FastBreaker FastBreaker
	// OnNoData is what a failing source does: OnNoDataHold (default) or
	// OnNoDataRollback.
	OnNoData string
	// DryRun records and notifies without acting.
	DryRun bool
}

// LatencyLimit is an allowance on new's p99 over old's: a ratio (0.5: new
// may be 1.5 times old) or, when Delta is set, an absolute increase.
type LatencyLimit struct {
	Ratio float64
	Delta time.Duration
}

// FastBreaker is the gross-failure breaker: with at least MinRequests on
// the new side within Window and an error rate of at least ErrorRate, it
// fails, and the controller acts at once. It is a plain rate test: its
// thresholds are far enough from any healthy rate that 20 requests are
// evidence (at a true rate of 1%, 10 errors in 20 requests happen with a
// probability of about 2e-15).
type FastBreaker struct {
	MinRequests int           // default [manifest.DefaultFastMinRequests]
	ErrorRate   float64       // default [manifest.DefaultFastErrorRate]
	Window      time.Duration // default [manifest.DefaultFastWindow]
	Disabled    bool
}

// DefaultRules are the manifest's defaults: no limit set, so only the
// fast breaker can fail.
func DefaultRules() Rules {
	return Rules{MinRequests: manifest.DefaultMinRequests}.withDefaults()
}

// withDefaults fills the settings left at zero, except MinRequests (0 is
// meaningful) and the limits (nil is off), with the manifest's defaults.
func (r Rules) withDefaults() Rules {
	r.Window = orDuration(r.Window, manifest.DefaultRollbackWindow)
	r.Interval = orDuration(r.Interval, manifest.DefaultRollbackInterval)
	if r.Confidence <= 0 || r.Confidence >= 1 {
		r.Confidence = float64(manifest.DefaultConfidence)
	}
	if r.Breaches < 1 {
		r.Breaches = manifest.DefaultBreaches
	}
	r.OnNoData = cmp.Or(r.OnNoData, manifest.DefaultOnNoData)
	fb := &r.FastBreaker
	if fb.MinRequests < 1 {
		fb.MinRequests = manifest.DefaultFastMinRequests
	}
	if fb.ErrorRate <= 0 {
		fb.ErrorRate = float64(manifest.DefaultFastErrorRate)
	}
	fb.Window = orDuration(fb.Window, manifest.DefaultFastWindow)
	return r
}

func orDuration(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Evaluate applies the rules (but not the fast breaker, which has its own
// window: see EvaluateFast) to a sample of the rules' window and to the
// samples of its recent windows (Rules.RecentWindows; none when the
// source's short windows are not exact). It is pure. The result is fail
// if any check fails, else insufficient if any check is, else pass. Each
// check carries its numbers and a sentence saying why.
//
// A rate rule (max_error_rate, max_error_rate_increase, max_diff_rate)
// judges the whole window first; when that passes, it fails if a recent
// window alone is strong evidence (see stats.go), so that a side that
// turns bad is caught in a few seconds rather than when its bad seconds
// outweigh the clean ones of the whole window. Below min_requests in the
// whole window a rule stays insufficient whatever the recent windows say.
func Evaluate(r Rules, s Sample, recent ...Sample) Verdict {
	return evaluate(r, s, nil, recent)
}

// evaluate is Evaluate plus, with fast set, the fast breaker's check on
// it. The fast breaker can only make a verdict fail: below its own
// min_requests it is insufficient, which is no reason to hold.
func evaluate(r Rules, s Sample, fast *Sample, recent []Sample) Verdict {
	r = r.withDefaults()
	e := evaluator{r: r, s: s, z: zOneSided(r.Confidence), recent: recent, h: recentThreshold(len(recent), r)}
	var checks []Check
	if r.MaxErrorRate != nil {
		checks = append(checks, e.errorRate(*r.MaxErrorRate))
	}
	if r.MaxErrorRateIncrease != nil {
		checks = append(checks, e.errorRateIncrease(*r.MaxErrorRateIncrease))
	}
	if r.MaxP99Increase != nil {
		checks = append(checks, e.p99Increase(*r.MaxP99Increase))
	}
	if r.MaxDiffRate != nil {
		checks = append(checks, e.diffRate(*r.MaxDiffRate))
	}
	if len(checks) == 0 {
		checks = append(checks, e.minRequests())
	}
	result := combine(checks)
	if fast != nil {
		fc := EvaluateFast(r, *fast)
		checks = append(checks, fc)
		if fc.Result == Fail {
			result = Fail
		}
	}
	return Verdict{At: s.At, Result: result, Checks: checks, Sample: s}
}

// combine is fail if any check fails, else insufficient if any is, else
// pass.
func combine(checks []Check) string {
	result := Pass
	for _, c := range checks {
		switch c.Result {
		case Fail:
			return Fail
		case Insufficient:
			result = Insufficient
		}
	}
	return result
}

// EvaluateFast is the fast breaker's check on a sample of its own window:
// fail when the new side has at least FastBreaker.MinRequests and an error
// rate of at least FastBreaker.ErrorRate, insufficient below the requests.
func EvaluateFast(r Rules, s Sample) Check {
	r = r.withDefaults()
	fb := r.FastBreaker
	e := evaluator{r: r, s: s}
	n, x := s.New.Requests, e.errors(s.New)
	c := Check{Rule: RuleFastBreaker, Threshold: fb.ErrorRate, Value: ratio(x, n), Bound: ratio(x, n)}
	if n == 0 || n < uint64(fb.MinRequests) {
		c.Result = Insufficient
		c.Reason = fmt.Sprintf("new side: %d requests in %s, below the fast breaker's %d", n, s.Window, fb.MinRequests)
		return c
	}
	c.Result = Pass
	sign := "<"
	if c.Value >= fb.ErrorRate {
		c.Result, sign = Fail, "≥"
	}
	c.Reason = fmt.Sprintf("new %s %s (%d/%d) in %s %s %s", e.errorsName(), pct(c.Value), x, n, s.Window, sign, limit(fb.ErrorRate))
	return c
}

// Reason is a sentence for logs and events: the reasons of the checks
// that decided the result (the failing ones, else the insufficient ones,
// else all), or the source's error.
func (v Verdict) Reason() string {
	var rs []string
	for _, ch := range v.Checks {
		if ch.Result == v.Result && (ch.Rule != RuleFastBreaker || ch.Result == Fail) {
			rs = append(rs, ch.Rule+": "+ch.Reason)
		}
	}
	if len(rs) == 0 && v.Err != "" {
		return v.Err
	}
	return strings.Join(rs, "; ")
}
