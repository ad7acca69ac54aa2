//go:build linux

package evloop

import "time"

// Timer fires F on the loop goroutine at or after the time it is
// scheduled for. The zero value with F set is ready to use. A Timer
// belongs to one loop at a time.
type Timer struct {
	F func()

	when int64  // unix ns
	seq  uint64 // order of scheduling: ties fire first come first
	i    int    // index in the heap + 1; 0 when not scheduled
}

// Scheduled reports whether t is scheduled.
func (t *Timer) Scheduled() bool { return t.i > 0 }

// timerHeap is a binary min-heap of timers by (when, seq), each timer
// knowing its index so that rescheduling and cancelling are O(log n).
type timerHeap []*Timer

// Schedule (re)schedules t to fire at at. Loop goroutine only. O(log n).
func (l *Loop) Schedule(t *Timer, at time.Time) {
	l.timerSeq++
	t.when, t.seq = at.UnixNano(), l.timerSeq
	if t.i > 0 {
		l.timers.fix(t.i - 1)
		return
	}
	l.timers = append(l.timers, t)
	t.i = len(l.timers)
	l.timers.up(t.i - 1)
}

// Cancel unschedules t if it is scheduled. Loop goroutine only.
func (l *Loop) Cancel(t *Timer) {
	if t.i > 0 {
		l.timers.remove(t.i - 1)
	}
}

// runTimers fires the timers due at l.now that were scheduled before this
// call: one a function schedules for now or earlier fires in the next
// iteration (whose wait does not block), so a timer rescheduling itself
// cannot keep the loop here.
func (l *Loop) runTimers() {
	now, last := l.now.UnixNano(), l.timerSeq
	for len(l.timers) > 0 {
		t := l.timers[0]
		if t.when > now || t.seq > last {
			return
		}
		l.timers.remove(0)
		t.F()
	}
}

func (h timerHeap) less(i, j int) bool {
	if h[i].when != h[j].when {
		return h[i].when < h[j].when
	}
	return h[i].seq < h[j].seq
}

func (h timerHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].i, h[j].i = i+1, j+1
}

// up moves the timer at i towards the root while it is earlier than its
// parent.
func (h timerHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

// down moves the timer at i towards the leaves while a child is earlier,
// and reports whether it moved.
func (h timerHeap) down(i int) bool {
	start := i
	for {
		c := 2*i + 1
		if c >= len(h) {
			break
		}
		if r := c + 1; r < len(h) && h.less(r, c) {
			c = r
		}
		if !h.less(c, i) {
			break
		}
		h.swap(i, c)
		i = c
	}
	return i > start
}

// fix restores the heap after the timer at i changed its time.
func (h timerHeap) fix(i int) {
	if !h.down(i) {
		h.up(i)
	}
}

// remove takes the timer at i out of the heap.
func (h *timerHeap) remove(i int) {
	old := *h
	n := len(old) - 1
	t := old[i]
	if i != n {
		old.swap(i, n)
	}
	old[n] = nil
	*h = old[:n]
	if i != n {
		h.fix(i)
	}
	t.i = 0
}
