//go:build linux

package evloop

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Dial starts a non-blocking TCP connect to addr, with TCP_NODELAY on.
// connecting reports EINPROGRESS: the socket becomes writable when the
// connect is done, and ConnectResult tells how it went. On an error no
// socket is left open.
func Dial(addr netip.AddrPort) (fd int, connecting bool, err error) {
	sa, family := sockaddr(addr)
	fd, err = unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, false, fmt.Errorf("opening socket for %s: %w", addr, err)
	}
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	switch err := unix.Connect(fd, sa); err {
	case nil:
		return fd, false, nil
	case unix.EINPROGRESS:
		return fd, true, nil
	default:
		unix.Close(fd)
		return -1, false, fmt.Errorf("connecting to %s: %w", addr, err)
	}
}

// sockaddr is the socket address of addr and its address family.
func sockaddr(addr netip.AddrPort) (unix.Sockaddr, int) {
	ip := addr.Addr()
	if ip.Is4() || ip.Is4In6() {
		return &unix.SockaddrInet4{Port: int(addr.Port()), Addr: ip.Unmap().As4()}, unix.AF_INET
	}
	return &unix.SockaddrInet6{Port: int(addr.Port()), Addr: ip.As16()}, unix.AF_INET6
}

// ConnectResult is the outcome of a finished non-blocking connect
// (SO_ERROR): nil or a syscall.Errno such as ECONNREFUSED.
func ConnectResult(fd int) error {
	v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return err
	}
	if v != 0 {
		return syscall.Errno(v)
	}
	return nil
}

// FileConn turns fd, an accepted and connected TCP socket, into a net.Conn
// served by Go's netpoller, whose first reads return a copy of prefix
// before the socket's bytes: for handing a connection a loop has started
// to read over to a goroutine-based server. It takes fd: fd is closed in
// all cases (the net.Conn holds a duplicate). RemoteAddr and LocalAddr are
// *net.TCPAddr. Without a prefix the result is the *net.TCPConn itself.
func FileConn(fd int, prefix []byte) (net.Conn, error) {
	f := os.NewFile(uintptr(fd), "evloop")
	if f == nil {
		return nil, fmt.Errorf("taking over fd %d: invalid fd", fd)
	}
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("taking over fd %d: %w", fd, err)
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("taking over fd %d: a %T, not a TCP connection", fd, c)
	}
	if len(prefix) == 0 {
		return tc, nil
	}
	return &prefixConn{TCPConn: tc, prefix: append([]byte(nil), prefix...)}, nil
}

// prefixConn is a TCP connection whose first reads return prefix.
type prefixConn struct {
	*net.TCPConn
	prefix []byte
}

// Read returns the rest of the prefix, then reads the socket.
func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.prefix) == 0 {
		return c.TCPConn.Read(p)
	}
	n := copy(p, c.prefix)
	c.prefix = c.prefix[n:]
	return n, nil
}

// WriteTo writes the rest of the prefix to w, then the socket's bytes
// (the *net.TCPConn's WriteTo would skip the prefix).
func (c *prefixConn) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(c.prefix)
	c.prefix = c.prefix[n:]
	if err != nil {
		return int64(n), err
	}
	m, err := c.TCPConn.WriteTo(w)
	return int64(n) + m, err
}
