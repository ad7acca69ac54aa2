//go:build linux

package lb

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/migratekit/migrate/internal/evloop"
)

// The end of a loop's client connection: closing, lingering, the drain
// and the timeouts.

// close closes the connection, ending a request still running.
func (c *clientConn) close() {
	if c.state == stateClosed {
		return
	}
	c.releaseHead()
	if c.state == stateTunnel {
		c.endTunnel()
	}
	if c.state.running() {
		c.dropUp()
		if c.state != stateFlush {
			if c.status == 0 {
				c.status = statusClientClosed
			}
			c.finish()
		}
		c.endRequest()
	}
	c.state = stateClosed
	c.w.forget(c)
	c.w.ev.Close(c.fd)
	c.w.heads.put(&c.in)
	c.w.outs.put(&c.out)
}

// Lingering close, as nginx's lingering_close: a connection closed while
// its client may still be sending (the rest of a body its answer did not
// wait for, or requests pipelined after a Connection: close) is shut for
// writing first, and what still comes is read and dropped until the
// client's end of stream, for up to lingerTime and lingerBytes (rules.go).
// Closing a socket with unread bytes makes the kernel send a reset, which
// can destroy the answer before the client has read it.

// closeOrLinger closes the connection, lingering when the client may still
// be sending.
func (c *clientConn) closeOrLinger() {
	if c.eof || (c.bodyLeft == 0 && c.in.Len() == 0) {
		c.close()
		return
	}
	if err := unix.Shutdown(c.fd, unix.SHUT_WR); err != nil {
		c.close()
		return
	}
	c.state, c.lingerLeft = stateLinger, lingerBytes
	c.deadline = c.w.ev.Now().Add(lingerTime)
	c.in.R, c.in.W = 0, 0
	c.linger()
}

// linger reads and drops what the client still sends, and closes the
// connection at its end of stream, on an error or past the byte limit.
func (c *clientConn) linger() {
	for c.Readable && c.state == stateLinger {
		if c.in.B == nil {
			c.in = c.w.heads.get()
		}
		n, eof, err := evloop.ReadFD(c.fd, c.in.B, &c.Readable, c.Hup)
		if c.lingerLeft -= n; err != nil || eof || c.lingerLeft <= 0 {
			c.close()
		}
	}
}

// drain closes the connection when it waits for a request, else once its
// answer is out. A request whose head has begun to arrive is read and
// answered first rather than cut while the client sends it (net/http closes
// such a connection; a client cannot tell whether a request it did not
// finish sending was served): the drain waits for it as for a request in
// flight (heldHead), up to its deadline and the head timeout.
func (c *clientConn) drain() {
	switch {
	case c.state != stateHead:
		c.closeAfter = true
	case c.in.Len() > 0:
		c.heldHead = true
		c.w.srv.rt.inflight.enter()
	case c.out.Len() == 0:
		c.close()
	default:
		c.closeAfter = true
	}
}

// releaseHead ends the drain's wait for the head of c.
func (c *clientConn) releaseHead() {
	if c.heldHead {
		c.heldHead = false
		c.w.srv.rt.inflight.leave()
	}
}

// timedOut closes a connection whose next request, or its head, did not
// come in time, and ends a request whose body stalled (the client body
// timeout) unless it is the backend that is not taking the body.
func (c *clientConn) timedOut() {
	switch {
	case !c.state.running():
		c.close()
	case c.bodyLeft == 0 || c.state == stateFlush:
		c.deadline = time.Time{}
	case c.up != nil && c.sent < len(c.send):
		c.bodyWait() // waiting for the backend, not the client
	default:
		c.clientBodyFailed(errBodyTimeout)
		c.pump()
	}
}
