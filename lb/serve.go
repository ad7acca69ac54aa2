package lb

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/migratekit/migrate/manifest"
)

var (
	// ErrNotListening is returned by Serve before a successful Listen.
	ErrNotListening = errors.New("not listening: call Listen first")
	// ErrDrainDeadline is returned by Serve when the drain deadline cut
	// requests still in flight.
	ErrDrainDeadline = errors.New("drain deadline reached")
)

// cutGrace bounds the wait for handlers to return once the drain deadline
// has cancelled them.
const cutGrace = 5 * time.Second

// listener is one listen address of the manifest and the apps on it.
type listener struct {
	addr   string
	tls    []manifest.TLS // nil: plain HTTP
	router *router
	ln     net.Listener
	tlsCfg *tls.Config                // served: its certificates are tlsCur's
	tlsCur atomic.Pointer[tls.Config] // the certificates now (a reload rotates them)
}

func (p *Proxy) listener(addr string) *listener {
	addr = cmp.Or(addr, manifest.DefaultListen)
	for _, l := range p.listeners {
		if l.addr == addr {
			return l
		}
	}
	return nil
}

// Listen binds every listener. TLS listeners load their certificates now
// and accept TLS 1.2 and later. On error nothing stays bound.
func (p *Proxy) Listen() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, l := range p.listeners {
		if err := l.bind(); err != nil {
			for _, prev := range p.listeners[:i] {
				prev.ln.Close()
				prev.ln = nil
			}
			return err
		}
	}
	return nil
}

func (l *listener) bind() error {
	if l.ln != nil {
		return fmt.Errorf("listening on %s: already listening", l.addr)
	}
	if l.tls != nil && l.tlsCfg == nil {
		cfg, err := loadCertificates(l.addr, l.tls)
		if err != nil {
			return err
		}
		l.setTLS(cfg)
	}
	ln, err := net.Listen("tcp", l.addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", l.addr, err)
	}
	l.ln = ln
	return nil
}

// loadCertificates reads the certificates of a TLS listener at addr.
func loadCertificates(addr string, list []manifest.TLS) (*tls.Config, error) {
	cfg := tlsServerConfig(&tls.Config{MinVersion: tls.VersionTLS12})
	for _, t := range list {
		cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, fmt.Errorf("loading TLS certificate for %s: %w", addr, err)
		}
		cfg.Certificates = append(cfg.Certificates, cert)
	}
	return cfg, nil
}

// setTLS makes cur the listener's certificates (nil: no change): the
// handshakes that start after it get them.
func (l *listener) setTLS(cur *tls.Config) {
	if cur == nil {
		return
	}
	l.tlsCur.Store(cur)
	if l.tlsCfg == nil {
		base := cur.Clone()
		base.Certificates = nil
		base.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) { return l.tlsCur.Load(), nil }
		l.tlsCfg = base
	}
}

// Addrs maps each manifest listen address to its bound address.
func (p *Proxy) Addrs() map[string]net.Addr {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]net.Addr, len(p.listeners))
	for _, l := range p.listeners {
		if l.ln != nil {
			out[l.addr] = l.ln.Addr()
		}
	}
	return out
}

// Serve serves the bound listeners and runs the health checks until ctx is
// done, then drains: it stops accepting, lets requests in flight finish up
// to the manifest's drain deadline (default [manifest.DefaultDrain]), cuts what is left
// (websockets included) and returns nil, or an error wrapping
// ErrDrainDeadline if requests were cut. It also returns, after draining,
// if a listener fails. A reload (Reload) may add and retire listeners
// while it serves.
func (p *Proxy) Serve(ctx context.Context) error {
	p.mu.Lock()
	if len(p.listeners) == 0 || p.listeners[0].ln == nil {
		p.mu.Unlock()
		return ErrNotListening
	}
	// Requests live on their own context: cancelling ctx starts the drain,
	// cut cancels whatever is still running at its deadline.
	reqCtx, cut := context.WithCancel(context.WithoutCancel(ctx))
	defer cut()
	p.resolveAll(ctx, p.namedBackends()) // before the first connection
	p.run = &serving{reqCtx: reqCtx, servers: make(map[*listener]pathServer), failed: make(chan struct{}), done: make(chan struct{})}
	for _, l := range p.listeners {
		p.startListener(l)
	}
	run := p.run
	p.mu.Unlock()
	hctx, stopChecks := context.WithCancel(ctx)
	var checks sync.WaitGroup
	p.live.begin(hctx, &checks)
	checks.Go(func() { p.keepResolving(hctx) })
	select {
	case <-ctx.Done():
	case <-run.failed:
	}
	p.mu.Lock()
	servers := run.all()
	drain := p.drain
	p.run = nil // a reload from now on only changes the configuration
	p.mu.Unlock()
	p.log.Info("draining", "deadline", drain.String())
	drainErr := p.shutdown(servers, drain, cut)
	close(run.done)
	stopChecks()
	p.live.end()
	checks.Wait()
	run.wg.Wait()
	p.closeIdle()
	p.mu.Lock()
	for _, l := range p.listeners {
		l.ln = nil
	}
	p.mu.Unlock()
	return errors.Join(run.err(), drainErr)
}

// serving is what Serve keeps while it serves: the server of each
// listener, and those of listeners a reload retired that still drain.
type serving struct {
	reqCtx   context.Context
	servers  map[*listener]pathServer
	retiring map[pathServer]bool
	wg       sync.WaitGroup // every server's serve
	mu       sync.Mutex
	first    error         // the first listener failure
	failed   chan struct{} // closed at the first failure
	fail     sync.Once
	done     chan struct{} // closed when Serve has drained
}

// startListener serves l (p.mu held).
func (p *Proxy) startListener(l *listener) {
	p.log.Info("proxy listening", "listen", l.addr, "addr", l.ln.Addr().String(), "tls", l.tlsCfg != nil)
	s := &stopOnce{pathServer: p.pathServer(l, p.run.reqCtx)}
	run := p.run
	run.servers[l] = s
	run.wg.Go(func() {
		if err := s.serve(); err != nil {
			run.mu.Lock()
			if run.first == nil {
				run.first = err
			}
			run.mu.Unlock()
			run.fail.Do(func() { close(run.failed) })
		}
	})
}

// retireListener drains the server of l, which a reload removed (p.mu
// held): it stops accepting at once, and what is still open at the drain
// deadline is cut.
func (p *Proxy) retireListener(l *listener) {
	s := p.run.servers[l]
	delete(p.run.servers, l)
	if p.run.retiring == nil {
		p.run.retiring = make(map[pathServer]bool)
	}
	p.run.retiring[s] = true
	run, drain := p.run, p.drain
	p.log.Info("listener retired by a reload, draining", "listen", l.addr, "deadline", drain.String())
	run.wg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), drain)
		defer cancel()
		s.drain(ctx)
		select {
		case <-ctx.Done():
		case <-run.done: // Serve's own drain stops it
		}
		s.stop()
	})
}

// stopOnce is a pathServer whose stop runs once (a retired listener's
// server is stopped by its drain or by Serve's, whichever comes first).
type stopOnce struct {
	pathServer
	once sync.Once
}

func (s *stopOnce) stop() { s.once.Do(s.pathServer.stop) }

// all is every server, retiring ones included.
func (r *serving) all() []pathServer {
	out := make([]pathServer, 0, len(r.servers)+len(r.retiring))
	for _, s := range r.servers {
		out = append(out, s)
	}
	for s := range r.retiring {
		out = append(out, s)
	}
	return out
}

func (r *serving) err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.first
}

// pathServer serves one listener on its data path (paths.go chooses it).
type pathServer interface {
	// serve serves until stop, and returns nil then; an error if the
	// listener fails.
	serve() error
	// drain stops accepting, closes idle connections and lets the
	// requests in flight finish, until ctx is done.
	drain(ctx context.Context)
	// stop closes every connection left, cutting what is in flight.
	stop()
}

// shutdown stops accepting, waits for requests in flight until the drain
// deadline, then cuts the rest. A server's drain does not wait for
// upgraded connections (websockets), so the in-flight tracker does.
func (p *Proxy) shutdown(servers []pathServer, drain time.Duration, cut context.CancelFunc) error {
	dctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Go(func() { s.drain(dctx) })
	}
	wg.Wait()
	left := p.inflight.wait(dctx)
	if left == 0 && dctx.Err() == nil {
		stopAll(servers)
		return nil
	}
	cut()
	stopAll(servers) // what is left is cut
	if left == 0 {
		// Nothing was in flight: the deadline closed idle connections and
		// heads not yet read. An answer still streaming counts as in
		// flight until it is done, on every path, and stop ended it.
		return nil
	}
	gctx, gcancel := context.WithTimeout(context.Background(), cutGrace)
	defer gcancel()
	p.inflight.wait(gctx)
	p.log.Warn("drain deadline cut requests", "requests", left, "deadline", drain.String())
	return fmt.Errorf("draining requests: %d cut after %s: %w", left, drain, ErrDrainDeadline)
}

func stopAll(servers []pathServer) {
	for _, s := range servers {
		s.stop()
	}
}

// tracker counts the requests being handled, upgraded ones included, so
// that a drain can wait for them.
type tracker struct {
	n        atomic.Int64
	draining atomic.Bool
	idle     chan struct{} // capacity 1: n dropped to zero while draining
}

func (t *tracker) enter() { t.n.Add(1) }

func (t *tracker) leave() {
	if t.n.Add(-1) == 0 && t.draining.Load() {
		select {
		case t.idle <- struct{}{}:
		default:
		}
	}
}

// wait waits until no request is in flight or ctx is done, and returns the
// number still in flight.
func (t *tracker) wait(ctx context.Context) int64 {
	t.draining.Store(true)
	for {
		n := t.n.Load()
		if n <= 0 {
			return 0
		}
		select {
		case <-t.idle:
		case <-ctx.Done():
			return t.n.Load()
		}
	}
}

// tlsServerConfig is cfg as net/http's ServeTLS would use it: HTTP/2 and
// HTTP/1.1 offered by ALPN.
func tlsServerConfig(cfg *tls.Config) *tls.Config {
	c := cfg.Clone()
	c.NextProtos = []string{"h2", "http/1.1"}
	return c
}
