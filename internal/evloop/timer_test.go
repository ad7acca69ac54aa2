//go:build linux

package evloop

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestTimers schedules timers due already, then checks from a function
// posted afterwards, which runs in a later iteration than the timers do.
func TestTimers(t *testing.T) {
	base := time.Now().Add(-time.Hour)
	at := func(s int) time.Time { return base.Add(time.Duration(s) * time.Second) }
	tests := []struct {
		name  string
		setup func(l *Loop, fire func(string) *Timer)
		want  []string
	}{
		{
			name: "order of firing",
			setup: func(l *Loop, fire func(string) *Timer) {
				l.Schedule(fire("3"), at(3))
				l.Schedule(fire("1"), at(1))
				l.Schedule(fire("2"), at(2))
				l.Schedule(fire("2 too"), at(2))
			},
			want: []string{"1", "2", "2 too", "3"},
		},
		{
			name: "reschedule",
			setup: func(l *Loop, fire func(string) *Timer) {
				a, b, c := fire("a"), fire("b"), fire("c")
				l.Schedule(a, at(1))
				l.Schedule(b, at(2))
				l.Schedule(c, at(3))
				l.Schedule(a, at(4))
				l.Schedule(c, time.Now().Add(time.Hour))
			},
			want: []string{"b", "a"},
		},
		{
			name: "cancel",
			setup: func(l *Loop, fire func(string) *Timer) {
				a, b := fire("a"), fire("b")
				l.Schedule(a, at(1))
				l.Schedule(b, at(2))
				l.Cancel(a)
				l.Cancel(a)
				l.Cancel(fire("never scheduled"))
			},
			want: []string{"b"},
		},
		{
			name: "a timer cancels another due",
			setup: func(l *Loop, fire func(string) *Timer) {
				b := fire("b")
				a := &Timer{}
				a.F = func() { l.Cancel(b) }
				l.Schedule(a, at(1))
				l.Schedule(b, at(2))
			},
			want: nil,
		},
	}
	tl := startLoop(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			var timers []*Timer
			fire := func(name string) *Timer {
				tm := &Timer{}
				tm.F = func() {
					if tm.Scheduled() {
						t.Errorf("timer %s: Scheduled() true while firing", name)
					}
					got = append(got, name)
				}
				timers = append(timers, tm)
				return tm
			}
			tl.do(func() { tt.setup(tl.Loop, fire) })
			tl.do(func() {
				for _, tm := range timers {
					tl.Cancel(tm)
				}
			})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("timers fired (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTimerReschedulesItself fires a timer that schedules itself for the
// loop's current time: it fires once per iteration, not in a spin.
func TestTimerReschedulesItself(t *testing.T) {
	tl := startLoop(t)
	done := make(chan struct{})
	var fired []bool
	var nows []time.Time
	tm := &Timer{}
	tm.F = func() {
		tl.Schedule(tm, tl.Now())
		fired = append(fired, tm.Scheduled())
		nows = append(nows, tl.Now())
		if len(fired) == 3 {
			tl.Cancel(tm)
			close(done)
		}
	}
	tl.do(func() { tl.Schedule(tm, tl.Now()) })
	<-done
	var scheduled bool
	tl.do(func() { scheduled = tm.Scheduled() })
	if diff := cmp.Diff([]bool{true, true, true}, fired); diff != "" {
		t.Errorf("Scheduled() after rescheduling (-want +got):\n%s", diff)
	}
	if scheduled {
		t.Errorf("Scheduled() after Cancel: got true")
	}
	if !nows[0].Before(nows[1]) || !nows[1].Before(nows[2]) {
		t.Errorf("loop times of the firings: got %v, want one iteration each", nows)
	}
}

// TestTimerFuture lets a timer due in a few milliseconds wake the loop,
// which has nothing else to do.
func TestTimerFuture(t *testing.T) {
	tl := startLoop(t)
	fired := make(chan time.Time)
	var at time.Time
	tm := &Timer{F: func() { fired <- tl.Now() }}
	tl.do(func() {
		at = tl.Now().Add(5 * time.Millisecond)
		tl.Schedule(tm, at)
	})
	if now := <-fired; now.Before(at) {
		t.Errorf("timer fired at loop time %v, before its time %v", now, at)
	}
}

// TestTimerHeap runs random schedules, reschedules and cancels on the
// heap directly: the timers fire by time, ties by order of scheduling.
func TestTimerHeap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	l := &Loop{}
	type entry struct {
		when int64
		seq  int
	}
	timers := make([]*Timer, 300)
	want := map[int]entry{}
	var got []int
	for i := range timers {
		timers[i] = &Timer{F: func() { got = append(got, i) }}
	}
	for seq := range 3000 {
		i := r.IntN(len(timers))
		if r.IntN(4) == 0 {
			l.Cancel(timers[i])
			delete(want, i)
			continue
		}
		when := int64(r.IntN(100))
		l.Schedule(timers[i], time.Unix(0, when))
		want[i] = entry{when, seq}
	}
	l.now = time.Unix(0, 1000)
	l.runTimers()
	wantOrder := make([]int, 0, len(want))
	for i := range want {
		wantOrder = append(wantOrder, i)
	}
	slices.SortFunc(wantOrder, func(a, b int) int {
		if want[a].when != want[b].when {
			return int(want[a].when - want[b].when)
		}
		return want[a].seq - want[b].seq
	})
	if diff := cmp.Diff(wantOrder, got); diff != "" {
		t.Errorf("firing order (-want +got):\n%s", diff)
	}
	if len(l.timers) != 0 {
		t.Errorf("%d timers left in the heap", len(l.timers))
	}
}
