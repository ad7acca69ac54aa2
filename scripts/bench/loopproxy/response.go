package main

// readUp moves the answer on: the response head from the backend, parsed
// and rewritten into out, then body bytes read straight into out.
func (c *client) readUp() bool {
	u := c.up
	if !u.headDone {
		moved := c.readHead()
		if c.up == nil || !u.headDone || u.in.len() == 0 {
			return moved
		}
	}
	if u.in.len() > 0 { // body bytes that came with the head
		n := copy(c.spare(), u.in.data())
		u.in.consume(n)
		return c.takeBody(n) || n > 0
	}
	if !u.readable {
		return false
	}
	spare := c.spare()
	if len(spare) == 0 {
		return false
	}
	n, eof, err := readFD(u.fd, spare, &u.readable, u.hup)
	switch {
	case err != nil:
		c.backendFailed()
		return true
	case eof && u.mode == bodyClose:
		c.finishResponse()
		return true
	case eof:
		c.backendFailed()
		return true
	}
	return c.takeBody(n)
}

// spare is the free space of out, the waiting bytes moved to the front
// when it is short.
func (c *client) spare() []byte {
	c.out.room(len(c.out.b) / 2)
	return c.out.free()
}

// takeBody keeps the n body bytes just put after out's waiting bytes, as
// far as they belong to the answer, and ends the answer when complete.
func (c *client) takeBody(n int) bool {
	u := c.up
	keep, done, err := u.frame(c.out.free()[:n])
	if err != nil {
		c.backendFailed()
		return true
	}
	c.out.w += keep
	if done {
		c.finishResponse()
	}
	return n > 0
}

// readHead reads and parses the response head, then queues it for the
// client: 1xx heads go through and the next head is read.
func (c *client) readHead() bool {
	u := c.up
	h, err := parseResponseHead(u.in.data())
	if err != nil {
		c.l.log.Warn("proxying response", "err", err)
		c.backendFailed()
		return true
	}
	if h.headLen > 0 {
		return c.sendHead(h)
	}
	if u.in.len() == len(u.in.b) {
		c.l.log.Warn("proxying response: head larger than the buffer")
		c.backendFailed()
		return true
	}
	if !u.readable {
		return false
	}
	u.in.room(len(u.in.b))
	n, eof, err := readFD(u.fd, u.in.free(), &u.readable, u.hup)
	if err != nil || eof {
		c.backendFailed()
		return true
	}
	u.in.w += n
	return n > 0
}

// sendHead queues the response head h, at the start of the backend
// connection's buffer, for the client once out has room for it.
func (c *client) sendHead(h responseHead) bool {
	u := c.up
	if !c.out.room(h.headLen + rewriteSlack) {
		return false // the previous answer's bytes are still going out
	}
	interim := h.status >= 100 && h.status < 200
	if h.status == 101 {
		c.l.log.Warn("proxying response: backend switched protocols, unsupported")
		c.backendFailed()
		return true
	}
	if !interim {
		u.bodyMode(h)
		if u.mode == bodyClose {
			c.closeAfter = true
		}
	}
	free := c.out.free()
	head := appendResponseHead(free[:0], u.in.data()[:h.headLen], c.closeAfter && !interim)
	c.out.w += len(head)
	u.in.consume(h.headLen)
	u.started = true
	if !interim {
		u.headDone = true
		if u.mode == bodyNone {
			c.finishResponse()
		}
	}
	return true
}

// finishResponse ends the request once its whole answer is read: the
// backend connection goes back to the pool when it can serve another.
func (c *client) finishResponse() {
	u := c.up
	c.up = nil
	reusable := u.reusable && u.in.len() == 0 && u.out.len() == 0 && c.bodyLeft == 0
	if c.bodyLeft > 0 { // answered before the whole body came
		c.closeAfter = true
	}
	c.l.release(u, reusable)
}
