//go:build linux

package lb

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/migratekit/migrate/internal/evloop"
	"github.com/migratekit/migrate/internal/h1"
)

// Request bodies on a loop: gathered into clientConn.body (stateBody),
// whole when it may be sent twice, else its first maxRetryBody bytes, and
// then streamed through send (stateSend), each read within the client
// body timeout.

// bodyWait starts the client body timeout's wait for the next bytes of
// the body, or ends it when the body is whole.
func (c *clientConn) bodyWait() {
	if c.bodyLeft == 0 {
		c.deadline = time.Time{}
		return
	}
	c.deadline = c.w.ev.Now().Add(c.w.srv.p.limits.bodyTimeout)
}

// takeBody moves gathered body bytes from in to body.
func (c *clientConn) takeBody() {
	if c.chunked {
		c.takeChunks(&c.body, maxRetryBody-len(c.body))
		return
	}
	n := int(min(int64(c.in.Len()), c.bodyLeft))
	c.body = append(c.body, c.in.Data()[:n]...)
	c.in.Consume(n)
	c.bodyLeft -= int64(n)
}

// readBody reads more of the request body from the client into body
// (stateBody): the whole body, then the request goes to a backend; or the
// first maxRetryBody bytes of a larger one, then the request goes and the
// rest streams (stateSend).
func (c *clientConn) readBody() bool {
	if c.chunked {
		return c.readChunks()
	}
	if !c.Readable {
		return false
	}
	want := c.bodyLeft
	if !c.whole {
		want = min(want, int64(maxRetryBody-len(c.body)))
	}
	c.body = growBody(c.body, int(want))
	p := c.body[len(c.body):cap(c.body)]
	p = p[:min(int64(len(p)), want)]
	n, ok := c.readClient(p)
	if !ok {
		return true
	}
	if n == 0 {
		return false
	}
	c.body = c.body[:len(c.body)+n]
	switch {
	case c.whole && c.bodyLeft == 0:
		c.dispatchGathered()
	case !c.whole && len(c.body) == maxRetryBody:
		c.dispatchGathered()
		c.body = nil // in send now, and never sent again
	}
	return true
}

// streamBody reads the rest of a large body into send once the bytes
// before it are out (stateSend).
func (c *clientConn) streamBody() bool {
	if c.chunked {
		return c.streamChunks()
	}
	if c.bodyLeft == 0 || !c.Readable || c.sent < len(c.send) {
		return false
	}
	if cap(c.send) > 2*loopStreamBuf {
		c.send = nil // a first MiB went out in it: not kept for a stalled client
	}
	c.send, c.sent = slices.Grow(c.send[:0], loopStreamBuf), 0
	p := c.send[:min(int64(cap(c.send)), c.bodyLeft)]
	n, ok := c.readClient(p)
	if !ok {
		return true
	}
	c.send = c.send[:n]
	return n > 0
}

// readClient reads body bytes from the client into p, at most bodyLeft,
// and restarts the body timeout; false when the client left or failed
// (the request is then ended).
func (c *clientConn) readClient(p []byte) (int, bool) {
	p = p[:min(int64(len(p)), c.bodyLeft)]
	n, eof, err := evloop.ReadFD(c.fd, p, &c.Readable, c.Hup)
	if err != nil || eof {
		c.clientBodyFailed(err)
		return 0, false
	}
	if n > 0 {
		c.bodyLeft -= int64(n)
		c.bodyWait()
	}
	return n, true
}

// dispatchGathered sends a request whose body has been read whole.
func (c *clientConn) dispatchGathered() {
	if err := h1.ParseRequest(c.head, &c.req); err != nil {
		c.fail(fmt.Errorf("parsing a request head again: %w", err)) // cannot happen
		return
	}
	c.dispatch(&c.req)
}

// clientBodyFailed ends a request whose client left in the middle of its
// body.
func (c *clientConn) clientBodyFailed(err error) {
	if err == nil {
		err = errors.New("end of stream")
	}
	c.closeAfter = true
	if c.up != nil && c.up.started {
		c.gone()
		return
	}
	c.dropUp()
	c.fail(fmt.Errorf("reading request body: %w: %w", errClientBody, err))
}
