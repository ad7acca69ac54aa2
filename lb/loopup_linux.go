//go:build linux

package lb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/migratekit/migrate/internal/evloop"
	"github.com/migratekit/migrate/internal/h1"
)

// Ways an answer body ends.
const (
	bodyNone    = iota // no body (HEAD, 1xx, 204, 304, Content-Length: 0)
	bodyLength         // Content-Length bytes
	bodyChunked        // the end of a chunked body
	bodyClose          // the backend closes the connection
)

// upConn is a keep-alive connection of a loop to a backend: idle in the
// loop's pool, or serving the request of one client.
type upConn struct {
	w    *loopWorker
	fd   int
	b    *backend
	s    *side
	addr netip.AddrPort // where it is connected
	in   evloop.Buffer  // answer head bytes from the backend
	evloop.Readiness
	timer      evloop.Timer // connect, then response-header timeout
	idleSince  time.Time
	connecting bool
	reused     bool        // it served an earlier request
	c          *clientConn // the client served; nil when idle

	gotBytes bool  // some of the answer arrived
	dechunk  bool  // bodyChunked: the framing is taken out (an HTTP/1.0 client)
	headDone bool  // the final answer head went to the client
	started  bool  // some of the answer went to the client
	isHead   bool  // the request was HEAD
	reusable bool  // the backend keeps the connection after this answer
	mode     int   // how the body ends
	left     int64 // bodyLength: bytes to go
	chunks   h1.ChunkScanner
}

// Event records the socket's readiness and moves the client it serves on;
// an idle connection that becomes readable was closed by the backend (or
// sent what no request asked for) and is dropped.
func (u *upConn) Event(ev uint32) {
	u.Note(ev)
	if u.connecting && ev&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) != 0 {
		u.connecting = false
		u.w.ev.Cancel(&u.timer)
		if err := evloop.ConnectResult(u.fd); err != nil {
			if c := u.c; c != nil {
				c.upFailed(dialError(u.b, err))
				c.pump()
			} else {
				u.w.ev.Close(u.fd)
			}
			return
		}
	}
	if u.c != nil {
		u.c.pump()
		return
	}
	u.dropIfClosed()
}

// dropIfClosed closes an idle connection that is readable (end of stream,
// an error, or unasked bytes).
func (u *upConn) dropIfClosed() {
	if !u.Readable {
		return
	}
	var probe [1]byte
	if _, err := unix.Read(u.fd, probe[:]); err == unix.EAGAIN {
		u.Readable = false
		return
	}
	u.w.dropIdle(u)
}

// startResponse readies u for the answer to a new request.
func (u *upConn) startResponse(isHead bool) {
	u.gotBytes, u.headDone, u.started, u.isHead, u.reusable, u.dechunk = false, false, false, isHead, true, false
	u.mode, u.left, u.chunks = bodyNone, 0, h1.ChunkScanner{}
}

// timedOut ends a connect or the wait for an answer head.
func (u *upConn) timedOut() {
	c := u.c
	if c == nil {
		return
	}
	if u.connecting {
		c.upFailed(dialError(u.b, errConnectTimeout))
	} else {
		c.upFailed(&backendError{backend: u.b.label, err: errHeaderTimeout})
	}
	c.pump()
}

var (
	errConnectTimeout = &net.OpError{Op: "dial", Net: "tcp", Err: timeoutError{"connect timeout"}}
	errHeaderTimeout  = fmt.Errorf("waiting for response headers: %w", context.DeadlineExceeded)
)

// dialError is the error of a failed connect to b.
func dialError(b *backend, err error) error {
	var op *net.OpError
	if !errors.As(err, &op) {
		err = &net.OpError{Op: "dial", Net: "tcp", Addr: net.TCPAddrFromAddrPort(b.ip), Err: err}
	}
	return &backendError{backend: b.label, err: err}
}

// ioError is the error of a failed read or write on a backend connection.
func ioError(b *backend, op string, err error) error {
	return &backendError{backend: b.label, err: &net.OpError{Op: op, Net: "tcp", Addr: net.TCPAddrFromAddrPort(b.ip), Err: err}}
}

// writeUp writes waiting request bytes to the backend (stateSend); once
// all are out, the response-header timeout starts (stateAnswer).
func (c *clientConn) writeUp() bool {
	u := c.up
	if u.connecting || !u.Writable {
		return false
	}
	moved := false
	if c.sent < len(c.send) {
		n, err := evloop.WriteBytes(u.fd, c.send[c.sent:], &u.Writable)
		if err != nil {
			c.upFailed(ioError(c.b, "write", err))
			return true
		}
		c.sent += n
		moved = n > 0
	}
	if c.sent == len(c.send) && c.bodyLeft == 0 {
		c.state, moved = stateAnswer, true
		if !u.gotBytes {
			c.w.ev.Schedule(&u.timer, c.w.ev.Now().Add(c.s.headerTimeout))
		}
	}
	return moved
}

// upFailed ends the backend connection of a request that failed on it:
// a kept-alive connection the backend had closed is replaced once for a
// request that may be sent again; before any answer, the request may go
// to another backend; after, the client is closed.
func (c *clientConn) upFailed(err error) {
	u := c.up
	stale := u.reused && !u.gotBytes && staleErr(err)
	c.dropUp()
	if u.started && !u.headDone {
		// Only interim (1xx) heads went out: the final answer can still
		// be the proxy's own, but the request does not go again.
		c.fail(err)
		return
	}
	if u.started {
		// Part of the answer went out: the client sees it cut short.
		c.s.log.Warn("answer cut short", "backend", c.b.label, "err", err)
		if c.status == 0 {
			c.status = http.StatusBadGateway
		}
		c.closeAfter = true
		c.finish()
		return
	}
	if stale && c.resendOK { // a whole body (resendOK): send holds the whole request
		c.resendOK = false
		if fresh, derr := c.w.dial(c.s, c.b); derr == nil {
			c.b.inflight.Add(1)
			fresh.c, c.up, c.sent, c.state = c, fresh, 0, stateSend
			fresh.startResponse(c.isHead)
			return
		}
	}
	c.s.pool.failed(c.b, err)
	c.retryOrFail(err) // retryOK is false for a streamed body
}

// staleErr reports an error of a kept-alive connection the backend closed.
func staleErr(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// readUp moves the answer on: the head, parsed and rewritten into out,
// then body bytes read straight into out.
func (c *clientConn) readUp() bool {
	u := c.up
	if !u.headDone {
		moved := c.readHead()
		if c.up != u || !u.headDone || u.in.Len() == 0 || c.state == stateTunnel {
			return moved
		}
	}
	if u.in.Len() > 0 { // body bytes that came with the head
		n := copy(c.spare(), u.in.Data())
		u.in.Consume(n)
		return c.takeAnswer(n) || n > 0
	}
	if !u.Readable {
		return false
	}
	spare := c.spare()
	if len(spare) == 0 {
		return false
	}
	n, eof, err := evloop.ReadFD(u.fd, spare, &u.Readable, u.Hup)
	switch {
	case err != nil:
		c.upFailed(ioError(c.b, "read", err))
		return true
	case eof && u.mode == bodyClose:
		c.finishAnswer()
		return true
	case eof:
		c.upFailed(ioError(c.b, "read", io.ErrUnexpectedEOF))
		return true
	}
	return c.takeAnswer(n)
}

// spare is the free space of out, the waiting bytes moved to the front
// when it is short.
func (c *clientConn) spare() []byte {
	c.out.Room(len(c.out.B) / 2)
	return c.out.Free()
}

// takeAnswer keeps the n body bytes just put after out's waiting bytes,
// as far as they belong to the answer, and ends it when complete.
func (c *clientConn) takeAnswer(n int) bool {
	u := c.up
	keep, done, err := u.frame(c.out.Free()[:n])
	if err != nil {
		c.upFailed(&backendError{backend: c.b.label, err: err})
		return true
	}
	if c.primary != nil && keep > 0 {
		c.primary.Body(c.out.Free()[:keep])
	}
	c.out.W += keep
	if done {
		c.finishAnswer()
	}
	return n > 0
}

// readHead reads and parses the answer head, then queues it for the
// client: 1xx heads go through and the next head is read.
func (c *clientConn) readHead() bool {
	u := c.up
	if u.in.Len() > 0 {
		err := h1.ParseResponse(u.in.Data(), &c.resp)
		switch {
		case err == nil:
			return c.sendHead()
		case !errors.Is(err, h1.ErrIncomplete):
			c.upFailed(&backendError{backend: c.b.label, err: err})
			return true
		case u.in.Len() == len(u.in.B):
			c.upFailed(&backendError{backend: c.b.label, err: errors.New("answer head larger than 16 KiB")})
			return true
		}
	}
	if !u.Readable || u.connecting {
		return false
	}
	u.in.Room(len(u.in.B))
	n, eof, err := evloop.ReadFD(u.fd, u.in.Free(), &u.Readable, u.Hup)
	switch {
	case err != nil:
		c.upFailed(ioError(c.b, "read", err))
		return true
	case eof && u.in.Len() == 0:
		c.upFailed(ioError(c.b, "read", io.EOF))
		return true
	case eof:
		c.upFailed(ioError(c.b, "read", io.ErrUnexpectedEOF))
		return true
	}
	if n > 0 && !u.gotBytes {
		u.gotBytes = true
	}
	u.in.W += n
	return n > 0
}

// sendHead queues the answer head in c.resp for the client once out has
// room for it.
func (c *clientConn) sendHead() bool {
	u, h := c.up, &c.resp
	if !c.out.Room(h.HeadLen + 512 + len(c.minted)) {
		return false // the bytes before it are still going out
	}
	if h.Status == http.StatusSwitchingProtocols {
		return c.startTunnel(h)
	}
	interim := h.Status < 200
	if interim && c.http10 { // no 1xx to an HTTP/1.0 client (RFC 9110 15.2)
		u.in.Consume(h.HeadLen)
		return true
	}
	if !interim {
		u.bodyMode(h)
		if u.mode == bodyClose || c.bodyLeft > 0 {
			c.closeAfter = true // said in the head: the body is not read whole
		}
		if c.http10 && u.mode == bodyChunked {
			// No chunked answer to HTTP/1.0: the data goes, and the
			// connection's end ends it (net/http's rule, connectionField).
			u.dechunk, c.closeAfter = true, true
		}
		c.w.ev.Cancel(&u.timer)
		c.s.pool.succeeded(c.b)
		c.status = h.Status
	}
	free := c.out.Free()
	var head []byte
	if interim {
		head = c.s.appendLoopResponse(free[:0], h, "", "", false)
	} else {
		head = c.s.appendLoopResponse(free[:0], h, c.minted, c.connField(), u.dechunk)
	}
	if len(head) > len(free) {
		c.upFailed(&backendError{backend: c.b.label, err: errors.New("answer head too large")})
		return true
	}
	c.version(head)
	c.out.W += len(head)
	u.in.Consume(h.HeadLen)
	u.started = true
	if !interim {
		if c.primary != nil {
			c.primary.Header(h.Status, answerHeader(h), u.mode == bodyChunked && !u.dechunk)
		}
		u.headDone = true
		if u.mode == bodyNone {
			c.finishAnswer()
		}
	}
	return true
}

// bodyMode sets how the body of the final answer head h ends, and whether
// the connection can serve another request after it.
func (u *upConn) bodyMode(h *h1.Response) {
	u.reusable = !h.Close
	switch {
	case u.isHead || h.Status == 204 || h.Status == 304:
		u.mode = bodyNone
	case h.Chunked:
		u.mode = bodyChunked
		// With a Content-Length too, the framing is doubtful (RFC 9112
		// 6.3): the connection is closed after this answer.
		u.reusable = u.reusable && !framingDoubtful(h)
	case h.OtherCoding || h.ContentLength < 0:
		u.mode, u.reusable = bodyClose, false
	case h.ContentLength == 0:
		u.mode = bodyNone
	default:
		u.mode, u.left = bodyLength, h.ContentLength
	}
}

// frame takes the body bytes p that just arrived and reports how many of
// them go to the client, at the start of p, and whether the answer is
// complete; bytes after its end make the connection unfit for reuse.
func (u *upConn) frame(p []byte) (keep int, done bool, err error) {
	used := len(p)
	switch u.mode {
	case bodyLength:
		keep = int(min(int64(len(p)), u.left))
		u.left -= int64(keep)
		used, done = keep, u.left == 0
	case bodyChunked:
		if u.dechunk {
			used, keep, done, err = u.chunks.Decode(p)
		} else {
			keep, done, err = u.chunks.Scan(p)
			used = keep
		}
	default:
		keep = len(p)
	}
	if used < len(p) {
		u.reusable = false
	}
	return keep, done, err
}

// finishAnswer ends the request once its whole answer is read: the
// backend connection goes back to the loop's pool when it can serve
// another.
func (c *clientConn) finishAnswer() {
	u := c.up
	c.up = nil
	reusable := u.reusable && u.in.Len() == 0 && c.sent == len(c.send) && c.bodyLeft == 0
	if c.bodyLeft > 0 { // answered before the whole body came
		c.closeAfter = true
	}
	c.b.inflight.Add(-1)
	c.w.release(u, reusable)
	c.primaryServed = c.primary != nil
	c.finish()
}
