package lb

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"time"
)

// tlsHandshakeTimeout bounds a client's TLS handshake on a TLS listener.
const tlsHandshakeTimeout = 10 * time.Second

// tlsGateListener is the listener net/http serves a TLS listener from: it
// does each client's handshake itself (on a goroutine of its own, bounded
// by tlsHandshakeTimeout), so that a connection that speaks HTTP/1.x goes
// behind the gate (httpgate.go), after TLS, and one that negotiated HTTP/2
// reaches net/http as the *tls.Conn it serves HTTP/2 on (HTTP/2 has no
// such framing to judge: net/http's HTTP/2 server refuses
// Transfer-Encoding and enforces the header limit itself).
type tlsGateListener struct {
	ln     net.Listener
	cfg    *tls.Config // with "h2" and "http/1.1" in NextProtos
	gate   requestLimits
	conns  chan net.Conn
	ctx    context.Context // done when closed
	cancel context.CancelFunc
	wg     sync.WaitGroup // the accepting goroutine and the handshakes
	mu     sync.Mutex
	err    error         // why accepting stopped
	failed chan struct{} // closed when it did
	once   sync.Once
}

func newTLSGateListener(ln net.Listener, cfg *tls.Config, gate requestLimits) *tlsGateListener {
	ctx, cancel := context.WithCancel(context.Background())
	l := &tlsGateListener{ln: ln, cfg: cfg, gate: gate, conns: make(chan net.Conn), ctx: ctx, cancel: cancel, failed: make(chan struct{})}
	l.wg.Go(l.acceptAll)
	return l
}

// acceptAll accepts connections and starts their handshakes until the
// listener fails or is closed.
func (l *tlsGateListener) acceptAll() {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			l.mu.Lock()
			l.err = err
			l.mu.Unlock()
			close(l.failed)
			return
		}
		l.wg.Go(func() { l.handshake(c) })
	}
}

// handshake does c's handshake and queues the connection for Accept:
// behind the gate unless it negotiated HTTP/2.
func (l *tlsGateListener) handshake(c net.Conn) {
	tc := tls.Server(c, l.cfg)
	ctx, cancel := context.WithTimeout(l.ctx, tlsHandshakeTimeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		c.Close()
		return
	}
	var out net.Conn = tc
	if st := tc.ConnectionState(); st.NegotiatedProtocol != "h2" {
		g := newGateConn(tc, l.gate)
		g.tls = &st
		out = g
	}
	select {
	case l.conns <- out:
	case <-l.ctx.Done():
		out.Close()
	}
}

func (l *tlsGateListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.ctx.Done():
		return nil, net.ErrClosed
	case <-l.failed:
		l.mu.Lock()
		defer l.mu.Unlock()
		return nil, l.err
	}
}

// Close stops accepting, ends the handshakes under way and waits for
// them.
func (l *tlsGateListener) Close() error {
	var err error
	l.once.Do(func() {
		l.cancel()
		err = l.ln.Close()
		l.wg.Wait()
	})
	return err
}

func (l *tlsGateListener) Addr() net.Addr { return l.ln.Addr() }
