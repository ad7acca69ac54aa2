//go:build linux

package lb

import (
	"errors"
	"net/http"
	"net/netip"
	"time"
	"unsafe"

	"github.com/migratekit/migrate/internal/evloop"
	"github.com/migratekit/migrate/internal/h1"
)

// Client timeouts on a loop, as on net/http's: a kept-alive
// connection may wait this long for its next request, and a request head
// must arrive within loopHeadTimeout of its first byte.
const (
	loopIdleTimeout = 2 * time.Minute
	loopHeadTimeout = 30 * time.Second
	loopStreamBuf   = 64 << 10 // request body bytes in flight when streamed
)

// connState is the phase a client connection is in, as nginx's request
// phases: each has one handler (clientConn.step), and a connection moves
// through them in order, back to stateHead after each answer.
type connState uint8

const (
	stateHead   connState = iota // waiting for, or reading, a request head
	stateBody                    // reading a request body before a backend is taken: whole (whole), or its first maxRetryBody bytes
	stateSend                    // sending the request to a backend (the rest of a large body streams); its answer may begin
	stateAnswer                  // the request is sent whole: reading the backend's answer into out
	stateFlush                   // the answer is whole in out (or cut, or the proxy's own): writing it out
	stateTunnel                  // switched protocols: bytes copied both ways (looptunnel_linux.go)
	stateLinger                  // shut for writing, dropping what the client still sends
	stateClosed                  // closed, or handed to net/http
)

var connStateNames = [...]string{"head", "body", "send", "answer", "flush", "tunnel", "linger", "closed"}

func (s connState) String() string { return connStateNames[s] }

// running reports whether a request is being served in state s (a
// tunnel is one that has been answered).
func (s connState) running() bool { return s >= stateBody && s <= stateFlush }

// clientConn is a client connection on a loop. It serves one request at a
// time: the head is parsed in place in in; the backend's request (head and
// body) is made in send; the answer goes through out.
type clientConn struct {
	w    *loopWorker
	fd   int
	peer netip.Addr
	slot int // in w.clients
	in   evloop.Buffer
	out  evloop.Buffer
	evloop.Readiness
	state      connState
	deadline   time.Time // of the idle wait, the head, or the body; zero: none
	eof        bool      // the client's end of stream was read
	closeAfter bool      // close once the current answer is out
	req        h1.Request
	resp       h1.Response
	head       []byte // the client's head, when it must be parsed again
	body       []byte // a gathered request body
	send       []byte // the backend's request: head, then body
	sent       int    // bytes of send written
	bodyAt     int    // where the body starts in send
	lingerLeft int    // stateLinger: bytes it may still drop
	heldHead   bool   // a drain waits for the request whose head is coming

	// A request the mirror takes (LoopMirror): mirrorReq until its body
	// is gathered, then primary, told of its answer.
	mirrorReq     *http.Request
	primary       MirrorPrimary
	primaryServed bool // the whole answer went to primary
	clientLeft    bool // the client went away during the request

	// The request being proxied.
	s         *side // the side serving it (the client's, until failover)
	b         *backend
	up        *upConn
	start     time.Time
	minted    string
	isHead    bool
	bodyLeft  int64 // request body bytes still to come from the client
	http10    bool  // the request is HTTP/1.0: so is the answer (and never chunked)
	noHost    bool  // an HTTP/1.0 request without Host: the backend's URL names its host
	whole     bool  // the whole body is read before sending (at most maxRetryBody)
	chunked   bool  // the body is chunked (loopchunked_linux.go)
	chunks    h1.ChunkScanner
	upgradeTo []byte     // the protocol the request switches to (loopUpgrade), empty if none
	ends      tunnelEnds // stateTunnel: how far each way has ended
	retryOK   bool       // may go to another backend once
	resendOK  bool       // may go again on a fresh connection once
	status    int        // of the answer, for telemetry
}

func newClientConn(w *loopWorker, fd int, peer netip.AddrPort) *clientConn {
	return &clientConn{
		w: w, fd: fd, peer: peer.Addr().Unmap(), slot: -1,
		Readiness: evloop.Readiness{Writable: true},
	}
}

// Event records the socket's readiness and moves the connection on.
func (c *clientConn) Event(ev uint32) {
	c.Note(ev)
	c.pump()
}

// pump does whatever the connection and its backend connection are ready
// for until nothing moves.
func (c *clientConn) pump() {
	if c.state == stateLinger {
		c.linger()
		return
	}
	for c.state != stateClosed {
		moved := c.step()
		if c.state == stateClosed {
			return
		}
		moved = c.flushOut() || moved
		if c.state == stateClosed {
			return
		}
		if c.state == stateHead && c.out.Len() == 0 && (c.closeAfter || c.eof) {
			c.closeOrLinger()
			return
		}
		if !moved {
			return
		}
	}
}

// step runs the handler of the connection's phase once and reports
// whether anything moved.
func (c *clientConn) step() bool {
	switch c.state {
	case stateHead:
		return c.out.Len() == 0 && c.nextRequest()
	case stateBody:
		return c.readBody()
	case stateSend:
		moved := c.streamBody()
		if c.state == stateSend {
			moved = c.writeUp() || moved
		}
		return c.proxying() || moved
	case stateAnswer:
		return c.proxying()
	case stateFlush:
		if c.out.Len() > 0 {
			return false
		}
		c.endRequest()
		return true
	case stateTunnel:
		return c.tunnel()
	}
	return false
}

// proxying moves the answer of the request's backend on and notices a
// client that leaves meanwhile (stateSend, stateAnswer).
func (c *clientConn) proxying() bool {
	moved := false
	if c.up != nil {
		moved = c.readUp()
	}
	if c.state == stateSend || c.state == stateAnswer {
		moved = c.watchGone() || moved
	}
	return moved
}

// flushOut writes waiting answer bytes to the client.
func (c *clientConn) flushOut() bool {
	if c.out.Len() == 0 || !c.Writable {
		return false
	}
	moved, err := evloop.WriteFD(c.fd, &c.out, &c.Writable)
	if err != nil {
		c.gone()
		return true
	}
	return moved
}

// waitHead starts the wait for the next request.
func (c *clientConn) waitHead() {
	if c.in.Len() > 0 {
		c.deadline = c.w.ev.Now().Add(loopHeadTimeout)
	} else {
		c.deadline = c.w.ev.Now().Add(loopIdleTimeout)
	}
}

// nextRequest parses the next request head, reading more of it when
// needed, and starts it; a head the loop does not take (one over the
// header limit included) hands the connection to the listener's net/http
// server, whose gate answers it by the rules.
func (c *clientConn) nextRequest() bool {
	if c.closeAfter {
		return false
	}
	if c.in.Len() > 0 {
		err := h1.ParseRequest(c.in.Data(), &c.req)
		if errors.Is(err, h1.ErrUnsupported) {
			err = c.bareLF(err)
		}
		limit := c.w.srv.p.limits.headerBytes
		switch {
		case err == nil && c.req.HeadLen <= limit:
			return c.begin()
		case err == nil || !errors.Is(err, h1.ErrIncomplete) || c.in.Len() == len(c.in.B) || c.in.Len() > limit:
			c.handOff()
			return true
		}
	}
	if !c.Readable || c.eof {
		return false
	}
	if c.in.B == nil {
		c.in = c.w.heads.get()
	}
	c.in.Room(len(c.in.B))
	was := c.in.Len()
	n, eof, err := evloop.ReadFD(c.fd, c.in.Free(), &c.Readable, c.Hup)
	if err != nil {
		c.close()
		return false
	}
	c.in.W += n
	c.eof = eof
	if n > 0 && c.w.srv.p.paths.test.headRead != nil {
		c.w.srv.p.paths.test.headRead()
	}
	if was == 0 && n > 0 {
		c.deadline = c.w.ev.Now().Add(loopHeadTimeout)
	}
	return n > 0 || eof
}

// bareLF rewrites a head whose lines end in a bare LF to end in CRLF (as
// nginx and net/http, the loop reads them as line ends) and parses it
// again, so that the loop serves it; err is the first parse's error.
func (c *clientConn) bareLF(err error) error {
	n, state := h1.CRLFHead(c.in.B[c.in.R:], c.in.Len())
	switch state {
	case h1.LFRewritten:
		c.in.W = c.in.R + n
		return h1.ParseRequest(c.in.Data(), &c.req)
	case h1.LFIncomplete:
		return h1.ErrIncomplete
	}
	return err
}

// handOff passes the connection, with the bytes read of it, to the
// listener's net/http server.
func (c *clientConn) handOff() {
	c.state = stateClosed
	c.releaseHead() // the server it goes to drains on its own
	c.w.forget(c)
	if err := c.w.ev.Detach(c.fd); err != nil {
		c.w.srv.log.Error("handing a connection over", "err", err)
		evloopClose(c.fd)
		return
	}
	if c.w.srv.p.paths.test.handedOff != nil {
		c.w.srv.p.paths.test.handedOff()
	}
	conn, err := evloop.FileConn(c.fd, c.in.Data()) // copies them
	c.in.R, c.in.W = 0, 0
	c.releaseBufs()
	if err != nil {
		c.w.srv.log.Error("handing a connection over", "err", err)
		return
	}
	c.w.srv.handOff(conn)
}

// begin starts the request parsed in c.req: routing, the split, then the
// body (gathered when small enough to send twice) and the backend.
func (c *clientConn) begin() bool {
	r := &c.req
	c.http10 = r.HTTP10
	table := c.w.srv.rt.table.Load()
	a, code, body := table.admit(unsafe.String(unsafe.SliceData(r.Method), len(r.Method)), unsafe.String(unsafe.SliceData(r.Host), len(r.Host)))
	switch {
	case a != nil && !c.w.serves(table, a):
		c.handOff()
		return true
	case a == nil || (a.cors != nil && loopPreflight(r)):
		return c.answerOwn(a, code, body)
	}
	upgrade := loopUpgrade(a, r)
	if upgrade == upgradeHandOff {
		c.handOff()
		return true
	}
	s, minted, mintedKey := a.pickLoop(r, c.peer)
	var mirrorReq *http.Request
	if a.mirror != nil && !a.mirrorLeaves(r, c.peer, s, mintedKey) {
		if _, ok := a.mirror.(LoopMirror); !ok || r.ContentLength > maxRetryBody || r.Chunked || (r.Upgrade != nil && upgrade != upgradeTunnel) {
			c.handOff() // to Serve, through net/http
			return true
		}
		mirrorReq = loopHTTPRequest(r, c.peer)
	}
	c.w.srv.rt.inflight.enter()
	c.releaseHead() // the request counts now
	if c.out.B == nil {
		c.out = c.w.outs.get()
	}
	c.deadline = time.Time{}
	c.start = time.Now()
	c.s, c.b, c.minted, c.status = s, nil, minted, 0
	c.mirrorReq = mirrorReq
	c.upgradeTo = c.upgradeTo[:0]
	if upgrade == upgradeTunnel {
		c.upgradeTo = append(c.upgradeTo, r.Upgrade...)
	}
	c.isHead = string(r.Method) == http.MethodHead
	c.closeAfter = c.closeAfter || r.Close || c.w.draining
	c.resendOK = loopResendable(r)
	c.bodyLeft = r.ContentLength
	c.startChunked(r)
	c.whole = c.bodyLeft <= maxRetryBody
	if !c.whole {
		// A body over maxRetryBody: its first maxRetryBody bytes are read
		// before a backend connection is taken for it, as nginx buffers
		// (a client may declare a body and stall), then the rest streams.
		c.resendOK = false
	}
	headLen := r.HeadLen
	head := c.in.Data()[:headLen] // stays in place until the next read
	c.body = c.body[:0]
	c.noHost = r.Host == nil
	if c.bodyLeft > 0 || !a.sides[0].pool.sameBase() || !a.sides[1].pool.sameBase() || c.noHost {
		// The head is needed again: after the body, or for a retry on a
		// backend with another base path (or another Host, for an
		// HTTP/1.0 request without one).
		c.head = append(c.head[:0], head...)
	}
	c.in.Consume(headLen)
	c.state = stateBody
	if r.Continue && c.bodyLeft > 0 {
		c.out.Room(len(c.out.B)) // empty: all of it
		c.out.W += copy(c.out.Free(), "HTTP/1.1 100 Continue\r\n\r\n")
	}
	c.takeBody()
	c.bodyWait()
	if c.state == stateBody && c.bodyLeft == 0 {
		c.dispatch(r)
	}
	return true
}

// dispatch sends the request r to a backend of its side (or the other
// side, on failover).
func (c *clientConn) dispatch(r *h1.Request) {
	if c.mirrorReq != nil { // the body is whole: the mirror can start
		side := c.s.name
		if sv := c.s.app.servingSide(c.s); sv != nil {
			side = sv.name // the side mirrorLeaves asked about
		}
		c.primary = c.s.app.mirror.(LoopMirror).BeginPrimary(c.mirrorReq, side, c.body)
		c.mirrorReq = nil
	}
	serving := c.s.app.serving(c.s)
	if serving == nil {
		c.s.tel.ProxyError(reasonUnavailable)
		c.answer(http.StatusBadGateway, c.s.unavailable)
		return
	}
	c.s = serving
	b := serving.pool.pick(nil)
	if b == nil {
		c.fail(errNoBackend)
		return
	}
	c.b = b
	c.retryOK = serving.retries(unsafe.String(unsafe.SliceData(r.Method), len(r.Method)), c.whole)
	c.send = serving.appendLoopRequest(c.send[:0], r, b, c.peer, c.upgradeTo)
	c.bodyAt = len(c.send)
	c.send = append(c.send, c.body...)
	c.connect()
}

// connect sends the request to c.b on a pooled or new connection.
func (c *clientConn) connect() {
	u, err := c.w.take(c.s, c.b)
	if err != nil {
		c.s.pool.failed(c.b, err)
		c.retryOrFail(err)
		return
	}
	c.b.inflight.Add(1)
	u.c, c.up, c.sent, c.state = c, u, 0, stateSend
	u.startResponse(c.isHead)
}

// watchGone reads ahead on the client while its request is proxied: an
// end of stream means the client left (counted as canceled, as on the
// net/http path); bytes of a next request wait in in.
func (c *clientConn) watchGone() bool {
	if c.bodyLeft > 0 || !c.Readable || c.eof || !c.in.Room(1) {
		return false
	}
	n, eof, err := evloop.ReadFD(c.fd, c.in.Free(), &c.Readable, c.Hup)
	if err != nil || eof {
		c.eof = true
		c.gone()
		return true
	}
	c.in.W += n
	return n > 0
}

// gone ends the connection of a client that left (or could not be
// written to) while its request was being proxied.
func (c *clientConn) gone() {
	c.clientLeft = true
	if c.state.running() && c.state != stateFlush {
		if c.up == nil || !c.up.headDone { // no final head went out
			c.s.tel.ProxyError(reasonCanceled)
			c.status = statusClientClosed
		}
		c.dropUp()
	}
	c.close()
}

// dropUp closes the backend connection of the request, if any.
func (c *clientConn) dropUp() {
	if u := c.up; u != nil {
		c.up = nil
		c.b.inflight.Add(-1)
		c.w.release(u, false)
	}
}

// connField is the Connection header of the answer (connectionField).
func (c *clientConn) connField() string { return connectionField(c.http10, c.closeAfter) }

// version makes the answer head at the start of head an HTTP/1.0 one for
// an HTTP/1.0 request, as net/http's server answers (its heads start
// "HTTP/1.1").
func (c *clientConn) version(head []byte) {
	if c.http10 {
		head[len("HTTP/1.")] = '0'
	}
}

// answer queues an answer of the proxy's own and ends the request.
func (c *clientConn) answer(code int, body string) {
	if c.bodyLeft > 0 {
		c.closeAfter = true // the rest of the body is not read
	}
	if c.primary != nil { // the proxy's own answer is the primary's
		c.primary.Header(code, ownHeader(), false)
		c.primary.Body([]byte(body))
		c.primaryServed = true
	}
	c.out.Room(len(c.out.B))
	buf := appendLoopError(c.out.Free()[:0], c.s, code, body, c.minted, c.connField())
	if len(buf) > len(c.out.Free()) {
		c.close() // cannot happen: the answers are short
		return
	}
	c.version(buf)
	c.out.W += len(buf)
	c.status = code
	c.finish()
}

// fail answers a request that could not be proxied (handleError).
func (c *clientConn) fail(err error) {
	code, body := c.s.failed(err, false)
	c.answer(code, body)
}

// retryOrFail tries another backend of the side for a request whose
// backend failed before any answer, once, when the request allows it.
func (c *clientConn) retryOrFail(err error) {
	if c.retryOK && retryableErr(err) {
		if next := c.s.pool.pick(c.b); next != nil {
			c.retryOK = false
			c.s.tel.Retry()
			c.s.log.Debug("retrying on another backend", "failed", c.b.label, "backend", next.label, "err", err)
			if next.basePath != c.b.basePath || next.baseQuery != c.b.baseQuery || (c.noHost && next.url.Host != c.b.url.Host) {
				if perr := h1.ParseRequest(c.head, &c.req); perr == nil {
					c.send = c.s.appendLoopRequest(c.send[:0], &c.req, next, c.peer, c.upgradeTo)
					c.bodyAt = len(c.send)
					c.send = append(c.send, c.body...)
				}
			}
			c.b = next
			c.connect()
			return
		}
	}
	c.fail(err)
}

// finish counts the request, whose answer is whole in out (or cut).
func (c *clientConn) finish() {
	c.state = stateFlush
	c.s.tel.Request(c.status, time.Since(c.start))
}

// endRequest ends the request once its answer is out and readies the
// connection for the next one.
func (c *clientConn) endRequest() {
	if c.primary != nil {
		c.primary.End(c.primaryServed, c.clientLeft)
		c.primary, c.primaryServed = nil, false
	}
	c.mirrorReq = nil
	c.state = stateHead
	c.s, c.b, c.minted = nil, nil, ""
	if cap(c.body) > loopStreamBuf {
		c.body = nil
	}
	if cap(c.send) > 2*loopStreamBuf {
		c.send = nil
	}
	c.w.srv.rt.inflight.leave()
	c.waitHead()
	c.releaseBufs()
}

// releaseBufs gives the connection's empty buffers back to the loop.
func (c *clientConn) releaseBufs() {
	if c.in.Len() == 0 {
		c.w.heads.put(&c.in)
	}
	if c.out.Len() == 0 {
		c.w.outs.put(&c.out)
	}
}
