package rollback

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jonboulle/clockwork"

	"github.com/migratekit/migrate/logship"
)

// shipped returns n access events of app shop on side at t, the first errs
// of them answered 500, with ids prefixed by side and tag.
func shipped(side, tag string, t time.Time, n, errs int) []logship.Event {
	evs := make([]logship.Event, n)
	for i := range evs {
		code := 200
		if i < errs {
			code = 500
		}
		evs[i] = logship.Event{ID: fmt.Sprintf("%s-%s-%d", side, tag, i), App: "shop", Side: side, Time: t,
			Record: logship.Record{Status: code, Duration: 7 * time.Millisecond, Present: logship.HasDuration}}
	}
	return evs
}

func TestLogSource(t *testing.T) {
	clock := clockwork.NewFakeClock()
	start := clock.Now()
	d := logship.NewDerived(logship.DeriveOptions{Clock: clock})
	d.Observe(shipped("new", "early", start, 100, 100)) // out of the 5s window below
	clock.Advance(10 * time.Second)
	// Shipped late and out of order: the events of second 9 arrive after those of second 10.
	d.Observe(shipped("old", "a", clock.Now(), 200, 2))
	d.Observe(shipped("new", "a", clock.Now(), 100, 30))
	d.Observe(shipped("new", "b", start.Add(9*time.Second), 100, 20))
	d.Observe(shipped("new", "a", clock.Now(), 100, 30)) // replayed by a restarted shipper
	clock.Advance(500 * time.Millisecond)

	src := NewLogSource(d, clock)
	got, err := src.Sample(t.Context(), "shop", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want := Sample{
		At:     start.Add(10500 * time.Millisecond),
		Window: 5 * time.Second,
		Old:    SideSample{Requests: 200, Errors: 2, P99: 9950 * time.Microsecond},
		New:    SideSample{Requests: 200, Errors: 50, P99: 9950 * time.Microsecond},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("Sample (-got +want):\n%s", diff)
	}
	rules := DefaultRules()
	rules.MaxErrorRate = new(0.02)
	if v := Evaluate(rules, got); v.Result != Fail {
		t.Errorf("verdict %s (%s), want fail on new's 25%% errors", v.Result, v.Reason())
	}
}

func TestLogSourceErrors(t *testing.T) {
	tests := []struct {
		name   string
		src    *LogSource
		window time.Duration
		want   string
	}{
		{"no windows", NewLogSource(nil, nil), time.Second, "no log-derived metrics"},
		{"window too long", NewLogSource(logship.NewDerived(logship.DeriveOptions{}), nil), time.Hour, "longer than the 5m0s kept"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.src.Sample(t.Context(), "shop", tt.window)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Sample error %v, want one containing %q", err, tt.want)
			}
		})
	}
}
