//go:build linux

package lb

import (
	"errors"
	"fmt"
	"net/http"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/migratekit/migrate/internal/evloop"
	"github.com/migratekit/migrate/internal/h1"
)

// Upgrades (websocket) on a loop, as httputil.ReverseProxy carries them on
// net/http's path: the request goes to the backend by the same rules as
// any other (hop-by-hop fields dropped but Connection: Upgrade and the
// Upgrade asked for, X-Forwarded-*, the side and its sticky cookie), and
// when the backend switches protocols (101 with the same Upgrade) the loop
// passes the 101 head on and from then on copies bytes both ways between
// the client's socket and the backend's (stateTunnel), parsing nothing.
// Any other answer is an ordinary one, and the connection goes on with
// HTTP.
//
// In the tunnel, each way has one buffer (client to backend: in; backend
// to client: out) and a side is read only while its buffer has room, so a
// slow reader stops its peer (backpressure). An end of stream from one
// side shuts the other for writing once its buffer is out (a half-close
// passes on, as ReverseProxy's CloseWrite); the tunnel ends when both
// ways have ended, or at once when a socket fails (a reset, a write to a
// closed peer). It has no idle timeout, as net/http's path has none for
// a hijacked connection; TCP keepalive probes find a peer that vanished
// (30 s, as the backend connections of net/http's transport). It counts
// as a request in flight until it ends, for the drain, and then as one
// request of status 101 that lasted the tunnel's life, as net/http's path
// counts it.
//
// The loop leaves to net/http the switches it does not carry (loopUpgrade):
// one with a body, on HTTP/1.0, one whose protocol name is not printable
// ASCII. For a client the app's mirror samples, the mirror is told of a
// switch as of any request (LoopMirror.BeginPrimary: package shadow skips
// it, counted as a stream); an Upgrade the loop serves as a plain request
// goes to net/http there, whose mirror sees it without the Upgrade the app
// refused.

// What a loop makes of a request's Upgrade field (loopUpgrade).
const (
	upgradeNone    = iota // none, or one the app does not allow: a plain request (Upgrade dropped as hop-by-hop)
	upgradeTunnel         // a switch the loop carries
	upgradeHandOff        // a switch for net/http to carry
)

// loopUpgrade is what the loop does with the Upgrade of request r to app a:
// a switch is asked for by an Upgrade field with "upgrade" among the
// Connection tokens (ReverseProxy's upgradeType), and allowed by the app's
// upgrades list (refuseUpgrade otherwise: then it is a plain request).
func loopUpgrade(a *App, r *h1.Request) int {
	if r.Upgrade == nil || !connectionNamed(r.Headers, []byte("upgrade")) {
		return upgradeNone
	}
	if !upgradeAllowed(a.upgrades, unsafe.String(unsafe.SliceData(r.Upgrade), len(r.Upgrade))) {
		return upgradeNone
	}
	if r.HTTP10 || r.ContentLength > 0 || r.Chunked || !printableASCII(r.Upgrade) {
		return upgradeHandOff
	}
	return upgradeTunnel
}

// printableASCII reports whether v has only printable ASCII bytes (what
// ReverseProxy accepts in an Upgrade value).
func printableASCII(v []byte) bool {
	for _, b := range v {
		if b < ' ' || b > '~' {
			return false
		}
	}
	return true
}

// tunnelEnds are the ends of a tunnel's two ways.
type tunnelEnds struct {
	upEOF      bool // the backend's end of stream was read
	upShut     bool // the backend's socket is shut for writing
	clientShut bool // the client's socket is shut for writing
}

// tunnelKeepAlive is the TCP keepalive idle time and probe interval of a
// tunnel's sockets.
const tunnelKeepAlive = 30 * time.Second

// switchAnswer checks the 101 answer head h against the request's Upgrade
// (ReverseProxy's handleUpgradeResponse): nil when the loop may tunnel.
func (c *clientConn) switchAnswer(h *h1.Response) error {
	if len(c.upgradeTo) == 0 {
		return errors.New("switching protocols without an upgrade")
	}
	var got []byte
	if connectionNamed(h.Headers, []byte("upgrade")) {
		got = firstHeader(h.Headers, "Upgrade")
	}
	switch {
	case !printableASCII(got):
		return fmt.Errorf("backend tried to switch to invalid protocol %q", got)
	case !h1.EqualFold(got, unsafe.String(unsafe.SliceData(c.upgradeTo), len(c.upgradeTo))):
		return fmt.Errorf("backend tried to switch protocol %q when %q was requested", got, c.upgradeTo)
	}
	return nil
}

// badSwitch answers 502 to a request whose backend switched protocols in
// a way the request did not ask for; the backend is not blamed (net/http's
// path neither ejects nor retries for it).
func (c *clientConn) badSwitch(err error) bool {
	c.dropUp()
	c.fail(&backendError{backend: c.b.label, err: err})
	return true
}

// startTunnel passes the backend's 101 head h on to the client and turns
// the connection into a tunnel.
func (c *clientConn) startTunnel(h *h1.Response) bool {
	u := c.up
	if err := c.switchAnswer(h); err != nil {
		return c.badSwitch(err)
	}
	if c.sent < len(c.send) {
		return c.badSwitch(errors.New("switching protocols before the request was sent"))
	}
	free := c.out.Free()
	head := c.s.appendLoopSwitch(free[:0], h, c.minted)
	if len(head) > len(free) {
		return c.badSwitch(errors.New("answer head too large"))
	}
	c.out.W += len(head)
	u.in.Consume(h.HeadLen)
	u.started, u.headDone = true, true
	c.w.ev.Cancel(&u.timer)
	c.s.pool.succeeded(c.b)
	c.status = http.StatusSwitchingProtocols
	if c.primary != nil { // a mirror that did not skip the upgrade sees the switch
		c.primary.Header(c.status, answerHeader(h), false)
		c.primary.End(true, false)
		c.primary = nil
	}
	c.state, c.deadline, c.ends = stateTunnel, time.Time{}, tunnelEnds{}
	keepAlive(c.fd)
	keepAlive(u.fd)
	return true
}

// appendLoopSwitch appends the head of the backend's 101 answer r as it
// goes to the client: every field but the framing ones (Connection and
// Upgrade are the switch's), as ReverseProxy writes it, with the proxy's
// own fields.
func (s *side) appendLoopSwitch(dst []byte, r *h1.Response, minted string) []byte {
	dst = append(dst, "HTTP/1.1"...)
	dst = append(dst, r.StatusLine[len("HTTP/1.x"):]...)
	dst = append(dst, "\r\n"...)
	for _, h := range r.Headers {
		if framing(h.Name) || (len(h.Name) == 7 && h1.EqualFold(h.Name, "Trailer")) {
			continue
		}
		dst = appendHeader(dst, h.Name, h.Value)
	}
	return s.appendOwnHeaders(dst, minted, "")
}

// keepAlive turns TCP keepalive probes on for fd (best effort).
func keepAlive(fd int) {
	secs := int(tunnelKeepAlive / time.Second)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, secs)
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, secs)
}

// tunnel moves the bytes of both ways as far as the sockets and buffers
// let them (stateTunnel), and ends the tunnel when both ways have ended.
func (c *clientConn) tunnel() bool {
	moved := c.tunnelDown()
	if c.state != stateTunnel {
		return true
	}
	moved = c.tunnelUp() || moved
	if c.state != stateTunnel {
		return true
	}
	if c.ends.upShut && c.ends.clientShut {
		c.close()
		return true
	}
	c.releaseBufs() // an idle tunnel holds no buffer (bufPool)
	if c.up.in.Len() == 0 {
		c.w.heads.put(&c.up.in)
	}
	return moved
}

// tunnelUp moves client bytes to the backend: what waits in in is
// written, then more is read while in has room; the client's end of
// stream shuts the backend's socket for writing once in is empty.
func (c *clientConn) tunnelUp() bool {
	u, moved := c.up, false
	if c.in.Len() > 0 && (u.Writable || u.Hup) {
		n, err := evloop.WriteBytes(u.fd, c.in.Data(), &u.Writable)
		if err != nil {
			return c.tunnelBroke()
		}
		c.in.Consume(n)
		moved = n > 0
	}
	if !c.eof && c.Readable && c.room(&c.in, &c.w.heads) {
		n, eof, err := evloop.ReadFD(c.fd, c.in.Free(), &c.Readable, c.Hup)
		if err != nil {
			return c.tunnelBroke()
		}
		c.in.W += n
		c.eof = eof
		moved = moved || n > 0 || eof
	}
	if c.eof && c.in.Len() == 0 && !c.ends.upShut {
		c.ends.upShut, moved = true, true
		if unix.Shutdown(u.fd, unix.SHUT_WR) != nil {
			return c.tunnelBroke()
		}
	}
	return moved
}

// tunnelDown moves backend bytes to the client: into out, which pump
// writes out, while out has room; the backend's end of stream shuts the
// client's socket for writing once out is empty.
func (c *clientConn) tunnelDown() bool {
	u, moved := c.up, false
	if c.out.Len() > 0 && c.Hup && !c.Writable {
		// A peer that shut down may have reset: a write finds out,
		// where waiting for writability would wait for ever.
		if _, err := evloop.WriteFD(c.fd, &c.out, &c.Writable); err != nil {
			return c.tunnelBroke()
		}
	}
	if u.in.Len() > 0 && c.room(&c.out, &c.w.outs) { // bytes that came with the 101 head
		n := copy(c.out.Free(), u.in.Data())
		c.out.W += n
		u.in.Consume(n)
		moved = n > 0
	}
	if !c.ends.upEOF && u.in.Len() == 0 && u.Readable && c.room(&c.out, &c.w.outs) {
		n, eof, err := evloop.ReadFD(u.fd, c.out.Free(), &u.Readable, u.Hup)
		if err != nil {
			return c.tunnelBroke()
		}
		c.out.W += n
		c.ends.upEOF = eof
		moved = moved || n > 0 || eof
	}
	if c.ends.upEOF && c.out.Len() == 0 && !c.ends.clientShut {
		c.ends.clientShut, moved = true, true
		if unix.Shutdown(c.fd, unix.SHUT_WR) != nil {
			return c.tunnelBroke()
		}
	}
	return moved
}

// room reports whether b, a buffer of one way, has room for a read (half
// of it free, its waiting bytes moved to the front), taking one from pool
// when it has none.
func (c *clientConn) room(b *evloop.Buffer, pool *bufPool) bool {
	if b.B == nil {
		*b = pool.get()
	}
	return b.Room(len(b.B) / 2)
}

// tunnelBroke ends a tunnel one of whose sockets failed: both close.
func (c *clientConn) tunnelBroke() bool {
	c.close()
	return true
}

// endTunnel closes the backend side of a tunnel and counts the request,
// as net/http's path counts it when its handler returns.
func (c *clientConn) endTunnel() {
	c.dropUp()
	c.s.tel.Request(c.status, time.Since(c.start))
	c.s, c.b, c.minted = nil, nil, ""
	c.upgradeTo = c.upgradeTo[:0]
	c.w.srv.rt.inflight.leave()
}
