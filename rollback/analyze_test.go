package rollback

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// approx compares the numbers of checks to 12 significant digits (the
// expected bounds come from the high-precision values of stats_test.go).
var approx = cmpopts.EquateApprox(1e-12, 1e-15)

// side is a side's sample with p99 unknown.
func side(requests, errors uint64) SideSample {
	return SideSample{Requests: requests, Errors: errors}
}

func TestEvaluate(t *testing.T) {
	ms := time.Millisecond
	win := 30 * time.Second
	tests := []struct {
		name  string
		rules Rules
		s     Sample
		want  []Check
		res   string
	}{
		{
			name:  "1 error in 20 does not fail at 2%",
			rules: Rules{MaxErrorRate: new(0.02), MinRequests: 20},
			s:     Sample{New: side(20, 1)},
			res:   Pass,
			want: []Check{{Rule: RuleMaxErrorRate, Result: Pass, Value: 0.05, Threshold: 0.02, Bound: 0.00690960048759655,
				Reason: "new 5xx 5.0% (1/20), 99% lower bound 0.69% ≤ max 2%"}},
		},
		{
			name:  "30 errors in 200 fail at 2%",
			rules: Rules{MaxErrorRate: new(0.02), MinRequests: 50},
			s:     Sample{New: side(200, 30)},
			res:   Fail,
			want: []Check{{Rule: RuleMaxErrorRate, Result: Fail, Value: 0.15, Threshold: 0.02, Bound: 0.100533838837226,
				Reason: "new 5xx 15.0% (30/200), 99% lower bound 10.1% > max 2%"}},
		},
		{
			name:  "below min_requests is insufficient however bad",
			rules: Rules{MaxErrorRate: new(0.02), MinRequests: 50},
			s:     Sample{Window: win, New: side(49, 49)},
			res:   Insufficient,
			want: []Check{{Rule: RuleMaxErrorRate, Result: Insufficient, Value: 1, Threshold: 0.02,
				Reason: "new side requests: 49 in 30s, below min_requests 50"}},
		},
		{
			name:  "no requests are insufficient even with min_requests 0",
			rules: Rules{MaxErrorRate: new(0.02)},
			s:     Sample{Window: win},
			res:   Insufficient,
			want: []Check{{Rule: RuleMaxErrorRate, Result: Insufficient, Threshold: 0.02,
				Reason: "new side requests: none in 30s"}},
		},
		{
			name:  "4xx count with count_4xx",
			rules: Rules{MaxErrorRate: new(0.02), Count4xx: true},
			s:     Sample{New: SideSample{Requests: 200, Errors: 10, Errors4xx: 20}},
			res:   Fail,
			want: []Check{{Rule: RuleMaxErrorRate, Result: Fail, Value: 0.15, Threshold: 0.02, Bound: 0.100533838837226,
				Reason: "new errors (5xx+4xx) 15.0% (30/200), 99% lower bound 10.1% > max 2%"}},
		},
		{
			name:  "4xx do not count without count_4xx",
			rules: Rules{MaxErrorRate: new(0.02)},
			s:     Sample{New: SideSample{Requests: 600, Errors: 6, Errors4xx: 300}},
			res:   Pass,
			want: []Check{{Rule: RuleMaxErrorRate, Result: Pass, Value: 0.01, Threshold: 0.02, Bound: 0.00400310443673934,
				Reason: "new 5xx 1.0% (6/600), 99% lower bound 0.40% ≤ max 2%"}},
		},
		{
			name:  "an increase over old beyond the limit fails",
			rules: Rules{MaxErrorRateIncrease: new(0.01), MinRequests: 50},
			s:     Sample{New: side(600, 60), Old: side(600, 6)},
			res:   Fail,
			want: []Check{{Rule: RuleMaxErrorRateIncrease, Result: Fail, Value: 0.09, Threshold: 0.01, Bound: 0.0609581571449173,
				Reason: "new 5xx 10.0% (60/600) vs old 1.0% (6/600): +9.0%, 99% lower bound +6.1% > max +1%"}},
		},
		{
			name:  "a small increase over old passes",
			rules: Rules{MaxErrorRateIncrease: new(0.01), MinRequests: 50},
			s:     Sample{New: side(600, 10), Old: side(600, 6)},
			res:   Pass,
			want: []Check{{Rule: RuleMaxErrorRateIncrease, Result: Pass, Value: 4.0 / 600, Threshold: 0.01, Bound: -0.0103791786311379,
				Reason: "new 5xx 1.7% (10/600) vs old 1.0% (6/600): +0.67%, 99% lower bound -1.0% ≤ max +1%"}},
		},
		{
			name:  "an increase needs min_requests on old too",
			rules: Rules{MaxErrorRateIncrease: new(0.01), MinRequests: 50},
			s:     Sample{Window: win, New: side(600, 300), Old: side(10, 0)},
			res:   Insufficient,
			want: []Check{{Rule: RuleMaxErrorRateIncrease, Result: Insufficient, Value: 0.5, Threshold: 0.01,
				Reason: "old side requests: 10 in 30s, below min_requests 50"}},
		},
		{
			name:  "p99 over a ratio fails",
			rules: Rules{MaxP99Increase: &LatencyLimit{Ratio: 0.5}, MinRequests: 50},
			s: Sample{New: SideSample{Requests: 100, P99: 340 * ms},
				Old: SideSample{Requests: 100, P99: 200 * ms}},
			res: Fail,
			want: []Check{{Rule: RuleMaxP99Increase, Result: Fail, Value: 0.34, Threshold: 0.3, Bound: 0.34,
				Reason: "new p99 340ms vs old 200ms > limit 300ms (old +50%)"}},
		},
		{
			name:  "p99 within an absolute allowance passes",
			rules: Rules{MaxP99Increase: &LatencyLimit{Delta: 200 * ms}, MinRequests: 50},
			s: Sample{New: SideSample{Requests: 100, P99: 340 * ms},
				Old: SideSample{Requests: 100, P99: 200 * ms}},
			res: Pass,
			want: []Check{{Rule: RuleMaxP99Increase, Result: Pass, Value: 0.34, Threshold: 0.4, Bound: 0.34,
				Reason: "new p99 340ms vs old 200ms ≤ limit 400ms (old + 200ms)"}},
		},
		{
			name:  "an unknown p99 is insufficient",
			rules: Rules{MaxP99Increase: &LatencyLimit{Ratio: 0.5}, MinRequests: 50},
			s: Sample{New: SideSample{Requests: 100, P99: 340 * ms},
				Old: SideSample{Requests: 100}},
			res: Insufficient,
			want: []Check{{Rule: RuleMaxP99Increase, Result: Insufficient, Value: 0.34, Bound: 0.34,
				Reason: "old side: p99 unknown"}},
		},
		{
			name:  "a diff rate over the limit fails",
			rules: Rules{MaxDiffRate: new(0.02), MinRequests: 50},
			s:     Sample{Pairs: 500, Diffs: 40},
			res:   Fail,
			want: []Check{{Rule: RuleMaxDiffRate, Result: Fail, Value: 0.08, Threshold: 0.02, Bound: 0.0560662308388607,
				Reason: "diffs 8.0% (40/500 pairs), 99% lower bound 5.6% > max 2%"}},
		},
		{
			name:  "a diff rate needs min_requests pairs, not requests",
			rules: Rules{MaxDiffRate: new(0.02), MinRequests: 50},
			s:     Sample{Window: win, New: side(1000, 0), Pairs: 30, Diffs: 30},
			res:   Insufficient,
			want: []Check{{Rule: RuleMaxDiffRate, Result: Insufficient, Value: 1, Threshold: 0.02,
				Reason: "compared shadow pairs: 30 in 30s, below min_requests 50"}},
		},
		{
			name:  "no limit: pass with min_requests",
			rules: Rules{MinRequests: 50},
			s:     Sample{Window: win, New: side(50, 50)},
			res:   Pass,
			want: []Check{{Rule: RuleMinRequests, Result: Pass, Value: 50, Threshold: 50,
				Reason: "new side: 50 requests in 30s, no limit set"}},
		},
		{
			name:  "one failing check fails the verdict",
			rules: Rules{MaxErrorRate: new(0.02), MaxErrorRateIncrease: new(0.01), MinRequests: 50},
			s:     Sample{Window: win, New: side(200, 30), Old: side(10, 0)},
			res:   Fail,
			want: []Check{
				{Rule: RuleMaxErrorRate, Result: Fail, Value: 0.15, Threshold: 0.02, Bound: 0.100533838837226,
					Reason: "new 5xx 15.0% (30/200), 99% lower bound 10.1% > max 2%"},
				{Rule: RuleMaxErrorRateIncrease, Result: Insufficient, Value: 0.15, Threshold: 0.01,
					Reason: "old side requests: 10 in 30s, below min_requests 50"},
			},
		},
		{
			name:  "one insufficient check holds a passing verdict",
			rules: Rules{MaxErrorRate: new(0.02), MaxErrorRateIncrease: new(0.01), MinRequests: 50},
			s:     Sample{Window: win, New: side(600, 6), Old: side(10, 0)},
			res:   Insufficient,
			want: []Check{
				{Rule: RuleMaxErrorRate, Result: Pass, Value: 0.01, Threshold: 0.02, Bound: 0.00400310443673934,
					Reason: "new 5xx 1.0% (6/600), 99% lower bound 0.40% ≤ max 2%"},
				{Rule: RuleMaxErrorRateIncrease, Result: Insufficient, Value: 0.01, Threshold: 0.01,
					Reason: "old side requests: 10 in 30s, below min_requests 50"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Evaluate(tt.rules, tt.s)
			if got.Result != tt.res {
				t.Errorf("Evaluate().Result = %s, want %s", got.Result, tt.res)
			}
			if diff := cmp.Diff(got.Checks, tt.want, approx); diff != "" {
				t.Errorf("Evaluate().Checks mismatch (-got +want):\n%s", diff)
			}
			if diff := cmp.Diff(got.Sample, tt.s); diff != "" {
				t.Errorf("Evaluate().Sample mismatch (-got +want):\n%s", diff)
			}
		})
	}
}

// TestEvaluateNeverFailsAtOrBelowTheLimit checks over every count up to
// 1,000 requests that a rate at or below the limit never fails: the
// interval always holds the observed rate, so its lower bound is never
// above it.
func TestEvaluateNeverFailsAtOrBelowTheLimit(t *testing.T) {
	const maxRate = 0.02
	r := Rules{MaxErrorRate: new(maxRate), MaxDiffRate: new(maxRate), MinRequests: 1}
	for n := uint64(1); n <= 1000; n++ {
		for x := uint64(0); float64(x) <= maxRate*float64(n); x++ {
			v := Evaluate(r, Sample{New: side(n, x), Pairs: n, Diffs: x})
			if v.Result != Pass {
				t.Fatalf("Evaluate(%d/%d at max %v) = %s, want pass: %v", x, n, maxRate, v.Result, v.Checks)
			}
		}
	}
}

func TestEvaluateFast(t *testing.T) {
	win := 5 * time.Second
	tests := []struct {
		name  string
		rules Rules
		s     Sample
		want  Check
	}{
		{
			name: "gross failure fails",
			s:    Sample{Window: win, New: side(20, 17)},
			want: Check{Rule: RuleFastBreaker, Result: Fail, Value: 0.85, Threshold: 0.5, Bound: 0.85,
				Reason: "new 5xx 85.0% (17/20) in 5s ≥ 50%"},
		},
		{
			name: "exactly the error rate fails",
			s:    Sample{Window: win, New: side(20, 10)},
			want: Check{Rule: RuleFastBreaker, Result: Fail, Value: 0.5, Threshold: 0.5, Bound: 0.5,
				Reason: "new 5xx 50.0% (10/20) in 5s ≥ 50%"},
		},
		{
			name: "below the error rate passes",
			s:    Sample{Window: win, New: side(100, 49)},
			want: Check{Rule: RuleFastBreaker, Result: Pass, Value: 0.49, Threshold: 0.5, Bound: 0.49,
				Reason: "new 5xx 49.0% (49/100) in 5s < 50%"},
		},
		{
			name: "below its min requests is insufficient",
			s:    Sample{Window: win, New: side(19, 19)},
			want: Check{Rule: RuleFastBreaker, Result: Insufficient, Value: 1, Threshold: 0.5, Bound: 1,
				Reason: "new side: 19 requests in 5s, below the fast breaker's 20"},
		},
		{
			name:  "its own settings",
			rules: Rules{Count4xx: true, FastBreaker: FastBreaker{MinRequests: 10, ErrorRate: 0.8}},
			s:     Sample{Window: win, New: SideSample{Requests: 10, Errors: 4, Errors4xx: 4}},
			want: Check{Rule: RuleFastBreaker, Result: Fail, Value: 0.8, Threshold: 0.8, Bound: 0.8,
				Reason: "new errors (5xx+4xx) 80.0% (8/10) in 5s ≥ 80%"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := EvaluateFast(tt.rules, tt.s)
			if diff := cmp.Diff(got, tt.want, approx); diff != "" {
				t.Errorf("EvaluateFast() mismatch (-got +want):\n%s", diff)
			}
		})
	}
}

func TestEvaluateWithFastBreaker(t *testing.T) {
	r := Rules{MaxErrorRate: new(0.02), MinRequests: 50}
	tests := []struct {
		name       string
		main, fast Sample
		want       string
	}{
		{"a failing breaker fails a verdict short of requests", Sample{New: side(40, 40)}, Sample{New: side(40, 40)}, Fail},
		{"an idle breaker does not hold a passing verdict", Sample{New: side(600, 0)}, Sample{New: side(5, 0)}, Pass},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := evaluate(r, tt.main, &tt.fast, nil)
			if got.Result != tt.want {
				t.Errorf("evaluate().Result = %s, want %s: %v", got.Result, tt.want, got.Checks)
			}
			if n := len(got.Checks); n != 2 || got.Checks[1].Rule != RuleFastBreaker {
				t.Errorf("evaluate().Checks = %v, want the rule's then the fast breaker's", got.Checks)
			}
		})
	}
}

func TestDefaultRules(t *testing.T) {
	want := Rules{
		MinRequests: 50, Window: 30 * time.Second, Interval: time.Second, Confidence: 0.99, Breaches: 2,
		FastBreaker: FastBreaker{MinRequests: 20, ErrorRate: 0.5, Window: 5 * time.Second},
		OnNoData:    OnNoDataHold,
	}
	if diff := cmp.Diff(DefaultRules(), want); diff != "" {
		t.Errorf("DefaultRules() mismatch (-got +want):\n%s", diff)
	}
}
