package lb

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/migratekit/migrate/internal/h1"
)

// The gate: the request rules (h1.CheckHead) on the connections net/http
// serves, so that every path answers a doubtful head the same way.
//
// net/http's server reads heads by its own rules, which differ from the
// loops' and nginx's (it serves a request with both Content-Length and
// Transfer-Encoding, and one with Transfer-Encoding on HTTP/1.0, keeping
// the connection open; it takes HTTP/1.2; its header limit has 4 KiB of
// slack), and a handler cannot see what it did (it deletes the
// Content-Length). So a gateConn sits between the socket and net/http and
// judges each head before net/http reads it, following the bodies
// (Content-Length or chunked, h1.ChunkScanner) to find the next head. An
// accepted head and its body pass unchanged. A refused head never reaches
// net/http: the gate puts in its place a request of its own that asks to
// close the connection and carries the status in gateRejectHeader with
// the connection's nonce; the router answers it (rejected) after the
// requests before it, in order, and net/http closes the connection.
//
// A request that asks to upgrade may turn the connection into a tunnel:
// the gate holds what follows it, unjudged, until the router says how it
// ended (endUpgrade after the handler; tunnel when it is hijacked).
//
// The gate also times out a request body that stalls (clientBodyTimeout
// between two reads, as nginx's client_body_timeout): the read fails with
// errBodyTimeout, which the proxy answers 408.

// gateState is what the next bytes from the client are.
type gateState uint8

const (
	gateHead    gateState = iota // a request head (or empty lines before one)
	gateBody                     // left bytes of a Content-Length body
	gateChunked                  // a chunked body
	gateHeld                     // after an upgrade request: held until it ends
	gateTunnel                   // an upgraded connection: anything
	gateDone                     // after a refused head: nothing more
)

// gateConn is a client connection of net/http behind the gate.
type gateConn struct {
	net.Conn
	limit       int           // most bytes of a head
	bodyTimeout time.Duration // between two reads of a body

	mu       sync.Mutex
	wake     *sync.Cond // a held read: the hold ended, the deadline moved, or closed
	state    gateState
	raw      []byte // read from the socket, not yet judged
	ready    []byte // judged, for net/http to read
	left     int64  // gateBody: bytes to go
	chunks   h1.ChunkScanner
	upgrade  bool      // the request whose body passes asked to upgrade
	deadline time.Time // net/http's read deadline
	connDL   time.Time // the deadline set on the socket
	closed   bool
	aborted  bool   // abortBody: the body is read no more
	rejected int    // the status of the refused head, 0 if none
	nonce    string // of the request carrying rejected
	scratch  []byte // reads of heads

	tls *tls.ConnectionState // the connection's TLS, which net/http cannot see through the gate
}

func newGateConn(c net.Conn, cfg requestLimits) *gateConn {
	g := &gateConn{Conn: c, limit: cfg.headerBytes, bodyTimeout: cfg.bodyTimeout}
	g.wake = sync.NewCond(&g.mu)
	return g
}

// Read gives net/http the judged bytes, judging more as it needs them. It
// must not be called by two goroutines at once (net/http never does).
func (g *gateConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for {
		if len(g.ready) > 0 {
			n := copy(p, g.ready)
			g.ready = g.ready[n:]
			return n, nil
		}
		switch g.state {
		case gateDone:
			return 0, io.EOF
		case gateHeld:
			if err := g.waitHeld(); err != nil {
				return 0, err
			}
			continue
		case gateTunnel:
			if len(g.raw) > 0 {
				g.ready, g.raw = g.raw, nil
				continue
			}
			return g.readSocket(p)
		}
		if len(g.raw) > 0 {
			g.judge()
			if len(g.ready) > 0 || g.state != gateHead {
				continue
			}
		}
		if g.state != gateHead {
			if n, err := g.readBody(p); n > 0 || err != nil {
				return n, err
			}
			continue
		}
		if err := g.readHead(); err != nil {
			return 0, err
		}
	}
}

// readSocket reads the socket into p, unlocked.
func (g *gateConn) readSocket(p []byte) (int, error) {
	g.mu.Unlock()
	n, err := g.Conn.Read(p)
	g.mu.Lock()
	return n, err
}

// readHead reads more of a head into raw.
func (g *gateConn) readHead() error {
	if g.scratch == nil {
		g.scratch = make([]byte, 4<<10)
	}
	if err := g.setDeadline(g.deadline); err != nil {
		return err
	}
	n, err := g.readSocket(g.scratch)
	g.raw = append(g.raw, g.scratch[:n]...)
	if n > 0 {
		return nil
	}
	return err
}

// readBody reads body bytes straight into p (no copy), at most what is
// left of the body, with the body timeout; the bytes past a chunked body's
// end go to raw as the start of the next head. It returns 0 and no error
// when what it read was not the body's (a malformed chunked body).
func (g *gateConn) readBody(p []byte) (int, error) {
	if g.state == gateBody && int64(len(p)) > g.left {
		p = p[:g.left]
	}
	dl := g.deadline
	if g.bodyTimeout > 0 {
		if t := time.Now().Add(g.bodyTimeout); dl.IsZero() || t.Before(dl) {
			dl = t
		}
	}
	if g.aborted {
		g.raw, g.state = nil, gateDone
		return 0, errBodyAborted
	}
	if err := g.setDeadline(dl); err != nil {
		return 0, err
	}
	n, err := g.readSocket(p)
	if n == 0 && g.aborted {
		g.raw, g.state = nil, gateDone
		return 0, errBodyAborted
	}
	if n == 0 {
		if err != nil && isTimeout(err) && (g.deadline.IsZero() || time.Now().Before(g.deadline)) {
			err = errBodyTimeout           // ours, not net/http's
			g.raw, g.state = nil, gateDone // net/http reads no more of it after the 408
		}
		return 0, err
	}
	k := g.passBody(p[:n])
	if g.state != gateDone {
		g.raw = append(g.raw, p[k:n]...)
	}
	return k, nil
}

// passBody moves the body state past the body bytes at the start of p and
// returns how many bytes of p are the body's.
func (g *gateConn) passBody(p []byte) int {
	if g.state == gateBody {
		n := int(min(int64(len(p)), g.left))
		if g.left -= int64(n); g.left == 0 {
			g.afterBody()
		}
		return n
	}
	n, done, err := g.chunks.Scan(p)
	switch {
	case err != nil: // malformed: net/http gets no more (an unexpected EOF)
		g.raw, g.state = nil, gateDone
	case done:
		g.afterBody()
	}
	return n
}

// afterBody readies the gate for what follows a request's body.
func (g *gateConn) afterBody() {
	if g.upgrade {
		g.state = gateHeld
		return
	}
	g.state = gateHead
}

// judge judges what raw holds: the head at its start (then the body bytes
// after it, while they are there), moving what passes to ready.
func (g *gateConn) judge() {
	for len(g.raw) > 0 {
		switch g.state {
		case gateHead:
			if !g.judgeHead() {
				return
			}
		case gateBody, gateChunked:
			raw := g.raw
			n := g.passBody(raw)
			g.ready = append(g.ready, raw[:n]...)
			if g.state == gateDone {
				return
			}
			g.raw = raw[n:]
			if g.state != gateHead {
				return
			}
		default:
			return
		}
	}
	g.raw = nil
}

// judgeHead judges the head at the start of raw; it reports whether one
// was there whole.
func (g *gateConn) judgeHead() bool {
	h, err := h1.CheckHead(g.raw, g.limit)
	if errors.Is(err, h1.ErrIncomplete) {
		g.raw = g.raw[h.Skip:] // empty lines before a head are dropped as they come
		return false
	}
	var he *h1.HeadError
	if errors.As(err, &he) {
		g.reject(he.Status)
		return false
	}
	end := h.Skip + h.Len
	g.ready = append(g.ready, g.raw[h.Skip:end]...)
	g.raw = g.raw[end:]
	g.upgrade = h.Upgrade
	switch {
	case h.Chunked:
		g.state, g.chunks = gateChunked, h1.ChunkScanner{}
	case h.Length > 0:
		g.state, g.left = gateBody, h.Length
	default:
		g.afterBody()
	}
	return true
}

// reject puts, in place of a refused head, the request that asks the
// router to answer status and net/http to close the connection.
func (g *gateConn) reject(status int) {
	g.rejected, g.nonce = status, rand.Text()
	g.ready = append(g.ready, "GET / HTTP/1.1\r\nHost: rejected.invalid\r\nConnection: close\r\n"+gateRejectHeader+": "+g.nonce+"\r\n\r\n"...)
	g.raw, g.state = nil, gateDone
}

// rejection returns the status of the gate's own request r, or 0 when r is
// a client's.
func (g *gateConn) rejection(r interface{ Get(string) string }) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.rejected != 0 && r.Get(gateRejectHeader) == g.nonce {
		return g.rejected
	}
	return 0
}

// waitHeld waits, unlocked, until the hold ends, the read deadline passes
// or the connection closes.
func (g *gateConn) waitHeld() error {
	for g.state == gateHeld {
		switch {
		case g.closed:
			return net.ErrClosed
		case !g.deadline.IsZero() && !time.Now().Before(g.deadline):
			return os.ErrDeadlineExceeded
		}
		g.waitUntil(g.deadline)
	}
	return nil
}

// waitUntil waits, unlocked, for a wake-up or until dl (zero: none).
func (g *gateConn) waitUntil(dl time.Time) {
	if !dl.IsZero() {
		t := time.AfterFunc(time.Until(dl), func() {
			g.mu.Lock()
			g.wake.Broadcast()
			g.mu.Unlock()
		})
		defer t.Stop()
	}
	g.wake.Wait()
}

// endUpgrade ends the hold after an upgrade request the handler served
// without switching protocols: what follows is judged again.
func (g *gateConn) endUpgrade() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.upgrade = false
	if g.state == gateHeld {
		g.state = gateHead
		g.wake.Broadcast()
	}
}

// tunnel ends the hold of a connection that switched protocols: what
// follows passes unjudged.
func (g *gateConn) tunnel() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state == gateHeld {
		g.state = gateTunnel
		g.wake.Broadcast()
	}
}

// setDeadline sets the socket's read deadline to dl when it differs.
func (g *gateConn) setDeadline(dl time.Time) error {
	if dl.Equal(g.connDL) {
		return nil
	}
	g.connDL = dl
	return g.Conn.SetReadDeadline(dl)
}

// SetReadDeadline is net/http's read deadline: on the socket, and on a
// held read.
func (g *gateConn) SetReadDeadline(t time.Time) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.deadline = t
	g.wake.Broadcast() // a held read looks at it again
	g.connDL = t
	return g.Conn.SetReadDeadline(t)
}

func (g *gateConn) SetDeadline(t time.Time) error {
	if err := g.SetReadDeadline(t); err != nil {
		return err
	}
	return g.Conn.SetWriteDeadline(t)
}

// Close closes the connection, lingering (shut for writing, the rest
// read and dropped on a goroutine of its own) when the client may still be
// sending: closing a socket with unread bytes makes the kernel send a
// reset, which can destroy the answer before the client has read it.
func (g *gateConn) Close() error {
	g.mu.Lock()
	g.closed = true
	g.wake.Broadcast()
	linger := g.lingers()
	g.mu.Unlock()
	if linger && g.CloseWrite() == nil {
		go lingerClose(g.Conn)
		return nil
	}
	return g.Conn.Close()
}

// CloseWrite shuts the socket for writing (net/http's lingering close).
func (g *gateConn) CloseWrite() error {
	if cw, ok := g.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// abortBody ends the read of a body in progress, and every later one: the
// backend answered before it had the whole body and the answer is out, so
// that net/http's server, which waits for that read before it ends the
// request, answers and closes (lingering, as Close does).
func (g *gateConn) abortBody() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state != gateBody && g.state != gateChunked {
		return
	}
	g.aborted = true
	g.connDL = time.Unix(1, 0)
	_ = g.Conn.SetReadDeadline(g.connDL)
}

// lingers reports whether the client may still be sending when net/http
// closes the connection: the rest of a body, or bytes after a head.
func (g *gateConn) lingers() bool {
	switch g.state {
	case gateTunnel, gateHeld:
		return false
	case gateHead:
		return len(g.raw) > 0
	}
	return true
}

// linger reads and drops what the client still sends, then closes the
// socket: at its end of stream, on an error, past lingerBytes or after
// lingerTime (the rule of every path: rules.go).
func lingerClose(c net.Conn) {
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(lingerTime))
	_, _ = io.CopyN(io.Discard, c, lingerBytes)
}

// gateListener gives net/http its connections behind the gate.
type gateListener struct {
	net.Listener
	cfg requestLimits
}

func (l gateListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newGateConn(c, l.cfg), nil
}

// gateKey is the context key of a request's gateConn.
type gateKey struct{}

// withGate is the http.Server ConnContext that lets the router reach the
// gate of a request's connection.
func withGate(ctx context.Context, c net.Conn) context.Context {
	if g, ok := c.(*gateConn); ok {
		return context.WithValue(ctx, gateKey{}, g)
	}
	return ctx
}

func gateOf(ctx context.Context) *gateConn {
	g, _ := ctx.Value(gateKey{}).(*gateConn)
	return g
}
