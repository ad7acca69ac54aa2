package rollback

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jonboulle/clockwork"
)

// recentOf builds the samples of the default recent windows (1, 2, 4, 8,
// 16s) from the new side's counts, old's and the pairs' being given per
// window too when set.
func recentOf(newSide, oldSide [5]SideSample, pairs, diffs [5]uint64) []Sample {
	ss := make([]Sample, 5)
	for i := range ss {
		ss[i] = Sample{Window: time.Second << i, New: newSide[i], Old: oldSide[i], Pairs: pairs[i], Diffs: diffs[i]}
	}
	return ss
}

// The windows' counts: calm passes (every bound below 2%), bad2s fails
// 2% in its 2s window alone (10/40: bound 4.65%), worse more so (12/40:
// 6.92%).
var (
	calm  = [5]SideSample{side(20, 2), side(40, 3), side(80, 6), side(160, 8), side(320, 9)}
	bad2s = [5]SideSample{side(20, 2), side(40, 10), side(80, 6), side(160, 8), side(320, 9)}
	worse = [5]SideSample{side(20, 2), side(40, 12), side(80, 6), side(160, 8), side(320, 9)}
	clean = [5]SideSample{side(20, 0), side(40, 0), side(80, 0), side(160, 0), side(320, 0)}
)

// The bounds below are the roots of n·KL(x/n ‖ q) = ln(5·30/0.01), the
// threshold of the default rules (TestRecentThreshold), computed with
// 40-digit arithmetic (mpmath), and the 99% Wilson upper bound of 6/600
// from TestWilson.
func TestEvaluateRecent(t *testing.T) {
	win := 30 * time.Second
	whole := Sample{Window: win, New: side(600, 12), Old: side(600, 6), Pairs: 600, Diffs: 6}
	rate := Rules{MaxErrorRate: new(0.02), MinRequests: 50}
	increase := Rules{MaxErrorRateIncrease: new(0.01), MinRequests: 50}
	diff := Rules{MaxDiffRate: new(0.02), MinRequests: 50}
	tests := []struct {
		name   string
		rules  Rules
		s      Sample
		recent []Sample
		want   Check
	}{
		{
			name: "a recent window alone fails max_error_rate", rules: rate, s: whole,
			recent: recentOf(bad2s, clean, [5]uint64{}, [5]uint64{}),
			want: Check{Rule: RuleMaxErrorRate, Result: Fail, Value: 0.25, Threshold: 0.02, Bound: 0.046512497259188126642,
				Reason: "new 5xx 25.0% (10/40) in the last 2s, lower bound 4.7% (99% per 30s over 5 recent windows) > max 2%"},
		},
		{
			name: "a recent window alone fails max_error_rate_increase", rules: increase, s: whole,
			recent: recentOf(worse, clean, [5]uint64{}, [5]uint64{}),
			want: Check{Rule: RuleMaxErrorRateIncrease, Result: Fail, Value: 0.3, Threshold: 0.01,
				Bound:  0.069245921285490787302 - 0.0247573057752494,
				Reason: "new 5xx 30.0% (12/40) in the last 2s, lower bound 6.9% (99% per 30s over 5 recent windows), vs old at most 2.5%: +4.4% > max +1%"},
		},
		{
			name: "a recent window alone fails max_diff_rate", rules: diff, s: whole,
			recent: recentOf(clean, clean, [5]uint64{20, 40, 80, 160, 320}, [5]uint64{2, 10, 6, 8, 9}),
			want: Check{Rule: RuleMaxDiffRate, Result: Fail, Value: 0.25, Threshold: 0.02, Bound: 0.046512497259188126642,
				Reason: "diffs 25.0% (10/40 pairs) in the last 2s, lower bound 4.7% (99% per 30s over 5 recent windows) > max 2%"},
		},
		{
			name: "a failing whole window keeps its own reason", rules: rate,
			s:      Sample{Window: win, New: side(200, 30)},
			recent: recentOf(bad2s, clean, [5]uint64{}, [5]uint64{}),
			want: Check{Rule: RuleMaxErrorRate, Result: Fail, Value: 0.15, Threshold: 0.02, Bound: 0.100533838837226,
				Reason: "new 5xx 15.0% (30/200), 99% lower bound 10.1% > max 2%"},
		},
		{
			name: "below min_requests in the whole window is insufficient whatever the recent ones say", rules: rate,
			s:      Sample{Window: win, New: side(40, 20)},
			recent: []Sample{{Window: time.Second, New: side(20, 20)}},
			want: Check{Rule: RuleMaxErrorRate, Result: Insufficient, Value: 0.5, Threshold: 0.02,
				Reason: "new side requests: 40 in 30s, below min_requests 50"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Evaluate(tt.rules, tt.s, tt.recent...)
			if diff := cmp.Diff([]Check{tt.want}, got.Checks, approx); diff != "" {
				t.Errorf("Evaluate() checks (-want +got):\n%s", diff)
			}
			if got.Result != tt.want.Result {
				t.Errorf("Evaluate().Result = %s, want %s", got.Result, tt.want.Result)
			}
		})
	}
}

// TestEvaluateRecentWithoutEvidence: recent windows whose bounds stay
// under the limit change nothing: the verdict is the whole window's.
func TestEvaluateRecentWithoutEvidence(t *testing.T) {
	whole := Sample{Window: 30 * time.Second, New: side(600, 12), Old: side(600, 6), Pairs: 600, Diffs: 6}
	rules := Rules{MaxErrorRate: new(0.02), MaxErrorRateIncrease: new(0.01), MaxDiffRate: new(0.02), MinRequests: 50}
	increaseOnly := rules
	increaseOnly.MaxErrorRate = nil
	tests := []struct {
		name   string
		rules  Rules
		recent []Sample
	}{
		{"quiet windows", rules, recentOf(calm, clean, [5]uint64{20, 40, 80, 160, 320}, [5]uint64{2, 3, 6, 8, 9})},
		// Only max_error_rate_increase: new's 10/40 is old's 10/40 too,
		// which max_error_rate would rightly fail.
		{"both sides failing at once", increaseOnly, recentOf(worse, worse, [5]uint64{}, [5]uint64{})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.rules
			want := Evaluate(r, whole)
			got := Evaluate(r, whole, tt.recent...)
			if diff := cmp.Diff(want, got, approx); diff != "" {
				t.Errorf("Evaluate() with recent windows differs from the whole window alone (-want +got):\n%s", diff)
			}
			if got.Result != Pass {
				t.Errorf("Evaluate().Result = %s, want pass: %s", got.Result, got.Reason())
			}
		})
	}
}

// TestEvaluateRecentNeverFailsAtOrBelowTheLimit: a recent window whose
// observed rate is at or below the limit never fails, over every count up
// to 500 requests.
func TestEvaluateRecentNeverFailsAtOrBelowTheLimit(t *testing.T) {
	const maxRate = 0.02
	r := Rules{MaxErrorRate: new(maxRate), MaxDiffRate: new(maxRate), MinRequests: 1}
	whole := Sample{New: side(1000, 0), Pairs: 1000}
	for n := uint64(1); n <= 500; n++ {
		for x := uint64(0); float64(x) <= maxRate*float64(n); x++ {
			v := Evaluate(r, whole, Sample{New: side(n, x), Pairs: n, Diffs: x})
			if v.Result != Pass {
				t.Fatalf("Evaluate(recent %d/%d at max %v) = %s, want pass: %v", x, n, maxRate, v.Result, v.Checks)
			}
		}
	}
}

func TestRecentWindows(t *testing.T) {
	tests := []struct {
		name  string
		rules Rules
		want  []time.Duration
	}{
		{"defaults", Rules{}, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second}},
		{"interval 5s, window 1m", Rules{Interval: 5 * time.Second, Window: time.Minute},
			[]time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second}},
		{"interval as long as the window", Rules{Interval: time.Minute, Window: time.Minute}, nil},
		{"a tiny interval is bounded", Rules{Interval: time.Millisecond, Window: time.Hour}, []time.Duration{
			1 << 0 * time.Millisecond, 1 << 1 * time.Millisecond, 1 << 2 * time.Millisecond, 1 << 3 * time.Millisecond,
			1 << 4 * time.Millisecond, 1 << 5 * time.Millisecond, 1 << 6 * time.Millisecond, 1 << 7 * time.Millisecond,
			1 << 8 * time.Millisecond, 1 << 9 * time.Millisecond, 1 << 10 * time.Millisecond, 1 << 11 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.rules.RecentWindows()); diff != "" {
				t.Errorf("RecentWindows() (-want +got):\n%s", diff)
			}
		})
	}
}

// windowLog is a Source that records the windows it is asked for;
// exactWindowLog is one whose windows are exact.
type windowLog struct {
	windows []time.Duration
}

func (w *windowLog) Sample(_ context.Context, _ string, window time.Duration) (Sample, error) {
	w.windows = append(w.windows, window)
	return Sample{Window: window}, nil
}

type exactWindowLog struct{ windowLog }

func (*exactWindowLog) ExactWindows() bool { return true }

// TestControllerSamplesRecentWindowsOfExactSources: the controller asks an
// exact source for the recent windows after the fast breaker's and the
// whole window, and any other source (Prometheus) for those two only.
func TestControllerSamplesRecentWindowsOfExactSources(t *testing.T) {
	s := time.Second
	exact, plain := &exactWindowLog{}, &windowLog{}
	for _, tt := range []struct {
		name string
		src  Source
		log  *windowLog
		want []time.Duration
	}{
		{"exact", exact, &exact.windowLog, []time.Duration{5 * s, 30 * s, s, 2 * s, 4 * s, 8 * s, 16 * s}},
		{"not exact", plain, plain, []time.Duration{5 * s, 30 * s}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clock := clockwork.NewFakeClock()
			c := NewController("shop", designRules(), tt.src, nil, ControllerOptions{Clock: clock})
			c.Step(t.Context())
			if diff := cmp.Diff(tt.want, slices.Clip(tt.log.windows)); diff != "" {
				t.Errorf("windows sampled (-want +got):\n%s", diff)
			}
		})
	}
}
