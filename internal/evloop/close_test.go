//go:build linux

package evloop

import (
	"net"
	"testing"

	"github.com/google/go-cmp/cmp"

	"golang.org/x/sys/unix"
)

// recorder is a handler that counts its events.
type recorder struct{ events int }

func (r *recorder) Event(uint32) { r.events++ }

// acceptOne dials ln and accepts the connection as a raw descriptor.
func acceptOne(t *testing.T, ln net.Listener, lfd int) (net.Conn, int) {
	t.Helper()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("dialing: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	pfd := []unix.PollFd{{Fd: int32(lfd), Events: unix.POLLIN}}
	if _, err := unix.Poll(pfd, -1); err != nil {
		t.Fatalf("polling listener: %v", err)
	}
	fd, _, err := unix.Accept4(lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
	if err != nil {
		t.Fatalf("accepting: %v", err)
	}
	return c, fd
}

// closer is a handler that, on its first event, closes the socket of
// victim and puts a new connection's socket under the same number,
// registered for fresh. Events of fresh must come in later batches.
type closer struct {
	l             *Loop
	victim, newFD int
	fresh         *freshHandler
	armed, done   bool
	inBatch       bool
}

func (c *closer) Event(uint32) {
	if !c.armed || c.done {
		return
	}
	c.done = true
	c.l.Close(c.victim)
	if err := unix.Dup3(c.newFD, c.victim, unix.O_CLOEXEC); err != nil {
		panic(err)
	}
	unix.Close(c.newFD)
	c.fresh.batch = &c.inBatch
	c.inBatch = true
	c.l.Add(c.victim, c.fresh)
	c.l.Post(func() { c.inBatch = false })
}

type freshHandler struct {
	batch  *bool
	stale  bool
	events int
}

func (f *freshHandler) Event(uint32) {
	f.events++
	if *f.batch {
		f.stale = true
	}
}

// TestCloseDropsStaleEvents closes a socket with an event waiting in the
// current batch and registers a new connection under the same number:
// the old event is dropped, not given to the new handler.
func TestCloseDropsStaleEvents(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening: %v", err)
	}
	defer ln.Close()
	lfd, err := ListenerFD(ln)
	if err != nil {
		t.Fatalf("ListenerFD: %v", err)
	}
	defer closeFD(t, lfd)
	c1, fd1 := acceptOne(t, ln, lfd)
	c2, fd2 := acceptOne(t, ln, lfd)
	_, fd3 := acceptOne(t, ln, lfd)
	tl := startLoop(t)
	cl := &closer{l: tl.Loop, victim: fd1, newFD: fd3, fresh: &freshHandler{}}
	tl.do(func() {
		if err := tl.Add(fd1, &recorder{}); err != nil {
			t.Errorf("Add: %v", err)
		}
		if err := tl.Add(fd2, cl); err != nil {
			t.Errorf("Add: %v", err)
		}
	})
	tl.do(func() {}) // the first EPOLLOUT events are in
	var staleBefore int
	release := make(chan struct{})
	blocked := make(chan struct{})
	tl.Post(func() {
		staleBefore, cl.armed = tl.stale, true
		close(blocked)
		<-release
	})
	<-blocked
	c2.Write([]byte("x")) // closer's event first in the batch,
	c1.Write([]byte("y")) // then one for the socket it closes
	waitReadable(t, fd1, fd2)
	close(release)
	type outcome struct {
		Closed, FreshGotStale, FreshGotOwn bool
		Dropped                            int
	}
	var got outcome
	tl.do(func() {})
	tl.do(func() {
		got = outcome{cl.done, cl.fresh.stale, cl.fresh.events > 0, tl.stale - staleBefore}
	})
	want := outcome{Closed: true, FreshGotStale: false, FreshGotOwn: true, Dropped: 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("closing a socket with an event pending (-want +got):\n%s", diff)
	}
}

// waitReadable blocks until every fd has bytes to read.
func waitReadable(t *testing.T, fds ...int) {
	t.Helper()
	for _, fd := range fds {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(pfd, -1); err != nil {
			t.Fatalf("polling fd %d: %v", fd, err)
		}
	}
}
