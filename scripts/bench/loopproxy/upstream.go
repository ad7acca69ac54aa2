package main

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Ways a response body ends.
const (
	bodyNone    = iota // no body (HEAD, 1xx, 204, 304, Content-Length: 0)
	bodyLength         // Content-Length bytes
	bodyChunked        // the end of a chunked body
	bodyClose          // the backend closes the connection
)

// upstream is a keep-alive connection to the backend, owned by a loop: idle
// in its pool, or serving the request of one client.
type upstream struct {
	l       *loop
	fd      int
	in, out buffer // response head from, request bytes to the backend
	readiness
	connecting, broken, reusable bool
	cl                           *client // the client served, nil when idle

	headDone bool  // the final response head went to the client
	started  bool  // some of the answer went to the client
	isHead   bool  // the request was HEAD
	mode     int   // how the body ends
	left     int64 // bodyLength: bytes to go
	chunks   chunkScanner
}

// take gives a backend connection for a new request: an idle one, or a new
// one still connecting.
func (l *loop) take() (*upstream, error) {
	if n := len(l.idle); n > 0 {
		u := l.idle[n-1]
		l.idle = l.idle[:n-1]
		return u, nil
	}
	return l.dial()
}

// dial opens a non-blocking connection to the backend.
func (l *loop) dial() (*upstream, error) {
	family := unix.AF_INET
	if _, ok := l.backend.(*unix.SockaddrInet6); ok {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening backend socket: %w", err)
	}
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	u := &upstream{l: l, fd: fd, in: newBuffer(headBuf), out: newBuffer(headBuf + rewriteSlack)}
	switch err := unix.Connect(fd, l.backend); err {
	case nil:
		u.writable = true
	case unix.EINPROGRESS:
		u.connecting = true
	default:
		unix.Close(fd)
		return nil, fmt.Errorf("connecting to backend: %w", err)
	}
	if err := l.register(fd, u); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return u, nil
}

// release ends u's part in a request: back to the pool when it can serve
// another, else closed.
func (l *loop) release(u *upstream, reusable bool) {
	u.cl = nil
	if !reusable || u.hup || len(l.idle) >= maxIdle {
		l.closeFD(u.fd)
		return
	}
	l.idle = append(l.idle, u)
}

// event records the socket's readiness and moves the client it serves on;
// an idle connection that becomes readable was closed by the backend (or
// sent what no request asked for) and is dropped.
func (u *upstream) event(ev uint32) {
	u.note(ev)
	if u.connecting && ev&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) != 0 {
		u.connected()
	}
	if u.cl != nil {
		u.cl.pump()
		return
	}
	u.dropIfClosed()
}

// connected checks the outcome of a non-blocking connect.
func (u *upstream) connected() {
	u.connecting = false
	if e, err := unix.GetsockoptInt(u.fd, unix.SOL_SOCKET, unix.SO_ERROR); err != nil || e != 0 {
		u.broken = true
	}
}

// dropIfClosed closes an idle connection that is readable (end of stream,
// an error, or unasked bytes) and takes it out of the pool.
func (u *upstream) dropIfClosed() {
	if !u.readable {
		return
	}
	var probe [1]byte
	if _, err := unix.Read(u.fd, probe[:]); err == unix.EAGAIN {
		u.readable = false
		return
	}
	for i, v := range u.l.idle {
		if v == u {
			u.l.idle = append(u.l.idle[:i], u.l.idle[i+1:]...)
			break
		}
	}
	u.l.closeFD(u.fd)
}

// startResponse readies u for the answer to a new request.
func (u *upstream) startResponse(isHead bool) {
	u.headDone, u.started, u.isHead, u.reusable = false, false, isHead, true
	u.mode, u.left, u.chunks = bodyNone, 0, chunkScanner{}
}

// bodyMode sets how the body of the final response head h ends, and
// whether the connection can serve another request after it.
func (u *upstream) bodyMode(h responseHead) {
	u.reusable = !h.close
	switch {
	case u.isHead || h.status == 204 || h.status == 304:
		u.mode = bodyNone
	case h.chunked:
		u.mode = bodyChunked
		u.reusable = u.reusable && h.contentLength < 0
	case h.otherCoding || h.contentLength < 0:
		u.mode, u.reusable = bodyClose, false
	case h.contentLength == 0:
		u.mode = bodyNone
	default:
		u.mode, u.left = bodyLength, h.contentLength
	}
}

// frame takes the body bytes p that just arrived and reports how many of
// them belong to the answer and whether it is complete; bytes after its
// end make the connection unfit for reuse.
func (u *upstream) frame(p []byte) (keep int, done bool, err error) {
	switch u.mode {
	case bodyLength:
		keep = int(min(int64(len(p)), u.left))
		u.left -= int64(keep)
		done = u.left == 0
	case bodyChunked:
		keep, done, err = u.chunks.scan(p)
	default:
		keep = len(p)
	}
	if keep < len(p) {
		u.reusable = false
	}
	return keep, done, err
}
