package rollback

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/migratekit/migrate/telemetry"
)

func newTelemetry(t *testing.T) (*telemetry.Metrics, *clockwork.FakeClock) {
	t.Helper()
	clock := clockwork.NewFakeClock()
	m, err := telemetry.NewWithOptions(prometheus.NewRegistry(), telemetry.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	return m, clock
}

// serve records n requests on a side, the first errs of them with code.
func serve(s *telemetry.Side, n, errs, code int, d time.Duration) {
	for i := range n {
		if i < errs {
			s.Request(code, d)
		} else {
			s.Request(200, d)
		}
	}
}

func TestTelemetrySource(t *testing.T) {
	m, clock := newTelemetry(t)
	start := clock.Now()
	old, nw, sh := m.Side("shop", telemetry.SideOld), m.Side("shop", telemetry.SideNew), m.Shadow("shop")
	serve(nw, 100, 100, 500, time.Millisecond) // second 0: out of the 5s windows below
	clock.Advance(10 * time.Second)
	serve(old, 200, 2, 502, 7*time.Millisecond)
	serve(nw, 100, 10, 503, 200*time.Millisecond)
	serve(nw, 5, 5, 404, 200*time.Millisecond)
	for _, o := range []string{"match", "match", "diff", "noise", "skipped_unsafe"} {
		sh.Pair(telemetry.DirOldToNew, "/users/:id", o)
	}
	m.Side("other", telemetry.SideNew).Request(500, time.Second)
	clock.Advance(500 * time.Millisecond)

	src := NewTelemetrySource(m, clock)
	got, err := src.Sample(t.Context(), "shop", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want := Sample{
		At:     start.Add(10500 * time.Millisecond),
		Window: 5 * time.Second,
		// 200 in (5ms, 10ms]: rank 198 of 200.
		Old: SideSample{Requests: 200, Errors: 2, P99: 9950 * time.Microsecond},
		// 105 in (100ms, 250ms]: rank 103.95 of 105.
		New:   SideSample{Requests: 105, Errors: 10, Errors4xx: 5, P99: time.Duration((0.1 + 0.15*103.95/105) * float64(time.Second))},
		Pairs: 4, Diffs: 1,
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("Sample() mismatch (-got +want):\n%s", diff)
	}
}

func TestTelemetrySourceErrors(t *testing.T) {
	m, clock := newTelemetry(t)
	tests := []struct {
		name   string
		src    *TelemetrySource
		window time.Duration
		want   string
	}{
		{"a window longer than kept", NewTelemetrySource(m, clock), 10 * time.Minute,
			"reading telemetry: window 10m0s is longer than the 5m0s kept"},
		{"no metrics", NewTelemetrySource(nil, clock), time.Second, "reading telemetry: no metrics"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.src.Sample(t.Context(), "shop", tt.window)
			if err == nil || err.Error() != tt.want {
				t.Errorf("Sample() error = %v, want %s", err, tt.want)
			}
		})
	}
}

// TestControllerOnTelemetry runs the controller on the real telemetry
// windows, fed through Side.Request on a fake clock at 20 rps a side: a
// clean minute (1 error in 100 on both sides) passes, then new answers
// 30% errors and the rules roll it back (below the fast breaker's 50%).
//
// With 6 of new's 600 requests failing before, the k-th second after
// the change adds 6 errors and drops 0.2: 6 + 5.8k errors, over the 20
// that fail max_error_rate from k = 3 (23.4), so the whole window alone
// would roll back on the fourth evaluation. The telemetry's 1s recent
// window sees the first bad second alone: 6 errors in 20 requests,
// 20·KL(0.3 ‖ 0.02) = 11.5 nats of evidence against 2%, over the
// ln(5·30/0.01) = 9.6 needed, so the first evaluation fails and the second
// breach, and the rollback, come on the second, whose strongest evidence
// is then the 2s window (12/40).
func TestControllerOnTelemetry(t *testing.T) {
	m, clock := newTelemetry(t)
	old, nw := m.Side("shop", telemetry.SideOld), m.Side("shop", telemetry.SideNew)
	act := &recorder{}
	c := NewController("shop", designRules(), NewTelemetrySource(m, clock), act, ControllerOptions{Clock: clock})
	second := func(newErrs int) Verdict {
		for i := range 20 {
			old.Request(statusOf(i%100 == 0), 5*time.Millisecond)
			nw.Request(statusOf(i < newErrs), 5*time.Millisecond)
		}
		clock.Advance(time.Second)
		return c.Step(t.Context())
	}
	var vs []Verdict
	for s := range 60 {
		newErrs := 0
		if s%5 == 0 { // one error in 100
			newErrs = 1
		}
		vs = append(vs, second(newErrs))
	}
	if got := results(vs[30:]); !cmp.Equal(got, map[string]int{Pass: 30}) {
		t.Fatalf("clean minute, second half: results %v, want all pass; last: %s", got, vs[59].Reason())
	}
	if got := vs[59].Sample.New; got.Requests != 600 || got.Errors != 6 {
		t.Errorf("clean window: new %d/%d, want 6/600", got.Errors, got.Requests)
	}
	var k int
	for k = 1; k <= 10; k++ {
		if v := second(6); v.Act {
			if want := "max_error_rate: new 5xx 30.0% (12/40) in the last 2s"; !strings.HasPrefix(v.Reason(), want) {
				t.Errorf("acting verdict's reason = %q, want it to start with %q", v.Reason(), want)
			}
			break
		}
	}
	if k != 2 {
		t.Errorf("rolled back on evaluation %d after the change, want 2", k)
	}
	if n, _ := act.calls(); n != 1 {
		t.Errorf("Rollback called %d times, want 1", n)
	}
}

func statusOf(failed bool) int {
	if failed {
		return 500
	}
	return 200
}
