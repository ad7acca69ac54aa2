package main

import (
	"syscall"
	"time"
)

// fineMargin is how long before a due time a worker stops waiting on a
// clock timer and sleeps the rest with nanosleep: Go's timers wake a
// goroutine up to about a millisecond late when the process is otherwise
// idle, which would add to every latency counted from the due time.
const fineMargin = 2 * time.Millisecond

// nanosleep sleeps d on the calling thread (about 0.1 ms late at most on an
// idle machine, against about 1 ms for a timer); d is at most fineMargin,
// so the thread it blocks is not held long.
func nanosleep(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	for {
		var rem syscall.Timespec
		err := syscall.Nanosleep(&ts, &rem)
		if err != syscall.EINTR {
			return
		}
		ts = rem
	}
}
