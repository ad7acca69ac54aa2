package logship

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/migratekit/migrate/telemetry"
)

// access is an access-log event of app shop at t, with a duration when
// d is not zero.
func access(id, side string, t time.Time, status int, d time.Duration) Event {
	ev := Event{ID: id, App: "shop", Side: side, Time: t, Record: Record{Status: status, Duration: d}}
	if d != 0 {
		ev.Record.Present = HasDuration
	}
	return ev
}

func TestDerivedWindows(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	type step struct {
		advance time.Duration
		events  []Event
	}
	tests := []struct {
		name   string
		steps  []step
		window time.Duration
		want   telemetry.WindowStats
		counts int // events counted by Observe, in all
	}{
		{
			name: "in order",
			steps: []step{{events: []Event{
				access("a", "new", start, 200, 10*time.Millisecond),
				access("b", "new", start, 500, 10*time.Millisecond),
				access("c", "new", start, 404, 10*time.Millisecond),
			}}},
			window: 10 * time.Second,
			want:   telemetry.WindowStats{Requests: 3, Errors5xx: 1, Errors4xx: 1, P99: 9950 * time.Microsecond, Window: 10 * time.Second},
			counts: 3,
		},
		{
			name: "late events land in their own second",
			steps: []step{
				{events: []Event{access("a", "new", start, 200, 0)}},
				{advance: 20 * time.Second, events: []Event{access("b", "new", start.Add(time.Second), 500, 0)}},
			},
			window: 10 * time.Second, // ends at start+20s: both events are older
			want:   telemetry.WindowStats{Window: 10 * time.Second},
			counts: 2,
		},
		{
			name: "out of order within the window",
			steps: []step{
				{advance: 5 * time.Second, events: []Event{access("b", "new", start.Add(4*time.Second), 503, 0)}},
				{events: []Event{access("a", "new", start.Add(time.Second), 200, 0)}},
			},
			window: 10 * time.Second,
			want:   telemetry.WindowStats{Requests: 2, Errors5xx: 1, Window: 10 * time.Second},
			counts: 2,
		},
		{
			name: "a replayed duplicate is counted once",
			steps: []step{
				{events: []Event{access("a", "new", start, 500, 0), access("b", "new", start, 200, 0)}},
				{advance: 3 * time.Second, events: []Event{access("a", "new", start, 500, 0), access("b", "new", start, 200, 0)}},
			},
			window: 10 * time.Second,
			want:   telemetry.WindowStats{Requests: 2, Errors5xx: 1, Window: 10 * time.Second},
			counts: 2,
		},
		{
			name:   "the same id on another side is another event",
			steps:  []step{{events: []Event{access("a", "new", start, 500, 0), access("a", "old", start, 500, 0)}}},
			window: 10 * time.Second,
			want:   telemetry.WindowStats{Requests: 1, Errors5xx: 1, Window: 10 * time.Second},
			counts: 2,
		},
		{
			name: "too old and future events stay out of the windows",
			steps: []step{{advance: 10 * time.Minute, events: []Event{
				access("old", "new", start, 500, 0),
				access("future", "new", start.Add(time.Hour), 500, 0),
			}}},
			window: 5 * time.Minute,
			want:   telemetry.WindowStats{Window: 5 * time.Minute},
			counts: 2,
		},
		{
			name: "application lines are not requests",
			steps: []step{{events: []Event{{ID: "x", App: "shop", Side: "new", Time: start,
				Record: Record{Level: "error", Message: []byte("boom")}}}}},
			window: 10 * time.Second,
			want:   telemetry.WindowStats{Window: 10 * time.Second},
			counts: 1,
		},
		{
			name:   "a window longer than kept is capped",
			steps:  []step{{events: []Event{access("a", "new", start, 200, 0)}}},
			window: time.Hour,
			want:   telemetry.WindowStats{Requests: 1, Window: 5 * time.Minute},
			counts: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := clockwork.NewFakeClockAt(start)
			d := NewDerived(DeriveOptions{Clock: clock})
			counted := 0
			for _, s := range tt.steps {
				clock.Advance(s.advance)
				counted += d.Observe(s.events)
			}
			got := d.Window("shop", "new", tt.window, clock.Now())
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("Window (-got +want):\n%s", diff)
			}
			if counted != tt.counts {
				t.Errorf("Observe counted %d events, want %d", counted, tt.counts)
			}
		})
	}
}

func TestDerivedMetrics(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	reg := prometheus.NewRegistry()
	m, err := telemetry.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	clock := clockwork.NewFakeClockAt(start)
	d := NewDerived(DeriveOptions{Metrics: m, Clock: clock})
	batch := []Event{
		access("a", "old", start, 200, time.Millisecond),
		access("b", "old", start, 502, time.Millisecond),
		{ID: "c", App: "shop", Side: "old", Time: start, Record: Record{Level: "WARN"}},
		access("stale", "old", start.Add(-time.Hour), 500, 0),
	}
	d.Observe(batch)
	d.Observe(batch) // replayed: only the stale one, out of the windows, counts again
	tests := []struct {
		name   string
		series string
		labels map[string]string
		want   float64
	}{
		{"2xx", "migrate_logs_requests_total", map[string]string{"app": "shop", "side": "old", "code_class": "2xx"}, 1},
		{"5xx", "migrate_logs_requests_total", map[string]string{"app": "shop", "side": "old", "code_class": "5xx"}, 3},
		{"warn lines", "migrate_logs_lines_total", map[string]string{"app": "shop", "side": "old", "level": "warn"}, 1},
		{"duplicates", "migrate_logs_duplicates_total", map[string]string{"app": "shop", "side": "old"}, 3},
		{"too old", "migrate_logs_window_skipped_total", map[string]string{"app": "shop", "side": "old", "reason": "too_old"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := telemetry.Read(reg, tt.series, tt.labels)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("%s%v = %v, want %v", tt.series, tt.labels, got, tt.want)
			}
		})
	}
}

func TestDerivedMaxIDs(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := clockwork.NewFakeClockAt(start)
	d := NewDerived(DeriveOptions{Clock: clock, MaxIDs: 2})
	var evs []Event
	for i := range 4 {
		evs = append(evs, access(fmt.Sprint(i), "new", start, 200, 0))
	}
	got := []int{d.Observe(evs), d.Observe(evs)}
	// The first two ids are remembered; the last two are not, so they count again.
	want := []int{4, 2}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("counted (-got +want):\n%s", diff)
	}
	if got, want := d.Unremembered(), uint64(4); got != want {
		t.Errorf("Unremembered = %d, want %d", got, want)
	}
	// A second later in the ring reuses the bucket from scratch.
	clock.Advance(time.Duration(len(d.sides[derivedKey{"shop", "new"}].buckets)) * time.Second)
	later := access("0", "new", clock.Now(), 200, 0)
	if got := d.Observe([]Event{later}); got != 1 {
		t.Errorf("counted %d of an id seen a ring ago, want 1", got)
	}
}
