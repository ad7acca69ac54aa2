package lb

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
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
}

// listenerFor returns the listener of app cfg, creating it (its refusals
// counted in metrics).
func (p *Proxy) listenerFor(cfg *manifest.App, metrics *telemetry.Metrics) (*listener, error) {
	addr := cmp.Or(cfg.Listen, manifest.DefaultListen)
	l := p.listener(addr)
	if l == nil {
		l = &listener{addr: addr, router: newRouter(&p.inflight, p.limits.bodyTimeout, metrics.Refused(addr))}
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
	servers := make([]pathServer, 0, len(p.listeners))
	errc := make(chan error, len(p.listeners))
	named := p.namedBackends()
	p.resolveAll(ctx, named) // before the first connection
	for _, l := range p.listeners {
		p.log.Info("proxy listening", "listen", l.addr, "addr", l.ln.Addr().String(), "tls", l.tlsCfg != nil)
		s := p.pathServer(l, reqCtx)
		servers = append(servers, s)
		go func() { errc <- s.serve() }()
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
	drainErr := p.shutdown(servers, cut)
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
func (p *Proxy) shutdown(servers []pathServer, cut context.CancelFunc) error {
	dctx, cancel := context.WithTimeout(context.Background(), p.drain)
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
	p.log.Warn("drain deadline cut requests", "requests", left, "deadline", p.drain.String())
	return fmt.Errorf("draining requests: %d cut after %s: %w", left, p.drain, ErrDrainDeadline)
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
