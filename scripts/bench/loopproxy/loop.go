package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"

	"golang.org/x/sys/unix"
)

// Buffer sizes: a request or response head must fit in headBuf; outBuf
// holds answer bytes on their way to a client.
const (
	headBuf = 16 << 10
	outBuf  = 32 << 10
	maxIdle = 256 // idle backend connections kept per loop
)

// connEvents is what client and backend sockets are registered for:
// edge-triggered, so each socket is added once and never modified.
const connEvents = unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET

// handler is a socket of a loop that gets its epoll events.
type handler interface {
	event(ev uint32)
}

// slot is the handler of a file descriptor, with the generation it was
// registered under: an event of an earlier socket with the same number
// (closed earlier in the same batch of events) is ignored.
type slot struct {
	gen int32
	h   handler
}

// loop is one event loop: a locked OS thread with its own epoll instance,
// its own listening socket (SO_REUSEPORT) and its own backend pool.
type loop struct {
	ep, lfd, wake int
	backend       unix.Sockaddr
	log           *slog.Logger
	slots         []slot
	gen           int32
	idle          []*upstream
	stopping      bool
}

// newLoop makes a loop accepting on the listening socket lfd (which it then
// owns) and proxying to backend.
func newLoop(lfd int, backend unix.Sockaddr, log *slog.Logger) (*loop, error) {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("creating epoll instance: %w", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(ep)
		return nil, fmt.Errorf("creating eventfd: %w", err)
	}
	l := &loop{ep: ep, lfd: lfd, wake: wake, backend: backend, log: log}
	for _, fd := range []int{lfd, wake} {
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd), Pad: -1}
		if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			l.closeFDs()
			return nil, fmt.Errorf("registering fd %d: %w", fd, err)
		}
	}
	return l, nil
}

// run serves until wakeUp is called, on a locked OS thread, then closes
// every socket of the loop.
func (l *loop) run() error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer l.shutdown()
	events := make([]unix.EpollEvent, 256)
	for !l.stopping {
		n, err := unix.EpollWait(l.ep, events, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("waiting for events: %w", err)
		}
		for _, ev := range events[:n] {
			l.dispatch(ev)
		}
	}
	return nil
}

// dispatch hands one event to its socket.
func (l *loop) dispatch(ev unix.EpollEvent) {
	fd := int(ev.Fd)
	switch {
	case fd == l.lfd:
		l.accept()
	case fd == l.wake:
		l.stopping = true
	case fd < len(l.slots) && l.slots[fd].h != nil && l.slots[fd].gen == ev.Pad:
		l.slots[fd].h.event(ev.Events)
	}
}

// wakeUp makes the loop stop; it may be called from any goroutine.
func (l *loop) wakeUp() {
	var one = [8]byte{1}
	unix.Write(l.wake, one[:])
}

// register adds fd to the epoll instance for h.
func (l *loop) register(fd int, h handler) error {
	for fd >= len(l.slots) {
		l.slots = append(l.slots, make([]slot, len(l.slots)+64)...)
	}
	l.gen++
	ev := unix.EpollEvent{Events: connEvents, Fd: int32(fd), Pad: l.gen}
	if err := unix.EpollCtl(l.ep, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return fmt.Errorf("registering fd %d: %w", fd, err)
	}
	l.slots[fd] = slot{gen: l.gen, h: h}
	return nil
}

// closeFD forgets fd and closes it (which takes it out of epoll).
func (l *loop) closeFD(fd int) {
	l.slots[fd] = slot{}
	unix.Close(fd)
}

// accept takes the pending connections of the listening socket (which is
// level-triggered: what is left over comes back in the next wait).
func (l *loop) accept() {
	for range 64 {
		fd, sa, err := unix.Accept4(l.lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		switch {
		case errors.Is(err, unix.EAGAIN):
			return
		case errors.Is(err, unix.EINTR), errors.Is(err, unix.ECONNABORTED):
			continue
		case err != nil:
			l.log.Error("accepting connection", "err", err)
			return
		}
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		c := newClient(l, fd, []byte(sockaddrIP(sa)))
		if err := l.register(fd, c); err != nil {
			l.log.Error("accepting connection", "err", err)
			unix.Close(fd)
		}
	}
}

// sockaddrIP is the IP address of a socket address as text.
func sockaddrIP(sa unix.Sockaddr) string {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return net.IP(a.Addr[:]).String()
	case *unix.SockaddrInet6:
		return net.IP(a.Addr[:]).String()
	}
	return "unknown"
}

// shutdown closes every socket of the loop but its eventfd, which the
// server closes once no one can wake the loop any more.
func (l *loop) shutdown() {
	for fd, s := range l.slots {
		if s.h != nil {
			l.closeFD(fd)
		}
	}
	l.idle = nil
	unix.Close(l.lfd)
	unix.Close(l.ep)
}

// closeFDs closes the loop's own descriptors (on a failed setup).
func (l *loop) closeFDs() {
	unix.Close(l.lfd)
	unix.Close(l.ep)
	unix.Close(l.wake)
}
