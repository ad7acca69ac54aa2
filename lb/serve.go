package lb

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/telemetry"
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
	tlsCfg *tls.Config
	loop   bool // served by event loops (see loop_linux.go), net/http too
}

// listenerFor returns the listener of app cfg, creating it (its refusals
// counted in metrics).
func (p *Proxy) listenerFor(cfg *manifest.App, metrics *telemetry.Metrics) (*listener, error) {
	addr := cmp.Or(cfg.Listen, manifest.DefaultListen)
	l := p.listener(addr)
	if l == nil {
		l = &listener{addr: addr, router: newRouter(&p.inflight, p.gate.bodyTimeout, metrics.Refused(addr))}
		if cfg.TLS != nil {
			l.tls = []manifest.TLS{*cfg.TLS}
		}
		p.listeners = append(p.listeners, l)
		return l, nil
	}
	if (l.tls == nil) != (cfg.TLS == nil) {
		return nil, fmt.Errorf("listen %s: apps on one address must all use TLS or none", addr)
	}
	if cfg.TLS != nil && !slices.Contains(l.tls, *cfg.TLS) {
		l.tls = append(l.tls, *cfg.TLS) // several certificates, chosen by SNI
	}
	return l, nil
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
	if l.tls != nil {
		cfg := tlsServerConfig(&tls.Config{MinVersion: tls.VersionTLS12})
		for _, t := range l.tls {
			cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
			if err != nil {
				return fmt.Errorf("loading TLS certificate for %s: %w", l.addr, err)
			}
			cfg.Certificates = append(cfg.Certificates, cert)
		}
		l.tlsCfg = cfg
	}
	ln, err := net.Listen("tcp", l.addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", l.addr, err)
	}
	l.ln = ln
	return nil
}

// Addrs maps each manifest listen address to its bound address.
func (p *Proxy) Addrs() map[string]net.Addr {
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
// if a listener fails.
func (p *Proxy) Serve(ctx context.Context) error {
	if len(p.listeners) == 0 || p.listeners[0].ln == nil {
		return ErrNotListening
	}
	// Requests live on their own context: cancelling ctx starts the drain,
	// cut cancels whatever is still running at its deadline.
	reqCtx, cut := context.WithCancel(context.WithoutCancel(ctx))
	defer cut()
	var servers []*http.Server
	var loops []*loopServer
	errc := make(chan error, len(p.listeners))
	named := p.namedBackends()
	p.resolveAll(ctx, named) // before the loops' first connection
	nloops := 0
	for _, l := range p.listeners {
		p.log.Info("proxy listening", "listen", l.addr, "addr", l.ln.Addr().String(), "tls", l.tlsCfg != nil)
		if l.loop {
			if nloops == 0 {
				nloops = loopsFor(p.log)
			}
			ls, err := p.newLoopServer(l, nloops, reqCtx)
			if err == nil {
				loops = append(loops, ls)
				go func() { errc <- ls.serve() }()
				continue
			}
			p.log.Warn("serving with net/http instead of event loops", "listen", l.addr, "err", err)
		}
		srv := p.server(l, reqCtx)
		servers = append(servers, srv)
		go func() { errc <- serveListener(srv, l.addr, p.gated(l.ln, l.tlsCfg)) }()
	}
	hctx, stopChecks := context.WithCancel(ctx)
	checks := p.startChecks(hctx)
	if len(named) > 0 {
		checks.Go(func() { p.keepResolving(hctx, named) })
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		errc <- nil // keep the count for the collection below
	}
	p.log.Info("draining", "deadline", p.drain.String())
	drainErr := p.shutdown(servers, loops, cut)
	stopChecks()
	checks.Wait()
	for range p.listeners {
		if e := <-errc; e != nil && err == nil {
			err = e
		}
	}
	p.closeIdle()
	for _, l := range p.listeners {
		l.ln = nil
	}
	return errors.Join(err, drainErr)
}

func (p *Proxy) server(l *listener, reqCtx context.Context) *http.Server {
	return &http.Server{
		Handler:           l.router,
		TLSConfig:         l.tlsCfg,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    p.gate.limit, // the gate refuses longer heads first
		ErrorLog:          p.errorLog,
		BaseContext:       func(net.Listener) context.Context { return reqCtx },
		ConnContext:       withGate,
	}
}

// gated is ln behind the gate (gate.go): after TLS when tlsCfg is set.
func (p *Proxy) gated(ln net.Listener, tlsCfg *tls.Config) net.Listener {
	if tlsCfg != nil {
		return newTLSGateListener(ln, tlsCfg, p.gate)
	}
	return gateListener{ln, p.gate}
}

// serveListener serves srv on ln, which does the TLS handshakes of a TLS
// listener itself (tlsGateListener).
func serveListener(srv *http.Server, addr string, ln net.Listener) error {
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return fmt.Errorf("serving %s: %w", addr, err)
}

// startChecks starts one health-check goroutine per checked backend.
func (p *Proxy) startChecks(ctx context.Context) *sync.WaitGroup {
	var wg sync.WaitGroup
	for _, c := range p.checkers {
		for _, b := range c.pool.backends {
			wg.Go(func() { c.run(ctx, b) })
		}
	}
	return &wg
}

// shutdown stops accepting, waits for requests in flight until the drain
// deadline, then cuts the rest. http.Server.Shutdown does not wait for
// upgraded (hijacked) connections, so the in-flight tracker does.
func (p *Proxy) shutdown(servers []*http.Server, loops []*loopServer, cut context.CancelFunc) error {
	dctx, cancel := context.WithTimeout(context.Background(), p.drain)
	defer cancel()
	var wg sync.WaitGroup
	for _, ls := range loops {
		wg.Go(func() { ls.drain(dctx) })
	}
	for _, srv := range servers {
		wg.Go(func() { _ = srv.Shutdown(dctx) })
	}
	wg.Wait()
	left := p.inflight.wait(dctx)
	for _, ls := range loops {
		ls.stop() // what is left on the loops is cut
	}
	if left == 0 && dctx.Err() == nil {
		return nil
	}
	cut()
	for _, srv := range servers {
		_ = srv.Close()
	}
	if left == 0 {
		// Nothing was in flight: the deadline closed idle connections and
		// heads not yet read. An answer still streaming is in flight on
		// both paths (a loop's until its last byte is out, net/http's
		// until its handler returns), and cut ends it: the loops close
		// their connections, the cancelled context ends the backend
		// exchanges of net/http's (Upstream, httputil.ReverseProxy).
		return nil
	}
	gctx, gcancel := context.WithTimeout(context.Background(), cutGrace)
	defer gcancel()
	p.inflight.wait(gctx)
	p.log.Warn("drain deadline cut requests", "requests", left, "deadline", p.drain.String())
	return fmt.Errorf("draining requests: %d cut after %s: %w", left, p.drain, ErrDrainDeadline)
}

// closeIdle closes idle connections to every backend.
func (p *Proxy) closeIdle() {
	for _, a := range p.sorted {
		for _, s := range a.sides {
			s.closeIdle()
		}
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
