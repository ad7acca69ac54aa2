//go:build linux

package evloop

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Accepting: how many connections one event takes at most, and how long a
// listener rests when the process or system is out of file descriptors.
const (
	acceptBatch   = 64
	acceptBackoff = 100 * time.Millisecond
)

// listenEvents is what listening sockets are registered for:
// level-triggered (what one event leaves comes back in the next wait), and
// exclusive, so that of the loops sharing a socket the kernel wakes one.
const listenEvents = unix.EPOLLIN | unix.EPOLLEXCLUSIVE

// listener is a listening socket of a loop.
type listener struct {
	l      *Loop
	fd     int
	accept func(fd int, peer netip.AddrPort)
	rest   Timer // re-registers the socket after a backoff
}

// AddListener registers the listening socket fd level-triggered with
// EPOLLIN|EPOLLEXCLUSIVE (several loops may register the same socket; the
// kernel wakes one) and calls accept on the loop goroutine for every
// connection accepted: non-blocking, close-on-exec, TCP_NODELAY set, owned
// by accept from then on. peer is the remote address, IPv4-mapped IPv6
// addresses unmapped. Out of file descriptors, the loop logs it (once per
// loop) and stops accepting on fd for 100ms. Loop goroutine only.
func (l *Loop) AddListener(fd int, accept func(fd int, peer netip.AddrPort)) error {
	ln := &listener{l: l, fd: fd, accept: accept}
	ln.rest.F = ln.resume
	return l.register(fd, ln, listenEvents, true)
}

// RemoveListener stops accepting on fd on this loop (EPOLL_CTL_DEL); fd
// stays open. Loop goroutine only.
func (l *Loop) RemoveListener(fd int) {
	if fd < 0 || fd >= len(l.slots) || !l.slots[fd].listener {
		return
	}
	ln := l.slots[fd].h.(*listener)
	l.Cancel(&ln.rest)
	l.slots[fd] = slot{}
	unix.EpollCtl(l.ep, unix.EPOLL_CTL_DEL, fd, nil) // ENOENT while resting
}

// Event accepts up to acceptBatch pending connections.
func (ln *listener) Event(uint32) {
	for range acceptBatch {
		fd, sa, err := unix.Accept4(ln.fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		switch {
		case err == nil:
			unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
			ln.accept(fd, sockaddrAddrPort(sa))
			if ln.fd >= len(ln.l.slots) || ln.l.slots[ln.fd].h != ln {
				return // accept removed the listener
			}
		case errors.Is(err, unix.EINTR), errors.Is(err, unix.ECONNABORTED):
		case errors.Is(err, unix.EMFILE), errors.Is(err, unix.ENFILE):
			ln.pause(err)
			return
		default: // EAGAIN: drained; anything else comes back level-triggered
			if !errors.Is(err, unix.EAGAIN) {
				ln.l.log.Error("accepting connection", "fd", ln.fd, "err", err)
			}
			return
		}
	}
}

// pause takes the socket out of epoll for acceptBackoff, so that the loop
// does not spin on a connection it cannot take.
func (ln *listener) pause(err error) {
	l := ln.l
	if !l.backoff {
		l.backoff = true
		l.log.Error("accepting connection: out of file descriptors, pausing accepts",
			"fd", ln.fd, "pause", acceptBackoff, "err", err)
	}
	unix.EpollCtl(l.ep, unix.EPOLL_CTL_DEL, ln.fd, nil)
	l.Schedule(&ln.rest, l.now.Add(acceptBackoff))
}

// resume puts the socket back into epoll after a pause.
func (ln *listener) resume() {
	l := ln.l
	ev := unix.EpollEvent{Events: listenEvents, Fd: int32(ln.fd), Pad: l.slots[ln.fd].gen}
	if err := unix.EpollCtl(l.ep, unix.EPOLL_CTL_ADD, ln.fd, &ev); err != nil {
		l.log.Error("resuming accepts", "fd", ln.fd, "err", err)
	}
}

// sockaddrAddrPort is the address of a socket address, unmapped.
func sockaddrAddrPort(sa unix.Sockaddr) netip.AddrPort {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr).Unmap(), uint16(a.Port))
	}
	return netip.AddrPort{}
}

// ListenerFD returns a duplicate of ln's socket (a *net.TCPListener, or any
// listener with a SyscallConn), non-blocking and close-on-exec, for
// AddListener on several loops; the caller closes it.
func ListenerFD(ln net.Listener) (int, error) {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return -1, fmt.Errorf("duplicating listener %s: %T has no file descriptor", ln.Addr(), ln)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, fmt.Errorf("duplicating listener %s: %w", ln.Addr(), err)
	}
	fd, dupErr := -1, error(nil)
	err = rc.Control(func(s uintptr) {
		fd, dupErr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	})
	if err == nil {
		err = dupErr
	}
	if err != nil {
		return -1, fmt.Errorf("duplicating listener %s: %w", ln.Addr(), err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("duplicating listener %s: %w", ln.Addr(), err)
	}
	return fd, nil
}
