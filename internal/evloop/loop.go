//go:build linux

package evloop

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// connEvents is what sockets given to Add are registered for:
// edge-triggered, so each socket is added once and never modified.
const connEvents = unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET

// maxEvents is how many events one epoll_wait fetches.
const maxEvents = 256

// Handler gets the epoll events of a socket registered with Loop.Add, on
// the loop's goroutine.
type Handler interface{ Event(events uint32) }

// slot is the handler of a file descriptor, with the generation it was
// registered under: an event of an earlier socket with the same number
// (closed earlier in the same batch of events) is ignored.
type slot struct {
	h        Handler
	gen      int32
	listener bool // registered by AddListener: not closed by Run
}

// Loop is one event loop: an epoll instance served by one locked OS
// thread, with an eventfd to wake it from other goroutines. Apart from
// Stop and Post, its methods are for the loop's goroutine only.
type Loop struct {
	ep, wake int
	log      *slog.Logger
	slots    []slot
	gen      int32
	timers   timerHeap
	timerSeq uint64
	now      time.Time
	stopping bool // seen by the loop goroutine: leave after this iteration
	ran      bool
	backoff  bool     // an accept backoff was logged
	spare    []func() // the storage of the posted functions run last
	stale    int      // events dropped: of a socket closed or detached since

	mu      sync.Mutex // guards the fields below
	posted  []func()
	woken   bool // the eventfd was written since the last swap
	stopped bool // Stop was called
	closed  bool // the eventfd is closed: nothing may write it
}

// NewLoop makes a loop (epoll instance + eventfd for wake-ups). log nil
// discards the loop's logs.
func NewLoop(log *slog.Logger) (*Loop, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("creating epoll instance: %w", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(ep)
		return nil, fmt.Errorf("creating eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wake)}
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
		unix.Close(ep)
		unix.Close(wake)
		return nil, fmt.Errorf("registering eventfd: %w", err)
	}
	return &Loop{ep: ep, wake: wake, log: log, now: time.Now()}, nil
}

// Run runs the loop on the calling goroutine, locked to its OS thread,
// until Stop. On return every fd registered with Add (and not closed or
// detached since) has been closed without calling its handler, listener
// fds are left open to their owner, and the loop's epoll instance and
// eventfd are closed. Run may be called once.
func (l *Loop) Run() error {
	if l.ran {
		return errors.New("running event loop: Run called twice")
	}
	l.ran = true
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer l.shutdown()
	l.stopping = l.isStopped()
	events := make([]unix.EpollEvent, maxEvents)
	for !l.stopping {
		n, err := unix.EpollWait(l.ep, events, l.timeout())
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("waiting for events: %w", err)
		}
		l.now = time.Now()
		for _, ev := range events[:n] {
			l.dispatch(ev)
		}
		l.runTimers()
		l.runPosted()
	}
	return nil
}

// dispatch hands one event to its socket.
func (l *Loop) dispatch(ev unix.EpollEvent) {
	fd := int(ev.Fd)
	switch {
	case fd == l.wake:
		l.drainWake()
	case fd < len(l.slots) && l.slots[fd].h != nil && l.slots[fd].gen == ev.Pad:
		l.slots[fd].h.Event(ev.Events)
	default:
		l.stale++
	}
}

// timeout is how long epoll_wait may block: until the next timer, rounded
// up to the millisecond, or forever without timers. Posted functions
// need no zero timeout here: Post leaves the eventfd readable.
func (l *Loop) timeout() int {
	if len(l.timers) == 0 {
		return -1
	}
	d := l.timers[0].when - time.Now().UnixNano()
	if d <= 0 {
		return 0
	}
	ms := (d + int64(time.Millisecond) - 1) / int64(time.Millisecond)
	return int(min(ms, 1<<31-1))
}

// drainWake resets the eventfd, which is level-triggered. A Post racing
// with this read is not lost: either its write comes after the read and
// the next wait returns at once, or its function was queued before the
// read and runPosted, later in this iteration, takes it.
func (l *Loop) drainWake() {
	var buf [8]byte
	unix.Read(l.wake, buf[:])
}

// Now is the time read once per loop iteration, after epoll_wait returns:
// cheap, for timeouts. Before Run it is the time of NewLoop.
func (l *Loop) Now() time.Time { return l.now }

// Add registers the non-blocking socket fd, edge-triggered
// (EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET), for h. Loop goroutine only.
func (l *Loop) Add(fd int, h Handler) error {
	return l.register(fd, h, connEvents, false)
}

// register adds fd to the epoll instance for h under a new generation.
func (l *Loop) register(fd int, h Handler, events uint32, listener bool) error {
	if fd < 0 {
		return fmt.Errorf("registering fd %d: invalid fd", fd)
	}
	if fd >= len(l.slots) {
		l.slots = append(l.slots, make([]slot, fd+1-len(l.slots)+len(l.slots)/2+64)...)
	}
	if l.slots[fd].h != nil {
		return fmt.Errorf("registering fd %d: already registered", fd)
	}
	l.gen++
	ev := unix.EpollEvent{Events: events, Fd: int32(fd), Pad: l.gen}
	if err := unix.EpollCtl(l.ep, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return fmt.Errorf("registering fd %d: %w", fd, err)
	}
	l.slots[fd] = slot{h: h, gen: l.gen, listener: listener}
	return nil
}

// forget clears fd's slot and reports whether fd was registered by Add.
func (l *Loop) forget(fd int) bool {
	if fd < 0 || fd >= len(l.slots) || l.slots[fd].h == nil || l.slots[fd].listener {
		return false
	}
	l.slots[fd] = slot{}
	return true
}

// Close forgets fd and closes it; events already fetched for it in the
// current batch are dropped. An fd not registered with Add is left alone.
// Loop goroutine only.
func (l *Loop) Close(fd int) {
	if l.forget(fd) {
		unix.Close(fd)
	}
}

// Detach forgets fd and takes it out of epoll (EPOLL_CTL_DEL) without
// closing it: its new owner gets it. Loop goroutine only.
func (l *Loop) Detach(fd int) error {
	if !l.forget(fd) {
		return fmt.Errorf("detaching fd %d: not registered", fd)
	}
	if err := unix.EpollCtl(l.ep, unix.EPOLL_CTL_DEL, fd, nil); err != nil {
		return fmt.Errorf("detaching fd %d: %w", fd, err)
	}
	return nil
}

// shutdown closes the sockets still registered with Add, then the epoll
// instance and the eventfd.
func (l *Loop) shutdown() {
	for fd, s := range l.slots {
		if s.h != nil && !s.listener {
			unix.Close(fd)
		}
	}
	l.slots = nil
	l.timers = nil
	unix.Close(l.ep)
	l.mu.Lock()
	l.closed, l.stopped, l.posted = true, true, nil
	unix.Close(l.wake)
	l.mu.Unlock()
}
