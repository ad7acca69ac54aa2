//go:build linux

package evloop

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// lockedBuffer is a log sink safe for the loop and the test goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestAcceptBackoff runs a loop out of file descriptors with a connection
// waiting: it logs once, stops accepting, and takes the connection once
// descriptors are free again.
func TestAcceptBackoff(t *testing.T) {
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
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("dialing: %v", err)
	}
	defer c.Close()

	var logs lockedBuffer
	l, err := NewLoop(slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatalf("NewLoop: %v", err)
	}
	tl := &testLoop{Loop: l, done: make(chan struct{})}
	go func() { defer close(tl.done); tl.err = l.Run() }()
	defer tl.stop()

	fillers := exhaustFDs(t)
	accepted := make(chan netip.AddrPort, 1)
	var paused bool
	tl.do(func() {
		err = tl.AddListener(lfd, func(fd int, peer netip.AddrPort) { unix.Close(fd); accepted <- peer })
	})
	if err != nil {
		t.Fatalf("AddListener: %v", err)
	}
	tl.do(func() { paused = tl.slots[lfd].h.(*listener).rest.Scheduled() })
	for _, fd := range fillers {
		unix.Close(fd)
	}
	if !paused {
		t.Errorf("out of descriptors: the listener is not paused")
	}
	if got, want := (<-accepted).String(), c.LocalAddr().String(); got != want {
		t.Errorf("accepted after the pause: got peer %s, want %s", got, want)
	}
	if got := strings.Count(logs.String(), "out of file descriptors"); got != 1 {
		t.Errorf("log lines about running out of descriptors: got %d, want 1:\n%s", got, logs.String())
	}
}

// exhaustFDs lowers the soft limit of open files to a few above what is
// open and opens descriptors until none is left; the limit is restored
// when the test ends. It returns the descriptors opened.
func exhaustFDs(t *testing.T) []int {
	t.Helper()
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
		t.Fatalf("getting the limit of open files: %v", err)
	}
	probe, err := unix.Dup(0)
	if err != nil {
		t.Fatalf("dup: %v", err)
	}
	unix.Close(probe)
	lim := old
	lim.Cur = uint64(probe) + 64
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("lowering the limit of open files: %v", err)
	}
	t.Cleanup(func() { unix.Setrlimit(unix.RLIMIT_NOFILE, &old) })
	var fds []int
	for {
		fd, err := unix.Dup(0)
		if errors.Is(err, unix.EMFILE) {
			return fds
		}
		if err != nil {
			t.Fatalf("dup: %v", err)
		}
		fds = append(fds, fd)
	}
}
