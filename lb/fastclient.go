package lb

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/migratekit/migrate/manifest"
)

// Buffer sizes of the fasthttp data path: request and response heads up to
// these sizes (nginx's large_client_header_buffers is 4×8 KiB).
const (
	fastReadBuffer  = 16 << 10
	fastWriteBuffer = 16 << 10
	fastMaxConns    = 1 << 16 // per backend; net/http's transport has no limit either
)

// newFastClient is the fasthttp client of one backend (https when tlsCfg
// is set, HTTP/1.1 over TLS; the net/http path may speak HTTP/2): keep-alive
// connections that are dialed with the connect timeout, carry the
// response-header timeout (see headerConn) and are closed all at once when
// a drain is cut. It sends requests as they are (no default User-Agent, no
// path normalising) and streams response bodies. It sends a request a
// second time only on a fresh connection after a kept-alive one failed
// before any answer, and only a request lb may send twice (see resendable).
func newFastClient(addr string, t manifest.Timeouts, conns *connSet, tlsCfg *tls.Config, resolver *net.Resolver) *fasthttp.HostClient {
	connect := t.Connect.Or(defaultConnect)
	header := t.ResponseHeader.Or(defaultResponseHeader)
	dialer := &net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second, Resolver: resolver}
	return &fasthttp.HostClient{
		Addr:                      addr,
		IsTLS:                     tlsCfg != nil,
		TLSConfig:                 tlsCfg, // ServerName: the host of addr unless set
		NoDefaultUserAgentHeader:  true,
		DisablePathNormalizing:    true,
		StreamResponseBody:        true,
		MaxConns:                  fastMaxConns,
		MaxIdleConnDuration:       t.Idle.Or(defaultIdle),
		ReadBufferSize:            fastReadBuffer,
		WriteBufferSize:           fastWriteBuffer,
		ConnPoolStrategy:          fasthttp.LIFO,
		MaxIdemponentCallAttempts: 2,
		RetryIfErr: func(req *fasthttp.Request, attempts int, err error) (bool, bool) {
			return false, attempts == 1 && staleConn(err) && fastResendable(req)
		},
		Dial: func(addr string) (net.Conn, error) {
			c, err := dialer.Dial("tcp", addr)
			if err != nil {
				return nil, err
			}
			return conns.add(&headerConn{Conn: c, timeout: header, set: conns}), nil
		},
	}
}

// staleConn reports whether err is a kept-alive connection the backend
// closed before any answer (fasthttp returns these for reused connections).
func staleConn(err error) bool {
	return errors.Is(err, fasthttp.ErrConnectionClosed) || errors.Is(err, io.EOF)
}

// fastResendable is resendable for a fasthttp request.
func fastResendable(req *fasthttp.Request) bool {
	return idempotent(string(req.Header.Method())) ||
		len(req.Header.Peek("Idempotency-Key")) > 0 || len(req.Header.Peek("X-Idempotency-Key")) > 0
}

// headerConn is a backend connection on which the final head of each
// answer must start arriving within timeout of the request being written:
// the first read after a write sets a read deadline, and a read after the
// first byte of the final head (interim 1xx heads do not count) clears it. (fasthttp's own request deadlines would also cut
// a long body, such as an event stream; and it clears a new connection's
// deadline after the write, so the deadline is set at the read.) A small
// answer comes in one read, and the next request's deadline replaces the
// old one: one deadline change per request instead of two.
type headerConn struct {
	net.Conn
	timeout time.Duration
	wrote   bool // a request was written; its answer's head is awaited
	armed   bool // the read deadline is set
	started bool // the final head began: clear the deadline at the next read
	heads   headScan
	set     *connSet
	closed  atomic.Bool
}

// Only the goroutine using the connection calls Write and Read.

func (c *headerConn) Write(p []byte) (int, error) {
	c.wrote = c.timeout > 0
	return c.Conn.Write(p)
}

func (c *headerConn) Read(p []byte) (int, error) {
	switch {
	case c.wrote:
		c.wrote, c.armed, c.started, c.heads = false, true, false, headScan{}
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.timeout))
	case c.started:
		c.armed, c.started = false, false
		_ = c.Conn.SetReadDeadline(time.Time{})
	}
	n, err := c.Conn.Read(p)
	if c.armed && n > 0 && c.heads.final(p[:n]) {
		c.started = true
	}
	return n, err
}

// headScan follows the answer heads at the start of a backend's bytes, so
// that interim heads (1xx but 101) keep the response-header timeout
// running: net/http's and the event loops' run to the final head too.
type headScan struct {
	off  int // bytes of the current head seen
	crlf int // bytes of "\r\n\r\n" matched
	code [3]byte
}

// final reports whether the final head has begun, given the next bytes p.
func (h *headScan) final(p []byte) bool {
	for _, b := range p {
		if h.off >= 9 && h.off < 12 { // "HTTP/1.x SSS"
			h.code[h.off-9] = b
			if h.off == 11 && (h.code[0] != '1' || (h.code[1] == '0' && h.code[2] == '1')) {
				return true
			}
		}
		h.off++
		switch {
		case b == '\r' && h.crlf%2 == 0, b == '\n' && h.crlf%2 == 1:
			h.crlf++
		case b == '\r':
			h.crlf = 1
		default:
			h.crlf = 0
		}
		if h.crlf == 4 { // the end of an interim head: the next begins
			h.off, h.crlf = 0, 0
		}
	}
	return false
}

func (c *headerConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.set.remove(c)
	}
	return c.Conn.Close()
}

// connSet holds the open backend connections of the fasthttp data path, so
// that a drain cut at its deadline can close them all (fasthttp has no
// per-request cancellation).
type connSet struct {
	mu    sync.Mutex
	conns map[*headerConn]struct{}
	cut   bool
}

func (s *connSet) add(c *headerConn) net.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cut {
		_ = c.Conn.Close()
		return c
	}
	if s.conns == nil {
		s.conns = make(map[*headerConn]struct{})
	}
	s.conns[c] = struct{}{}
	return c
}

func (s *connSet) remove(c *headerConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// closeAll closes every connection, and every one dialed from now on.
func (s *connSet) closeAll() {
	s.mu.Lock()
	s.cut = true
	conns := s.conns
	s.conns = nil
	s.mu.Unlock()
	for c := range conns {
		_ = c.Conn.Close()
	}
}
