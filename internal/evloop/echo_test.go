//go:build linux

package evloop

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
)

// echo is a loop's echo server for one connection: it reads into a
// buffer smaller than the payloads and writes back what it read,
// edge-triggered, and closes once the peer's end of stream is echoed.
type echo struct {
	l   *Loop
	fd  int
	buf Buffer
	eof bool
	Readiness
}

func newEcho(l *Loop, fd int) Handler {
	return &echo{l: l, fd: fd, buf: NewBuffer(16 << 10)}
}

func (e *echo) Event(events uint32) {
	e.Note(events)
	for {
		read, err := e.read()
		if err != nil {
			e.l.Close(e.fd)
			return
		}
		wrote := false
		if e.Writable && e.buf.Len() > 0 {
			if wrote, err = WriteFD(e.fd, &e.buf, &e.Writable); err != nil {
				e.l.Close(e.fd)
				return
			}
		}
		if e.eof && e.buf.Len() == 0 {
			e.l.Close(e.fd)
			return
		}
		if !read && !wrote {
			return
		}
	}
}

// read reads what fits into the buffer and reports whether it got bytes
// or the end of stream.
func (e *echo) read() (bool, error) {
	if !e.Readable || e.eof || !e.buf.Room(1) {
		return false, nil
	}
	n, eof, err := ReadFD(e.fd, e.buf.Free(), &e.Readable, e.Hup)
	e.buf.W += n
	e.eof = eof
	return n > 0 || eof, err
}

// payload is n bytes of a pattern that shows reordering.
func payload(n int, seed byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7) + seed
	}
	return p
}

// roundTrip sends p over a new connection to addr while reading the
// answer, half-closes, and returns all that came back until EOF.
func roundTrip(addr string, p []byte) ([]byte, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(p)
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		werr <- err
	}()
	got, rerr := io.ReadAll(c)
	if err := <-werr; err != nil {
		return got, fmt.Errorf("writing: %w", err)
	}
	return got, rerr
}

// checkEcho runs conns concurrent round trips of size bytes against addr.
func checkEcho(t *testing.T, addr string, conns, size int) {
	t.Helper()
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() {
			want := payload(size, byte(i))
			got, err := roundTrip(addr, want)
			if err != nil {
				t.Errorf("conn %d: %v", i, err)
				return
			}
			if !bytes.Equal(got, want) {
				t.Errorf("conn %d: got %d bytes back, want the %d sent", i, len(got), len(want))
			}
		})
	}
	wg.Wait()
}

func TestEcho(t *testing.T) {
	tests := []struct {
		name        string
		conns, size int
	}{
		{name: "one small", conns: 1, size: 10},
		{name: "many small", conns: 100, size: 300},
		{name: "larger than socket buffers", conns: 4, size: 8 << 20},
		{name: "empty", conns: 3, size: 0},
	}
	tl := startLoop(t)
	addr := serve(t, newEcho, tl)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkEcho(t, addr, tt.conns, tt.size)
		})
	}
}
