//go:build linux

package evloop

import (
	"net"
	"net/netip"
	"testing"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testLoop is a Loop running on its own goroutine for a test.
type testLoop struct {
	*Loop
	done chan struct{}
	err  error
}

// startLoop runs a new loop until the test ends.
func startLoop(t testing.TB) *testLoop {
	t.Helper()
	l, err := NewLoop(nil)
	if err != nil {
		t.Fatalf("NewLoop: %v", err)
	}
	tl := &testLoop{Loop: l, done: make(chan struct{})}
	go func() {
		defer close(tl.done)
		tl.err = l.Run()
	}()
	t.Cleanup(func() {
		if err := tl.stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return tl
}

// stop stops the loop and waits for Run to return.
func (tl *testLoop) stop() error {
	tl.Stop()
	<-tl.done
	return tl.err
}

// do runs fn on the loop goroutine and waits for it; it reports false if
// the loop stopped first.
func (tl *testLoop) do(fn func()) bool {
	ran := make(chan struct{})
	tl.Post(func() { fn(); close(ran) })
	select {
	case <-ran:
		return true
	case <-tl.done:
		return false
	}
}

// serve listens on 127.0.0.1 and has the loops accept on it, giving each
// connection to the handler made by h. It returns the listener's address.
func serve(t testing.TB, h func(l *Loop, fd int) Handler, loops ...*testLoop) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening: %v", err)
	}
	fd, err := ListenerFD(ln)
	if err != nil {
		t.Fatalf("ListenerFD: %v", err)
	}
	for _, tl := range loops {
		tl.do(func() {
			err = tl.AddListener(fd, func(cfd int, _ netip.AddrPort) {
				if err := tl.Add(cfd, h(tl.Loop, cfd)); err != nil {
					t.Errorf("Add: %v", err)
					tl.Close(cfd)
				}
			})
		})
		if err != nil {
			t.Fatalf("AddListener: %v", err)
		}
	}
	t.Cleanup(func() {
		for _, tl := range loops {
			tl.do(func() { tl.RemoveListener(fd) })
		}
		closeFD(t, fd)
		ln.Close()
	})
	return ln.Addr().String()
}

// closeFD closes a descriptor the test owns.
func closeFD(t testing.TB, fd int) {
	t.Helper()
	if err := unix.Close(fd); err != nil {
		t.Errorf("closing fd %d: %v", fd, err)
	}
}
