//go:build linux

package lb

import (
	"fmt"

	"github.com/migratekit/migrate/internal/evloop"
	"github.com/migratekit/migrate/internal/h1"
)

// Chunked request bodies on a loop. The body goes to the backend as the
// client framed it, chunk by chunk (h1.ChunkScanner checks the framing as
// it passes, as the gate does for net/http): the head keeps its
// "Transfer-Encoding: chunked". As with a body of a known length, its
// first maxRetryBody bytes (or the whole body, when shorter) are read
// before a backend connection is taken, then the rest streams; it is never
// sent twice (net/http's path cannot replay a body of unknown length
// either). Its bytes are read into in, where the bytes after the body (a
// next request) stay.

// chunkedLeft is bodyLeft while a chunked body has not ended: more to come.
const chunkedLeft = 1 << 62

// readChunks reads more of a chunked body into body (stateBody); the
// request goes once the body has ended or maxRetryBody bytes of it are in.
func (c *clientConn) readChunks() bool {
	moved := c.takeChunks(&c.body, maxRetryBody-len(c.body))
	if c.state == stateBody && c.bodyLeft > 0 && len(c.body) < maxRetryBody {
		read, ok := c.readChunksIn()
		if !ok {
			return true
		}
		moved = read || moved
		moved = c.takeChunks(&c.body, maxRetryBody-len(c.body)) || moved
	}
	if c.state != stateBody || (c.bodyLeft > 0 && len(c.body) < maxRetryBody) {
		return moved
	}
	streams := c.bodyLeft > 0
	c.dispatchGathered()
	if streams {
		c.body = nil // in send now, and never sent again
	}
	return true
}

// streamChunks moves the rest of a chunked body to send once the bytes
// before it are out (stateSend).
func (c *clientConn) streamChunks() bool {
	if c.bodyLeft == 0 || c.sent < len(c.send) {
		return false
	}
	c.send, c.sent = c.send[:0], 0
	if cap(c.send) > 2*loopStreamBuf {
		c.send = nil // a first MiB went out in it: not kept for a stalled client
	}
	moved := false
	if c.in.Len() == 0 {
		read, ok := c.readChunksIn()
		if !ok {
			return true
		}
		moved = read
	}
	return c.takeChunks(&c.send, loopStreamBuf) || moved
}

// readChunksIn reads what the client sent of a chunked body into in;
// false when the client left or failed (the request is then ended).
func (c *clientConn) readChunksIn() (moved, ok bool) {
	if !c.Readable {
		return false, true
	}
	if c.in.B == nil {
		c.in = c.w.heads.get()
	}
	c.in.Room(len(c.in.B))
	n, eof, err := evloop.ReadFD(c.fd, c.in.Free(), &c.Readable, c.Hup)
	if err != nil || eof {
		c.clientBodyFailed(err)
		return true, false
	}
	c.in.W += n
	if n > 0 {
		c.bodyWait()
	}
	return n > 0, true
}

// takeChunks moves up to most bytes of the chunked body from in to dst
// and reports whether it moved any; at the body's end bodyLeft is 0 and
// what follows stays in in. A malformed body ends the request (400, as
// on net/http's path, where the gate cuts it).
func (c *clientConn) takeChunks(dst *[]byte, most int) bool {
	if c.bodyLeft == 0 || c.in.Len() == 0 || most <= 0 {
		return false
	}
	p := c.in.Data()
	n, done, err := c.chunks.Scan(p[:min(len(p), most)])
	if err != nil {
		c.clientBodyFailed(fmt.Errorf("chunked body: %w", err))
		return true
	}
	*dst = append(*dst, p[:n]...)
	c.in.Consume(n)
	if done {
		c.bodyLeft = 0
		c.bodyWait()
	}
	return n > 0 || done
}

// startChunked readies c for the chunked body of the request r.
func (c *clientConn) startChunked(r *h1.Request) {
	c.chunked, c.chunks = r.Chunked, h1.ChunkScanner{}
	if r.Chunked {
		c.bodyLeft = chunkedLeft
	}
}
