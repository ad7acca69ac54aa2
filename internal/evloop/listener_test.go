//go:build linux

package evloop

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// TestTwoLoopsOneListener has two loops accept on one listening socket,
// each taking half the connections and then leaving the socket to the
// other, so both must accept; every connection is echoed.
func TestTwoLoopsOneListener(t *testing.T) {
	const conns = 40
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening: %v", err)
	}
	defer ln.Close()
	fd, err := ListenerFD(ln)
	if err != nil {
		t.Fatalf("ListenerFD: %v", err)
	}
	defer closeFD(t, fd)
	var accepted [2]atomic.Int32
	for i := range 2 {
		tl := startLoop(t)
		tl.do(func() {
			err = tl.AddListener(fd, func(cfd int, peer netip.AddrPort) {
				if !peer.Addr().Is4() || !peer.Addr().IsLoopback() {
					t.Errorf("loop %d: peer %v, want 127.0.0.1:port", i, peer)
				}
				if accepted[i].Add(1) == conns/2 {
					tl.RemoveListener(fd)
				}
				if err := tl.Add(cfd, newEcho(tl.Loop, cfd)); err != nil {
					t.Errorf("Add: %v", err)
				}
			})
		})
		if err != nil {
			t.Fatalf("AddListener: %v", err)
		}
	}
	checkEcho(t, ln.Addr().String(), conns, 1000)
	got := [2]int32{accepted[0].Load(), accepted[1].Load()}
	if want := [2]int32{conns / 2, conns / 2}; got != want {
		t.Errorf("connections accepted per loop: got %v, want %v", got, want)
	}
}

func TestListenerFD(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening: %v", err)
	}
	defer ln.Close()
	fd, err := ListenerFD(ln)
	if err != nil {
		t.Fatalf("ListenerFD: %v", err)
	}
	defer closeFD(t, fd)
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil || fl&unix.O_NONBLOCK == 0 {
		t.Errorf("F_GETFL: got %#x, %v; want O_NONBLOCK set", fl, err)
	}
	fdfl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil || fdfl&unix.FD_CLOEXEC == 0 {
		t.Errorf("F_GETFD: got %#x, %v; want FD_CLOEXEC set", fdfl, err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatalf("Getsockname: %v", err)
	}
	got := sockaddrAddrPort(sa).String()
	if want := ln.Addr().String(); got != want {
		t.Errorf("duplicate bound to %s, want %s", got, want)
	}
}

// fakeListener is a net.Listener without a file descriptor.
type fakeListener struct{ net.Listener }

func TestListenerFDNoSocket(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening: %v", err)
	}
	defer ln.Close()
	if fd, err := ListenerFD(fakeListener{ln}); err == nil {
		closeFD(t, fd)
		t.Errorf("ListenerFD of a listener without a socket: got fd %d, want an error", fd)
	}
}

// idle is a handler that ignores its events.
type idle struct{}

func (idle) Event(uint32) {}

// TestRunClosesSockets stops a loop holding a connection: the peer sees
// EOF, while the listening socket stays open and usable.
func TestRunClosesSockets(t *testing.T) {
	tl := startLoop(t)
	added := make(chan struct{}, 1)
	addr := serve(t, func(*Loop, int) Handler { added <- struct{}{}; return idle{} }, tl)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dialing: %v", err)
	}
	defer c.Close()
	<-added
	var lfd int
	tl.do(func() {
		for fd, s := range tl.slots {
			if s.listener {
				lfd = fd
			}
		}
	})
	if err := tl.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("reading from the stopped loop's peer: got %d, %v; want EOF", n, err)
	}
	if _, err := unix.FcntlInt(uintptr(lfd), unix.F_GETFD, 0); err != nil {
		t.Errorf("listener fd %d after Run: %v, want it open", lfd, err)
	}
}
