package main

import (
	"errors"

	"golang.org/x/sys/unix"
)

// buffer is a fixed byte buffer with a read and a write offset: bytes
// b[r:w] wait to be consumed, b[w:] is free.
type buffer struct {
	b    []byte
	r, w int
}

func newBuffer(n int) buffer { return buffer{b: make([]byte, n)} }

func (b *buffer) data() []byte { return b.b[b.r:b.w] }
func (b *buffer) len() int     { return b.w - b.r }
func (b *buffer) free() []byte { return b.b[b.w:] }

// consume drops the first n waiting bytes.
func (b *buffer) consume(n int) {
	if b.r += n; b.r == b.w {
		b.r, b.w = 0, 0
	}
}

// room moves the waiting bytes to the front when fewer than n bytes are
// free, and reports whether n bytes are free then.
func (b *buffer) room(n int) bool {
	if len(b.b)-b.w < n && b.r > 0 {
		b.w = copy(b.b, b.b[b.r:b.w])
		b.r = 0
	}
	return len(b.b)-b.w >= n
}

// readFD reads from the non-blocking socket fd into p. ready is the
// socket's edge-triggered readability: cleared on EAGAIN, on end of stream
// and on a short read (the socket is drained; a new edge will come) unless
// hup says the peer's end of stream is still to be read.
func readFD(fd int, p []byte, ready *bool, hup bool) (n int, eof bool, err error) {
	n, err = unix.Read(fd, p)
	switch {
	case errors.Is(err, unix.EAGAIN):
		*ready = false
		return 0, false, nil
	case errors.Is(err, unix.EINTR):
		return 0, false, nil
	case err != nil:
		*ready = false
		return 0, false, err
	case n == 0:
		*ready = false
		return 0, true, nil
	}
	if n < len(p) && !hup {
		*ready = false
	}
	return n, false, nil
}

// writeFD writes the waiting bytes of b to the non-blocking socket fd and
// consumes what was written. ready is the socket's edge-triggered
// writability, cleared when the socket takes fewer bytes than offered.
func writeFD(fd int, b *buffer, ready *bool) (progress bool, err error) {
	n, err := unix.Write(fd, b.data())
	switch {
	case errors.Is(err, unix.EAGAIN):
		*ready = false
		return false, nil
	case errors.Is(err, unix.EINTR):
		return true, nil
	case err != nil:
		*ready = false
		return false, err
	}
	if n < b.len() {
		*ready = false
	}
	b.consume(n)
	return n > 0, nil
}

// readiness is what epoll reported of a socket that has not been drained
// yet: readable until a read would block, writable until a write would.
type readiness struct{ readable, writable, hup bool }

// note records the readiness of an epoll event.
func (r *readiness) note(ev uint32) {
	if ev&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		r.readable = true
	}
	if ev&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		r.hup = true
	}
	if ev&unix.EPOLLOUT != 0 {
		r.writable = true
	}
}
