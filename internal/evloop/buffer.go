//go:build linux

package evloop

import (
	"errors"

	"golang.org/x/sys/unix"
)

// Buffer is a fixed byte buffer with a read and a write offset: bytes
// B[R:W] wait to be consumed, B[W:] is free.
type Buffer struct {
	B    []byte
	R, W int
}

// NewBuffer makes an empty buffer of n bytes.
func NewBuffer(n int) Buffer { return Buffer{B: make([]byte, n)} }

// Data is the bytes waiting to be consumed.
func (b *Buffer) Data() []byte { return b.B[b.R:b.W] }

// Len is how many bytes wait to be consumed.
func (b *Buffer) Len() int { return b.W - b.R }

// Free is the free space after the waiting bytes; advance W by what is
// written into it.
func (b *Buffer) Free() []byte { return b.B[b.W:] }

// Consume drops the first n waiting bytes; an emptied buffer starts over
// at offset 0.
func (b *Buffer) Consume(n int) {
	if b.R += n; b.R == b.W {
		b.R, b.W = 0, 0
	}
}

// Room moves the waiting bytes to the front when fewer than n bytes are
// free, and reports whether n bytes are free then.
func (b *Buffer) Room(n int) bool {
	if len(b.B)-b.W < n && b.R > 0 {
		b.W = copy(b.B, b.B[b.R:b.W])
		b.R = 0
	}
	return len(b.B)-b.W >= n
}

// Readiness is what epoll reported of an edge-triggered socket that has
// not been drained yet: readable until a read would block, writable until
// a write would; Hup once the peer has shut down or the socket failed.
type Readiness struct{ Readable, Writable, Hup bool }

// Note records the readiness of an epoll event.
func (r *Readiness) Note(events uint32) {
	if events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		r.Readable = true
	}
	if events&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		r.Hup = true
	}
	if events&unix.EPOLLOUT != 0 {
		r.Writable = true
	}
}

// ReadFD reads from the non-blocking socket fd into p. ready is the
// socket's edge-triggered readability: cleared on EAGAIN, on end of
// stream, on an error and on a short read (the socket is drained; a new
// edge will come) unless hup says the peer's end of stream is still to be
// read. EAGAIN and EINTR are no errors: n is 0 then.
func ReadFD(fd int, p []byte, ready *bool, hup bool) (n int, eof bool, err error) {
	n, err = rawRead(fd, p)
	switch {
	case errors.Is(err, unix.EAGAIN):
		*ready = false
		return 0, false, nil
	case errors.Is(err, unix.EINTR):
		return 0, false, nil
	case err != nil:
		*ready = false
		return 0, false, err
	case n == 0 && len(p) > 0:
		*ready = false
		return 0, true, nil
	}
	if n < len(p) && !hup {
		*ready = false
	}
	return n, false, nil
}

// WriteFD writes the waiting bytes of b to the non-blocking socket fd and
// consumes what was written. ready is the socket's edge-triggered
// writability, cleared when the socket takes fewer bytes than offered.
// progress reports whether bytes went.
func WriteFD(fd int, b *Buffer, ready *bool) (progress bool, err error) {
	n, err := WriteBytes(fd, b.Data(), ready)
	b.Consume(n)
	return n > 0, err
}

// WriteBytes writes p to the non-blocking socket fd and returns how many
// bytes went. ready is cleared when the socket takes fewer bytes than
// offered: on EAGAIN that is 0 bytes and no error. An interrupted write
// is tried again.
func WriteBytes(fd int, p []byte, ready *bool) (n int, err error) {
	n, err = rawWrite(fd, p)
	for errors.Is(err, unix.EINTR) {
		n, err = rawWrite(fd, p)
	}
	switch {
	case errors.Is(err, unix.EAGAIN):
		*ready = false
		return 0, nil
	case err != nil:
		*ready = false
		return 0, err
	}
	if n < len(p) {
		*ready = false
	}
	return n, nil
}
