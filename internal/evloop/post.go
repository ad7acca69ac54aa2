//go:build linux

package evloop

import "golang.org/x/sys/unix"

// Stop makes Run return after the current iteration. It may be called
// from any goroutine, any number of times, also before Run starts: then
// Run returns at once. Functions posted before Stop still run.
func (l *Loop) Stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stopped = true
	l.signal()
}

// Post queues fn to run on the loop goroutine; functions run in the order
// posted. It may be called from any goroutine, the loop's included (fn
// then runs after the current batch of events). A function posted after
// Stop is dropped.
func (l *Loop) Post(fn func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return
	}
	l.posted = append(l.posted, fn)
	l.signal()
}

// signal makes the eventfd readable unless it was made so since the loop
// last took the posted functions. The write is under l.mu so that it
// never hits the eventfd's number once Run has closed it.
func (l *Loop) signal() {
	if l.woken || l.closed {
		return
	}
	l.woken = true
	one := [8]byte{1}
	unix.Write(l.wake, one[:])
}

// isStopped reports whether Stop was called.
func (l *Loop) isStopped() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stopped
}

// runPosted runs the functions posted so far, outside the lock, and
// notes a Stop: everything posted before Stop is in the batch taken. The
// queue's storage alternates between posted and spare (loop goroutine
// only), never shared by both.
func (l *Loop) runPosted() {
	l.mu.Lock()
	fns := l.posted
	if len(fns) > 0 {
		l.posted, l.spare = l.spare[:0], nil
	}
	l.woken = false
	l.stopping = l.stopped
	l.mu.Unlock()
	if len(fns) == 0 {
		return
	}
	for i, fn := range fns {
		fn()
		fns[i] = nil
	}
	l.spare = fns[:0]
}
