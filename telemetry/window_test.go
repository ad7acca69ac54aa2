package telemetry

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
)

// timed is a request recorded at an offset from the Metrics' creation.
type timed struct {
	at   time.Duration
	code int
	d    time.Duration
	n    int
}

func newWindowMetrics(t testing.TB, max time.Duration) (*Metrics, *clockwork.FakeClock) {
	t.Helper()
	clock := clockwork.NewFakeClock()
	m, err := NewWithOptions(prometheus.NewRegistry(), Options{Clock: clock, WindowMax: max})
	if err != nil {
		t.Fatal(err)
	}
	return m, clock
}

// replay records reqs in time order on app's new side, moving clock.
func replay(clock *clockwork.FakeClock, start time.Time, s *Side, reqs []timed) {
	for _, r := range reqs {
		if d := start.Add(r.at).Sub(clock.Now()); d > 0 {
			clock.Advance(d)
		}
		for range r.n {
			s.Request(r.code, r.d)
		}
	}
}

func TestWindow(t *testing.T) {
	ms, sec := time.Millisecond, time.Second
	// Requests of 1ms are in (0.5ms, 1ms]: the p99 is interpolated.
	p99ms := 995 * time.Microsecond
	tests := []struct {
		name string
		max  time.Duration
		reqs []timed
		d    time.Duration
		now  time.Duration // after the Metrics' creation
		want WindowStats
	}{
		{
			name: "nothing recorded",
			d:    30 * sec, now: 10 * sec,
			want: WindowStats{Window: 30 * sec},
		},
		{
			// All in (2.5ms, 5ms]: p99 rank 3.96 of 4.
			name: "counts by class in the current second",
			reqs: []timed{{0, 200, 3 * ms, 2}, {0, 503, 3 * ms, 1}, {500 * ms, 404, 3 * ms, 1}},
			d:    30 * sec, now: 900 * ms,
			want: WindowStats{Requests: 4, Errors5xx: 1, Errors4xx: 1, P99: 4975 * time.Microsecond, Window: 30 * sec},
		},
		{
			// Window 2s at 10.5s: seconds 8, 9 and 10 (so far).
			name: "older seconds fall out",
			reqs: []timed{{7 * sec, 500, ms, 5}, {8 * sec, 200, ms, 3}, {9*sec + 999*ms, 500, ms, 1}, {10 * sec, 200, ms, 2}},
			d:    2 * sec, now: 10*sec + 500*ms,
			want: WindowStats{Requests: 6, Errors5xx: 1, P99: p99ms, Window: 2 * sec},
		},
		{
			name: "a window is rounded up to whole seconds",
			reqs: []timed{{8 * sec, 500, ms, 1}, {9 * sec, 200, ms, 1}},
			d:    1500 * ms, now: 10 * sec,
			want: WindowStats{Requests: 2, Errors5xx: 1, P99: p99ms, Window: 2 * sec},
		},
		{
			// A 4-bucket ring: second 6 reuses the bucket of second 2.
			name: "a reused bucket starts from zero",
			max:  3 * sec,
			reqs: []timed{{2 * sec, 500, ms, 7}, {6 * sec, 200, ms, 1}},
			d:    time.Minute, now: 6 * sec,
			want: WindowStats{Requests: 1, P99: p99ms, Window: 3 * sec},
		},
		{
			name: "a window before the first second",
			reqs: []timed{{0, 500, ms, 1}},
			d:    5 * sec, now: -time.Hour,
			want: WindowStats{Requests: 1, Errors5xx: 1, P99: p99ms, Window: 5 * sec},
		},
		{
			// 90 in (5ms, 10ms], 10 in (100ms, 250ms], across two seconds.
			name: "p99 across seconds",
			reqs: []timed{{0, 200, 7 * ms, 90}, {sec, 200, 200 * ms, 10}},
			d:    10 * sec, now: 2 * sec,
			want: WindowStats{Requests: 100, P99: 235 * ms, Window: 10 * sec},
		},
		{
			name: "beyond the last bucket gives its upper bound",
			reqs: []timed{{0, 200, time.Minute, 1}},
			d:    10 * sec, now: 0,
			want: WindowStats{Requests: 1, P99: 30 * sec, Window: 10 * sec},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, clock := newWindowMetrics(t, tt.max)
			start := clock.Now()
			m.Side("app", SideOld).Request(500, time.Second) // the other side must not count
			replay(clock, start, m.Side("app", SideNew), tt.reqs)
			got := m.Window("app", SideNew, tt.d, start.Add(tt.now))
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("Window() mismatch (-got +want):\n%s", diff)
			}
		})
	}
}

// TestWindowAgreesWithSnapshot checks that a window holding every request
// gives the p99 of the exported histogram.
func TestWindowAgreesWithSnapshot(t *testing.T) {
	m, clock := newWindowMetrics(t, 0)
	s := m.Side("app", SideNew)
	for i := range 1000 {
		s.Request(200, time.Duration(i%97)*time.Millisecond+time.Duration(i%7)*100*time.Millisecond)
		if i%100 == 0 {
			clock.Advance(time.Second)
		}
	}
	snap := m.Snapshot("app", SideNew)
	win := m.Window("app", SideNew, time.Minute, clock.Now())
	if got, want := win.Requests, snap.Requests; got != want {
		t.Errorf("Window().Requests = %d, want %d", got, want)
	}
	got, want := float64(win.P99)/float64(time.Millisecond), snap.P99Ms
	if d := got - want; d > 1e-6 || d < -1e-6 {
		t.Errorf("Window().P99 = %vms, want Snapshot's %vms", got, want)
	}
}

func TestShadowWindow(t *testing.T) {
	m, clock := newWindowMetrics(t, 0)
	start := clock.Now()
	sh := m.Shadow("web")
	sh.Pair(DirOldToNew, "/a", "diff") // second 0, out of the window below
	clock.Advance(5 * time.Second)
	// Both directions count in the app's window.
	for i, o := range []string{"match", "match", "noise", "diff", "diff", "shadow_error", "shadow_timeout", "skipped_unsafe", "too_large", "dropped"} {
		sh.Pair([...]string{DirOldToNew, DirNewToOld}[i%2], "/a", o)
	}
	m.Shadow("other").Pair(DirOldToNew, "/a", "diff")
	tests := []struct {
		name string
		app  string
		d    time.Duration
		want ShadowWindowStats
	}{
		{"compared pairs only", "web", 3 * time.Second, ShadowWindowStats{Pairs: 5, Diffs: 2, Window: 3 * time.Second}},
		{"the whole window", "web", 10 * time.Second, ShadowWindowStats{Pairs: 6, Diffs: 3, Window: 10 * time.Second}},
		{"an app without shadow", "none", 10 * time.Second, ShadowWindowStats{Window: 10 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := m.ShadowWindow(tt.app, tt.d, start.Add(5*time.Second))
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("ShadowWindow() mismatch (-got +want):\n%s", diff)
			}
		})
	}
}

func TestWindowNil(t *testing.T) {
	var m *Metrics
	if got := m.Window("app", SideNew, time.Second, time.Now()); got != (WindowStats{}) {
		t.Errorf("nil Window() = %+v, want zero", got)
	}
	if got := m.ShadowWindow("app", time.Second, time.Now()); got != (ShadowWindowStats{}) {
		t.Errorf("nil ShadowWindow() = %+v, want zero", got)
	}
	if got := m.WindowMax(); got != 0 {
		t.Errorf("nil WindowMax() = %v, want 0", got)
	}
}

func TestWindowMax(t *testing.T) {
	tests := []struct {
		name string
		max  time.Duration
		want time.Duration
	}{
		{"default", 0, DefaultWindowMax},
		{"rounded up", 1500 * time.Millisecond, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := newWindowMetrics(t, tt.max)
			if got := m.WindowMax(); got != tt.want {
				t.Errorf("WindowMax() = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestWindowConcurrent records from several goroutines while reading, and
// checks that no request is lost (run with -race).
func TestWindowConcurrent(t *testing.T) {
	m, clock := newWindowMetrics(t, 0)
	s := m.Side("app", SideNew)
	const writers, each = 4, 2000
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				s.Request(200+300*(i%2), time.Millisecond)
				if w == 0 && i%500 == 0 {
					clock.Advance(time.Second)
				}
			}
		})
	}
	wg.Go(func() {
		for range 100 {
			m.Window("app", SideNew, time.Minute, clock.Now())
		}
	})
	wg.Wait()
	got := m.Window("app", SideNew, time.Minute, clock.Now())
	want := WindowStats{Requests: writers * each, Errors5xx: writers * each / 2, P99: 995 * time.Microsecond, Window: time.Minute}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("Window() mismatch (-got +want):\n%s", diff)
	}
}

// TestRunClock drives the cached second on a fake clock: it follows the
// second boundaries and is cleared when the loop stops.
func TestRunClock(t *testing.T) {
	clock := clockwork.NewFakeClockAt(time.Unix(1000, 300*int64(time.Millisecond)))
	c := newWindowClock(clock, time.Minute)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.runClock(ctx)
	}()
	steps := []struct {
		advance   time.Duration
		sec, slot uint32
	}{
		{0, 0, 0},
		{999 * time.Millisecond, 0, 0},
		{time.Millisecond, 1, 1},
		{2500 * time.Millisecond, 3, 3},
		{58 * time.Second, 61, 0}, // 61 buckets for a minute
	}
	for _, s := range steps {
		clock.Advance(s.advance)
		// The loop has stored the second once it waits on its timer again.
		if err := clock.BlockUntilContext(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if c.cached.Load() == 0 {
			t.Fatalf("after %v: no cached second", clock.Since(c.start))
		}
		if sec, slot := c.now(); sec != s.sec || slot != s.slot {
			t.Errorf("after %v: now() = %d, %d; want %d, %d", clock.Since(c.start), sec, slot, s.sec, s.slot)
		}
	}
	cancel()
	<-done
	if got := c.cached.Load(); got != 0 {
		t.Errorf("after the loop: cached = %d, want 0", got)
	}
}

// TestRunOnRealTime checks that Run without statsd keeps the window clock
// until ctx is done, and that requests then read the clock again.
func TestRunOnRealTime(t *testing.T) {
	m, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run() = %v, want nil", err)
	}
	if got := m.win.cached.Load(); got != 0 {
		t.Errorf("after Run: cached = %d, want 0", got)
	}
	m.Side("app", SideNew).Request(500, time.Millisecond)
	if got := m.Window("app", SideNew, time.Second, time.Now()).Errors5xx; got != 1 {
		t.Errorf("Window().Errors5xx = %d, want 1", got)
	}
}

func TestRunOnFakeClockWithoutStatsd(t *testing.T) {
	m, _ := newWindowMetrics(t, 0)
	// Nothing to do: Run returns at once even though ctx is never done.
	if err := m.Run(context.Background()); err != nil {
		t.Errorf("Run() = %v, want nil", err)
	}
}

// BenchmarkSideRequestClock measures Side.Request (the window included)
// with the clock read on every request (no Run) and with the second Run
// caches, from one goroutine and from all at once. The serial numbers are
// the cost on the request path; the parallel ones mostly measure every
// core incrementing the same words at once.
func BenchmarkSideRequestClock(b *testing.B) {
	for _, run := range []bool{false, true} {
		for _, parallel := range []bool{false, true} {
			name := map[bool]string{false: "clock=read", true: "clock=cached"}[run] +
				map[bool]string{false: "/serial", true: "/parallel"}[parallel]
			b.Run(name, func(b *testing.B) { benchSideRequestClock(b, run, parallel) })
		}
	}
}

func benchSideRequestClock(b *testing.B, run, parallel bool) {
	m, err := New(nil)
	if err != nil {
		b.Fatal(err)
	}
	if run {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- m.Run(ctx) }()
		defer func() { cancel(); <-done }()
		for m.win.cached.Load() == 0 { // Run's first tick is immediate
			runtime.Gosched()
		}
	}
	s := m.Side("app", SideNew)
	b.ReportAllocs()
	if !parallel {
		for b.Loop() {
			s.Request(200, 3*time.Millisecond)
		}
		return
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.Request(200, 3*time.Millisecond)
		}
	})
}
