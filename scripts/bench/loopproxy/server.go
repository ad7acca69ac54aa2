package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"
)

// server is the set of event loops, each with its own listening socket on
// the same address (SO_REUSEPORT: the kernel spreads new connections over
// them, as nginx's reuseport does).
type server struct {
	loops []*loop
	addr  string // the address listened on, with the port chosen
}

// newServer listens on listen with n sockets and readies n loops proxying
// to backend (host:port, resolved once).
func newServer(listen, backend string, n int, log *slog.Logger) (*server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	bsa, err := resolve(backend)
	if err != nil {
		return nil, fmt.Errorf("resolving -backend %q: %w", backend, err)
	}
	lsa, err := resolve(listen)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", listen, err)
	}
	s := &server{}
	for i := range n {
		fd, bound, err := listenReusePort(lsa)
		if err != nil {
			s.closeLoops()
			return nil, fmt.Errorf("listening on %s: %w", listen, err)
		}
		if i == 0 { // the others take the port the first one got
			lsa, s.addr = bound, sockaddrString(bound)
		}
		l, err := newLoop(fd, bsa, log.With("loop", i))
		if err != nil {
			s.closeLoops()
			return nil, err
		}
		s.loops = append(s.loops, l)
	}
	return s, nil
}

// run serves until ctx is done or a loop fails, then closes everything.
func (s *server) run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, l := range s.loops {
		g.Go(l.run)
	}
	g.Go(func() error {
		<-gctx.Done()
		for _, l := range s.loops {
			l.wakeUp()
		}
		return nil
	})
	err := g.Wait()
	for _, l := range s.loops {
		unix.Close(l.wake)
	}
	return err
}

// closeLoops closes the loops made so far (on a failed setup).
func (s *server) closeLoops() {
	for _, l := range s.loops {
		l.closeFDs()
	}
}

// resolve turns host:port into a socket address.
func resolve(hostport string) (unix.Sockaddr, error) {
	a, err := net.ResolveTCPAddr("tcp", hostport)
	if err != nil {
		return nil, err
	}
	if ip4 := a.IP.To4(); ip4 != nil || a.IP == nil {
		sa := &unix.SockaddrInet4{Port: a.Port}
		copy(sa.Addr[:], ip4)
		return sa, nil
	}
	sa := &unix.SockaddrInet6{Port: a.Port}
	copy(sa.Addr[:], a.IP.To16())
	return sa, nil
}

// listenReusePort opens a non-blocking listening socket on sa with
// SO_REUSEPORT and returns it with the address it is bound to.
func listenReusePort(sa unix.Sockaddr) (int, unix.Sockaddr, error) {
	family := unix.AF_INET
	if _, ok := sa.(*unix.SockaddrInet6); ok {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, nil, err
	}
	bound, err := bindListen(fd, sa)
	if err != nil {
		unix.Close(fd)
		return -1, nil, err
	}
	return fd, bound, nil
}

func bindListen(fd int, sa unix.Sockaddr) (unix.Sockaddr, error) {
	for _, opt := range []int{unix.SO_REUSEADDR, unix.SO_REUSEPORT} {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt, 1); err != nil {
			return nil, err
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		return nil, err
	}
	if err := unix.Listen(fd, 4096); err != nil {
		return nil, err
	}
	return unix.Getsockname(fd)
}

// sockaddrString is host:port of a socket address.
func sockaddrString(sa unix.Sockaddr) string {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))
	case *unix.SockaddrInet6:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))
	}
	return ""
}
