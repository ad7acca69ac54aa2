package rollback

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/migratekit/migrate/manifest"
)

func TestRulesFrom(t *testing.T) {
	fast := FastBreaker{MinRequests: 20, ErrorRate: 0.5, Window: 5 * time.Second}
	tests := []struct {
		name     string
		rollback string // the app's rollback: mapping
		want     Rules
	}{
		{
			name:     "defaults",
			rollback: "{}",
			want: Rules{MinRequests: 50, Window: 30 * time.Second, Interval: time.Second, Confidence: 0.99,
				Breaches: 2, FastBreaker: fast, OnNoData: OnNoDataHold},
		},
		{
			name:     "the design's example",
			rollback: "{max_error_rate: 2%, max_error_rate_increase: 1%, min_requests: 50, window: 30s}",
			want: Rules{MaxErrorRate: new(0.02), MaxErrorRateIncrease: new(0.01), MinRequests: 50,
				Window: 30 * time.Second, Interval: time.Second, Confidence: 0.99, Breaches: 2,
				FastBreaker: fast, OnNoData: OnNoDataHold},
		},
		{
			name: "every setting",
			rollback: `{max_error_rate: 5%, max_p99_increase: 50%, max_diff_rate: 0.1, count_4xx: true,
				min_requests: 0, window: 1m, interval: 2s, confidence: 0.999, breaches: 3,
				fast_breaker: {min_requests: 10, error_rate: 80%, window: 3s, disabled: true},
				on_no_data: rollback, dry_run: true}`,
			want: Rules{MaxErrorRate: new(0.05), MaxP99Increase: &LatencyLimit{Ratio: 0.5}, MaxDiffRate: new(0.1),
				Count4xx: true, Window: time.Minute, Interval: 2 * time.Second, Confidence: 0.999, Breaches: 3,
				FastBreaker: FastBreaker{MinRequests: 10, ErrorRate: 0.8, Window: 3 * time.Second, Disabled: true},
				OnNoData:    OnNoDataRollback, DryRun: true},
		},
		{
			name:     "an absolute p99 allowance",
			rollback: "{max_p99_increase: 200ms}",
			want: Rules{MaxP99Increase: &LatencyLimit{Delta: 200 * time.Millisecond}, MinRequests: 50,
				Window: 30 * time.Second, Interval: time.Second, Confidence: 0.99, Breaches: 2,
				FastBreaker: fast, OnNoData: OnNoDataHold},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			yaml := "apps:\n  shop:\n    old: {backends: [http://127.0.0.1:3000]}\n" +
				"    new: {backends: [http://127.0.0.1:3001]}\n    rollback: " + tt.rollback + "\n"
			m, err := manifest.Parse("migrate.yaml", []byte(yaml))
			if err != nil {
				t.Fatal(err)
			}
			got, err := RulesFrom(m.Apps["shop"])
			if err != nil {
				t.Fatalf("RulesFrom() error = %v", err)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("RulesFrom() mismatch (-got +want):\n%s", diff)
			}
		})
	}
}

func TestRulesFromErrors(t *testing.T) {
	tests := []struct {
		name string
		rb   manifest.Rollback
		want string
	}{
		{"bad p99", manifest.Rollback{MaxP99Increase: "fast"},
			`reading rollback.max_p99_increase of app shop: "fast" is neither a ratio (50%) nor a duration (200ms)`},
		{"bad on_no_data", manifest.Rollback{OnNoData: "panic"},
			`reading rollback.on_no_data of app shop: "panic" is neither hold nor rollback`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := RulesFrom(&manifest.App{Name: "shop", Rollback: tt.rb})
			if err == nil || err.Error() != tt.want {
				t.Errorf("RulesFrom() error = %v, want %s", err, tt.want)
			}
		})
	}
}

func TestParseLatencyLimit(t *testing.T) {
	tests := []struct {
		in   string
		want LatencyLimit
	}{
		{"50%", LatencyLimit{Ratio: 0.5}},
		{"0.25", LatencyLimit{Ratio: 0.25}},
		{"200%", LatencyLimit{Ratio: 2}},
		{"200ms", LatencyLimit{Delta: 200 * time.Millisecond}},
		{"1s", LatencyLimit{Delta: time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseLatencyLimit(tt.in)
			if err != nil {
				t.Fatalf("ParseLatencyLimit(%q) error = %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseLatencyLimit(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}
