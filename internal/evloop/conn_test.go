//go:build linux

package evloop

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// connectWaiter is the handler of a connecting socket: it reports the
// outcome of the connect once the socket is writable.
type connectWaiter struct {
	l      *Loop
	fd     int
	result chan error
}

func (w *connectWaiter) Event(events uint32) {
	if events&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) == 0 || w.result == nil {
		return
	}
	w.result <- ConnectResult(w.fd)
	w.result = nil
	w.l.Close(w.fd)
}

func TestDial(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening: %v", err)
	}
	defer ln.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening: %v", err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()
	tests := []struct {
		name string
		addr string
		want error
	}{
		{name: "listening port", addr: ln.Addr().String(), want: nil},
		{name: "closed port", addr: closedAddr, want: syscall.ECONNREFUSED},
		{name: "v4-mapped address", addr: "[::ffff:127.0.0.1]:" + portOf(ln.Addr().String()), want: nil},
	}
	tl := startLoop(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			result := make(chan error, 1)
			tl.do(func() {
				fd, connecting, err := Dial(netip.MustParseAddrPort(tt.addr))
				switch {
				case err != nil:
					result <- err
				case !connecting:
					result <- ConnectResult(fd)
					unix.Close(fd)
				default:
					if err := tl.Add(fd, &connectWaiter{l: tl.Loop, fd: fd, result: result}); err != nil {
						t.Errorf("Add: %v", err)
					}
				}
			})
			if got := <-result; !errors.Is(got, tt.want) || (got == nil) != (tt.want == nil) {
				t.Errorf("connect result: got %v, want %v", got, tt.want)
			}
		})
	}
}

func portOf(hostport string) string {
	_, port, _ := net.SplitHostPort(hostport)
	return port
}

// handOff is the handler of a connection that the loop reads the first
// bytes of and then hands to a goroutine through FileConn.
type handOff struct {
	l     *Loop
	fd    int
	buf   Buffer
	conns chan net.Conn
	errs  chan error
	Readiness
}

func (h *handOff) Event(events uint32) {
	h.Note(events)
	for h.Readable && h.buf.Room(1) {
		n, _, err := ReadFD(h.fd, h.buf.Free(), &h.Readable, h.Hup)
		if err != nil {
			h.errs <- err
			h.l.Close(h.fd)
			return
		}
		h.buf.W += n
	}
	if h.buf.Room(1) { // not full yet: wait for more
		return
	}
	if err := h.l.Detach(h.fd); err != nil {
		h.errs <- err
		return
	}
	c, err := FileConn(h.fd, h.buf.Data())
	clear(h.buf.B) // FileConn copied the prefix
	if err != nil {
		h.errs <- err
		return
	}
	h.conns <- c
}

// readerOnly hides a Reader's WriteTo, so that io.Copy calls Read.
type readerOnly struct{ io.Reader }

// TestDetachFileConn reads the first bytes of connections on a loop, then
// detaches and hands them to goroutines that echo through the net.Conn:
// the clients get everything back in order, prefix first.
func TestDetachFileConn(t *testing.T) {
	tests := []struct {
		name string
		echo func(c net.Conn) error
	}{
		{name: "io.Copy (WriteTo)", echo: func(c net.Conn) error { _, err := io.Copy(c, c); return err }},
		{name: "Read", echo: func(c net.Conn) error { _, err := io.Copy(c, readerOnly{c}); return err }},
	}
	tl := startLoop(t)
	conns, errs := make(chan net.Conn, 1), make(chan error, 1)
	addr := serve(t, func(l *Loop, fd int) Handler {
		return &handOff{l: l, fd: fd, buf: NewBuffer(100), conns: conns, errs: errs}
	}, tl)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := payload(1<<20, 3)
			got := make(chan []byte, 1)
			go func() {
				b, err := roundTrip(addr, want)
				if err != nil {
					t.Errorf("round trip: %v", err)
				}
				got <- b
			}()
			var c net.Conn
			select {
			case c = <-conns:
			case err := <-errs:
				t.Fatalf("handing off: %v", err)
			}
			if _, ok := c.RemoteAddr().(*net.TCPAddr); !ok {
				t.Errorf("RemoteAddr: got %T, want *net.TCPAddr", c.RemoteAddr())
			}
			if got := c.LocalAddr().String(); got != addr {
				t.Errorf("LocalAddr: got %s, want %s", got, addr)
			}
			if err := tt.echo(c); err != nil {
				t.Errorf("echoing: %v", err)
			}
			c.Close()
			if b := <-got; !bytes.Equal(b, want) {
				t.Errorf("got %d bytes back, want the %d sent", len(b), len(want))
			}
		})
	}
}

func TestFileConnBadFD(t *testing.T) {
	r, w, err := pipe()
	if err != nil {
		t.Fatalf("pipe: %v", err)
	}
	defer unix.Close(w)
	if c, err := FileConn(r, []byte("x")); err == nil {
		c.Close()
		t.Errorf("FileConn of a pipe: got a conn, want an error")
	}
	if _, err := unix.FcntlInt(uintptr(r), unix.F_GETFD, 0); !errors.Is(err, unix.EBADF) {
		t.Errorf("fd after a failed FileConn: got %v, want EBADF (closed)", err)
	}
}

func pipe() (int, int, error) {
	var p [2]int
	err := unix.Pipe2(p[:], unix.O_CLOEXEC)
	return p[0], p[1], err
}
