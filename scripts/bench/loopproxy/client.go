package main

import "errors"

// Answers of the proxy itself; the connection is closed after each.
var (
	answer400 = []byte("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nConnection: close\r\n\r\nbad request\n")
	answer431 = []byte("HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain\r\nContent-Length: 20\r\nConnection: close\r\n\r\nrequest head too big")
	answer501 = []byte("HTTP/1.1 501 Not Implemented\r\nContent-Type: text/plain\r\nContent-Length: 39\r\nConnection: close\r\n\r\nrequest bodies with transfer-encoding\r\n")
	answer502 = []byte("HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: 23\r\nConnection: close\r\n\r\n502 backend unavailable")
)

// client is an accepted connection. It serves one request at a time: the
// head is parsed in place in in, rewritten into the backend connection's
// buffer with the body behind it, and the answer goes through out.
type client struct {
	l       *loop
	fd      int
	ip      []byte // for X-Forwarded-For
	in, out buffer
	readiness
	eof, closeAfter, closed bool
	up                      *upstream // the backend serving the current request
	bodyLeft                int64     // request body bytes still to forward
}

func newClient(l *loop, fd int, ip []byte) *client {
	return &client{l: l, fd: fd, ip: ip, in: newBuffer(headBuf), out: newBuffer(outBuf), readiness: readiness{writable: true}}
}

// event records the socket's readiness and moves the connection on.
func (c *client) event(ev uint32) {
	c.note(ev)
	c.pump()
}

// pump does whatever the connection and its backend are ready for, until
// nothing moves: a new request in, request body bytes over, request bytes
// to the backend, answer bytes from it, answer bytes out (one write for a
// head and the body that came with it).
func (c *client) pump() {
	for !c.closed {
		moved := false
		if c.up == nil {
			moved = c.startRequest()
		} else {
			moved = c.forwardBody() || moved
		}
		if c.up != nil {
			moved = c.flushUp() || moved
		}
		if c.up != nil {
			moved = c.readUp() || moved
		}
		moved = c.flushOut() || moved
		if c.closed {
			return
		}
		if c.up == nil && c.out.len() == 0 && (c.closeAfter || c.eof) {
			c.close()
			return
		}
		if !moved {
			return
		}
	}
}

// flushOut writes waiting answer bytes to the client.
func (c *client) flushOut() bool {
	if c.closed || c.out.len() == 0 || !c.writable {
		return false
	}
	moved, err := writeFD(c.fd, &c.out, &c.writable)
	if err != nil {
		c.close()
	}
	return moved
}

// startRequest parses the next request head, reading more of it when
// needed, and hands the request to a backend connection.
func (c *client) startRequest() bool {
	if c.closeAfter || c.closed {
		return false
	}
	if c.in.len() > 0 {
		h, err := parseRequestHead(c.in.data())
		switch {
		case errors.Is(err, errUnsupported):
			return c.fail(answer501)
		case err != nil:
			return c.fail(answer400)
		case h.headLen > 0:
			return c.begin(h)
		case c.in.len() == len(c.in.b):
			return c.fail(answer431)
		}
	}
	if !c.readable || c.eof {
		return false
	}
	c.in.room(len(c.in.b))
	n, eof, err := readFD(c.fd, c.in.free(), &c.readable, c.hup)
	if err != nil {
		c.close()
		return false
	}
	c.in.w += n
	c.eof = eof
	return n > 0 || eof
}

// begin sends the request of head h, at the start of in, to a backend
// connection with what is there of its body.
func (c *client) begin(h requestHead) bool {
	u, err := c.l.take()
	if err != nil {
		c.l.log.Error("proxying request", "err", err)
		return c.fail(answer502)
	}
	c.up, u.cl = u, c
	c.closeAfter = h.close
	c.bodyLeft = h.contentLength
	u.startResponse(h.isHead)
	u.out.room(h.headLen + rewriteSlack)
	free := u.out.free()
	head := appendRequestHead(free[:0], c.in.data()[:h.headLen], c.ip)
	if len(head) > len(free) { // grown out of the buffer
		c.backendFailed()
		return true
	}
	u.out.w += len(head)
	c.in.consume(h.headLen)
	return true
}

// fail queues a proxy answer and closes the connection after it.
func (c *client) fail(answer []byte) bool {
	c.closeAfter = true
	if !c.out.room(len(answer)) {
		c.close()
		return false
	}
	c.out.w += copy(c.out.free(), answer)
	return true
}

// forwardBody moves request body bytes to the backend connection's buffer:
// those already read, then more from the socket, never past the body.
func (c *client) forwardBody() bool {
	if c.bodyLeft == 0 {
		return false
	}
	u := c.up
	u.out.room(len(u.out.b))
	free := u.out.free()
	if int64(len(free)) > c.bodyLeft {
		free = free[:c.bodyLeft]
	}
	if len(free) == 0 {
		return false
	}
	var n int
	if c.in.len() > 0 {
		n = copy(free, c.in.data())
		c.in.consume(n)
	} else {
		if !c.readable {
			return false
		}
		var eof bool
		var err error
		n, eof, err = readFD(c.fd, free, &c.readable, c.hup)
		if err != nil || eof {
			c.close() // gone in the middle of its body
			return false
		}
	}
	u.out.w += n
	c.bodyLeft -= int64(n)
	return n > 0
}

// flushUp writes waiting request bytes to the backend.
func (c *client) flushUp() bool {
	u := c.up
	if u.broken {
		c.backendFailed()
		return true
	}
	if u.out.len() == 0 || !u.writable || u.connecting {
		return false
	}
	moved, err := writeFD(u.fd, &u.out, &u.writable)
	if err != nil {
		c.backendFailed()
		return true
	}
	return moved
}

// backendFailed ends the request on a broken backend connection: a 502
// when nothing of the answer went out yet, else the client is closed.
func (c *client) backendFailed() {
	u := c.up
	c.up = nil
	c.l.release(u, false)
	if u.started {
		c.close()
		return
	}
	c.fail(answer502)
}

// close closes the client and the backend connection serving it.
func (c *client) close() {
	if c.closed {
		return
	}
	c.closed = true
	if c.up != nil {
		c.l.release(c.up, false)
		c.up = nil
	}
	c.l.closeFD(c.fd)
}
