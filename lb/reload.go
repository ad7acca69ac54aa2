package lb

import (
	"cmp"
	"crypto/tls"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/telemetry"
)

// Reload: a running proxy takes a new manifest in place, as nginx's
// reload does but without new processes. The new configuration is built
// whole first (config), so that a manifest that fails changes nothing;
// then it replaces the one serving at once (commit): each listener's host
// table and the proxy's app set are atomic pointers, and a request keeps
// the app, side and backend it started with to its end. What carries
// over, per app name: the weight (shared with the app objects of before,
// which the rollback manager may hold), and per side the backends at the
// same URL, whole (health, ejection, in-flight count, idle connections,
// draining). A backend new to a pool that keeps another in rotation is
// pending until its first passing check, as one added live; a pool whose
// backends are all new serves them at once, as at start. A listener
// address new to the manifest is bound and served; one gone stops
// accepting and drains (up to the drain deadline). TLS listeners read
// their certificate files again: new handshakes get the new certificates,
// open connections keep theirs. The request limits (limits.*) and a
// listener's switch between TLS and plain HTTP need a restart.

// ErrReload wraps what makes a manifest fail to reload.
var ErrReload = errors.New("reloading the proxy")

// config is the apps and listeners a manifest makes of the proxy.
type config struct {
	apps      map[string]*App
	sorted    []*App
	listeners []*listener // sorted by address
	tables    map[*listener]*hostTable
	tlsLists  map[*listener][]manifest.TLS
	tlsCfgs   map[*listener]*tls.Config // the certificates of TLS listeners
	fresh     []*listener               // listeners this config adds
	checkers  []*checker
	drain     time.Duration
}

// appSet is the proxy's apps at one time.
type appSet struct {
	byName map[string]*App
	sorted []*App
}

// Reload makes the proxy serve the apps of m (those New was given, or
// all of m's when it was given none), with the dependencies in opts
// (its Logger, Metrics, Clock and Resolver are the proxy's own and are not
// changed). On error nothing changed.
func (p *Proxy) Reload(m *manifest.Manifest, opts Options) error {
	if m == nil {
		return fmt.Errorf("%w: no manifest", ErrReload)
	}
	names, err := selectApps(m, p.selected)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrReload, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	c, err := p.build(m, names, opts)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrReload, err)
	}
	p.commit(c)
	return nil
}

// build builds the config of m's apps names, reusing what the proxy has
// (p.mu held): listeners at the same address, apps' weights, backends at
// the same URL. A listener it adds is bound when the proxy listens.
func (p *Proxy) build(m *manifest.Manifest, names []string, opts Options) (*config, error) {
	c := &config{
		apps:     make(map[string]*App),
		tables:   make(map[*listener]*hostTable),
		tlsLists: make(map[*listener][]manifest.TLS),
		tlsCfgs:  make(map[*listener]*tls.Config),
		drain:    m.Global.Drain.Or(manifest.DefaultDrain),
	}
	deps := sideDeps{metrics: p.metrics, clock: p.clock, buffers: &p.buffers, errorLog: p.errorLog, tls: opts.UpstreamTLS, resolver: p.resolver}
	var errs []error
	for _, name := range names {
		if err := p.buildApp(c, name, m.Apps[name], opts, deps); err != nil {
			errs = append(errs, fmt.Errorf("configuring app %s: %w", name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		c.abandon()
		return nil, err
	}
	slices.SortFunc(c.listeners, func(a, b *listener) int { return cmp.Compare(a.addr, b.addr) })
	if err := p.prepareListeners(c); err != nil {
		c.abandon()
		return nil, err
	}
	return c, nil
}

// buildApp builds one app of c and registers it on its listener.
func (p *Proxy) buildApp(c *config, name string, cfg *manifest.App, opts Options, deps sideDeps) error {
	old := p.App(name)
	if old.sameAs(name, cfg, opts) {
		return p.keepApp(c, old, cfg, deps)
	}
	a, err := newApp(name, cfg, opts, deps, p, old)
	if err != nil {
		return err
	}
	a.cfg = cfg
	l, err := p.listenerIn(c, cfg, deps)
	if err != nil {
		return err
	}
	a.refused = l.router.refused
	if err := c.tables[l].add(a, cfg.Hosts); err != nil {
		return err
	}
	for i, pc := range []manifest.Pool{cfg.Old, cfg.New} {
		s := a.sides[i]
		if old != nil {
			s.pool.carryOver(old.sides[i].pool)
		}
		ch, err := newChecker(s.pool, pc.Health, s.newTransport(deps.resolver), p.clock)
		if err != nil {
			return fmt.Errorf("configuring %s health check: %w", s.name, err)
		}
		if ch != nil {
			c.checkers = append(c.checkers, ch)
			s.check = ch
		}
	}
	p.attach(a, opts.Middleware[name], deps)
	c.apps[name] = a
	c.sorted = append(c.sorted, a)
	return nil
}

// sameAs reports whether app a (nil: none) is what cfg and opts would
// build for name: its manifest section unchanged, the same mirror, no
// middleware and no upstream TLS settings (which cannot be compared). A
// reload keeps such an app whole, so that a reload of a large manifest
// costs what its changed apps cost.
func (a *App) sameAs(name string, cfg *manifest.App, opts Options) bool {
	if a == nil || a.wrapped || opts.Middleware[name] != nil || a.mirror != opts.Mirrors[name] ||
		opts.UpstreamTLS[PoolKey{name, telemetry.SideOld}] != nil || opts.UpstreamTLS[PoolKey{name, telemetry.SideNew}] != nil {
		return false
	}
	return a.cfg == cfg || reflect.DeepEqual(a.cfg, cfg)
}

// keepApp puts the app a, unchanged, in c.
func (p *Proxy) keepApp(c *config, a *App, cfg *manifest.App, deps sideDeps) error {
	l, err := p.listenerIn(c, cfg, deps)
	if err != nil {
		return err
	}
	if err := c.tables[l].add(a, cfg.Hosts); err != nil {
		return err
	}
	for _, s := range a.sides {
		if s.check != nil {
			c.checkers = append(c.checkers, s.check)
		}
	}
	c.apps[a.name] = a
	c.sorted = append(c.sorted, a)
	return nil
}

// listenerIn returns the listener of app cfg in c: one c has, else the
// proxy's at that address, else a new one.
func (p *Proxy) listenerIn(c *config, cfg *manifest.App, deps sideDeps) (*listener, error) {
	addr := cmp.Or(cfg.Listen, manifest.DefaultListen)
	i := slices.IndexFunc(c.listeners, func(l *listener) bool { return l.addr == addr })
	if i < 0 {
		l := p.listener(addr)
		if l == nil {
			l = &listener{addr: addr, router: newRouter(&p.inflight, p.limits.bodyTimeout, deps.metrics.Refused(addr))}
			c.fresh = append(c.fresh, l)
		} else if (l.tls == nil) != (cfg.TLS == nil) {
			return nil, fmt.Errorf("listen %s: switching between TLS and plain HTTP needs a restart", addr)
		}
		c.listeners = append(c.listeners, l)
		c.tables[l] = newHostTable()
		c.tlsLists[l] = nil
		if cfg.TLS != nil {
			c.tlsLists[l] = []manifest.TLS{*cfg.TLS}
		}
		return l, nil
	}
	l := c.listeners[i]
	if (c.tlsLists[l] == nil) != (cfg.TLS == nil) {
		return nil, fmt.Errorf("listen %s: apps on one address must all use TLS or none", addr)
	}
	if cfg.TLS != nil && !slices.Contains(c.tlsLists[l], *cfg.TLS) {
		c.tlsLists[l] = append(c.tlsLists[l], *cfg.TLS) // several certificates, chosen by SNI
	}
	return l, nil
}

// prepareListeners, when the proxy listens, loads the certificates of
// c's TLS listeners and binds the listeners c adds.
func (p *Proxy) prepareListeners(c *config) error {
	if !p.listening() {
		return nil // Listen binds them and loads their certificates
	}
	for _, l := range c.listeners {
		if list := c.tlsLists[l]; list != nil {
			cfg, err := loadCertificates(l.addr, list)
			if err != nil {
				return err
			}
			c.tlsCfgs[l] = cfg
		}
	}
	for _, l := range c.fresh {
		l.tls = c.tlsLists[l]
		l.setTLS(c.tlsCfgs[l])
		if err := l.bind(); err != nil {
			return err
		}
	}
	return nil
}

// abandon closes what building c bound.
func (c *config) abandon() {
	for _, l := range c.fresh {
		if l.ln != nil {
			l.ln.Close()
			l.ln = nil
		}
	}
}

// listening reports whether the proxy has bound its listeners (p.mu held).
func (p *Proxy) listening() bool { return len(p.listeners) > 0 && p.listeners[0].ln != nil }

// commit makes c the configuration served (p.mu held).
func (p *Proxy) commit(c *config) {
	before := p.apps()
	for _, l := range c.listeners {
		l.tls = c.tlsLists[l]
		l.setTLS(c.tlsCfgs[l])
		l.router.table.Store(c.tables[l])
	}
	for _, a := range c.sorted {
		for _, s := range a.sides {
			for _, b := range s.pool.backends() {
				s.pool.tel.BackendUp(b.label, s.pool.available(b))
			}
		}
	}
	var gone []*listener
	for _, l := range p.listeners {
		if !slices.Contains(c.listeners, l) {
			gone = append(gone, l)
		}
	}
	p.set.Store(&appSet{byName: c.apps, sorted: c.sorted})
	p.listeners, p.checkers, p.drain = c.listeners, c.checkers, c.drain
	p.live.replace(before.sorted, c.sorted)
	retireBackends(before.sorted, c.sorted)
	if p.run != nil {
		for _, l := range c.fresh {
			p.startListener(l)
		}
		for _, l := range gone {
			p.retireListener(l)
		}
	} else {
		for _, l := range gone {
			if l.ln != nil {
				l.ln.Close()
				l.ln = nil
			}
		}
	}
	for _, a := range before.sorted {
		if c.apps[a.name] != a {
			a.closeIdle() // requests in flight keep theirs until they end
		}
	}
}

// carryOver puts in p, in place of its new backends, the backends of old
// at the same URL, whole; the others are pending until their first
// check, unless none of old's would stay in rotation.
func (p *pool) carryOver(old *pool) {
	prev := old.backends()
	list := slices.Clone(p.backends())
	kept := false
	for i, b := range list {
		if o := findBackend(prev, b.label, b.url); o != nil && !o.removed.Load() {
			list[i] = o
			kept = kept || old.available(o)
		}
	}
	for _, b := range list {
		if kept && !slices.Contains(prev, b) {
			b.up.Store(false)
			b.pending.Store(true)
			p.tel.BackendUp(b.label, false)
		}
	}
	p.store(list)
}

// retireBackends marks removed the backends of before that no app of
// after has.
func retireBackends(before, after []*App) {
	kept := make(map[*backend]bool)
	for _, a := range after {
		for _, s := range a.sides {
			for _, b := range s.pool.backends() {
				kept[b] = true
			}
		}
	}
	for _, a := range before {
		for _, s := range a.sides {
			for _, b := range s.pool.backends() {
				if !kept[b] && !b.removed.Swap(true) {
					s.pool.tel.ForgetBackend(b.label)
				}
			}
		}
	}
}
