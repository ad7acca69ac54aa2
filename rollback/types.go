package rollback

import (
	"context"
	"time"
)

// Verdict results.
const (
	Pass         = "pass"
	Fail         = "fail"
	Insufficient = "insufficient"
)

// SideSample is one side's numbers over a window.
type SideSample struct {
	Requests uint64 `json:"requests"`
	// Errors are 5xx answers; Errors4xx are 4xx answers, counted as errors
	// only when the rules say so.
	Errors    uint64 `json:"errors"`
	Errors4xx uint64 `json:"errors_4xx"`
	// P99 is the window's 99th percentile latency; 0 when unknown.
	P99 time.Duration `json:"p99"`
}

// Sample is what a Source saw of an app over a window ending At.
type Sample struct {
	At     time.Time     `json:"at"`
	Window time.Duration `json:"window"`
	Old    SideSample    `json:"old"`
	New    SideSample    `json:"new"`
	// Pairs and Diffs are the shadow engine's compared pairs and pairs with
	// a real difference over the window (0 and 0 without shadowing).
	Pairs uint64 `json:"pairs"`
	Diffs uint64 `json:"diffs"`
}

// Source gives the numbers the rules are evaluated on: the in-process
// telemetry, a Prometheus server, or the rates derived from shipped logs.
// A Source that cannot answer returns an error; the verdict is then
// insufficient (unless on_no_data: rollback) and an event is raised.
type Source interface {
	Sample(ctx context.Context, app string, window time.Duration) (Sample, error)
}

// Check is one rule's evaluation, with the numbers behind it.
type Check struct {
	Rule      string  `json:"rule"`      // max_error_rate, max_error_rate_increase, max_p99_increase, max_diff_rate, fast_breaker
	Result    string  `json:"result"`    // pass, fail, insufficient
	Value     float64 `json:"value"`     // the observed value (a rate, or a p99 in seconds)
	Threshold float64 `json:"threshold"` // the rule's limit
	// Bound is the statistical bound that was compared with Threshold (the
	// lower confidence bound of the new side's excess, for instance).
	Bound  float64 `json:"bound"`
	Reason string  `json:"reason"` // a sentence a user can read
}

// Verdict is one evaluation of an app's rules.
type Verdict struct {
	App    string    `json:"app"`
	At     time.Time `json:"at"`
	Result string    `json:"result"` // pass, fail, insufficient
	// Breaches counts the failing evaluations in a row, this one included.
	Breaches int     `json:"breaches"`
	Checks   []Check `json:"checks"`
	Sample   Sample  `json:"sample"`
	// Act is set when this verdict triggers the rollback actions.
	Act bool `json:"act"`
	// DryRun is set instead of Act when the rules are a dry run: this
	// verdict would have triggered the actions.
	DryRun bool `json:"dry_run,omitempty"`
	// Err is the source's error, when it failed.
	Err string `json:"error,omitempty"`
	// SourceDown is set when the source failed (unreachable, an error
	// answer), not when it answered that it has no data.
	SourceDown bool `json:"source_down,omitempty"`
}

// Actions are what the controller does when it acts. The serve package
// implements it (weight in the state store, plan pause, hooks, notifier,
// event); tests use a recorder.
type Actions interface {
	Rollback(ctx context.Context, v Verdict) error
}

// DryRunner is implemented by Actions that can report, without acting,
// what a dry run would have done (record the event, notify). On dry_run
// the controller never calls Rollback: it calls DryRun when Actions
// implements it, and otherwise only records and logs the verdict.
type DryRunner interface {
	DryRun(ctx context.Context, v Verdict) error
}
