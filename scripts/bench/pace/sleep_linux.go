package main

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// fineTimer sleeps with a timerfd read through Go's network poller. Go's
// own timers wake a goroutine up to about 1 ms late when the process is
// otherwise idle (the poller waits with a timeout in whole milliseconds),
// and that lateness would add to every latency counted from a due time;
// a timerfd makes the poller return when the timer expires, to the
// microsecond, without holding a thread for the sleep.
type fineTimer struct {
	fd int
	f  *os.File
}

// newFineTimer makes a worker's timer.
func newFineTimer() (*fineTimer, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("creating timerfd: %w", err)
	}
	// A non-blocking descriptor makes a File that the poller waits on.
	return &fineTimer{fd: fd, f: os.NewFile(uintptr(fd), "timerfd")}, nil
}

// sleep waits d, which the caller keeps short (fineMargin): it does not
// watch a context.
func (t *fineTimer) sleep(d time.Duration) error {
	if d <= 0 {
		return nil // a zero timerfd is disarmed: the read would never end
	}
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	if err := unix.TimerfdSettime(t.fd, 0, &spec, nil); err != nil {
		return fmt.Errorf("arming timerfd: %w", err)
	}
	var expirations [8]byte
	if _, err := t.f.Read(expirations[:]); err != nil {
		return fmt.Errorf("reading timerfd: %w", err)
	}
	return nil
}

// close releases the timer.
func (t *fineTimer) close() {
	_ = t.f.Close()
}
