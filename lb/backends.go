package lb

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/migratekit/migrate/internal/hostport"
)

// Live backends: a pool's backends change while the proxy serves, as
// HAProxy's runtime API (add server, set server state drain, del server)
// changes them. A change replaces the pool's backend set whole (an atomic
// pointer), so a request sees one set from its pick to its end:
//   - an added backend gets requests once it passes its first check (the
//     pool's active health check, or a TCP connect when it has none);
//   - a drained one gets no new requests, and DrainBackend waits for
//     those in flight;
//   - a removed one (drained first) leaves the set; its idle connections
//     and its check end.

var (
	// ErrUnknownBackend: no backend of the app has that URL.
	ErrUnknownBackend = errors.New("no such backend")
	// ErrBackendExists: the pool has a backend with that URL already.
	ErrBackendExists = errors.New("backend already in the pool")
	// ErrNotDrained: a backend is removed only once drained.
	ErrNotDrained = errors.New("backend is not drained")
	// ErrLastBackend: the change would leave the pool with no backend in
	// rotation (draining) or none at all (removing).
	ErrLastBackend = errors.New("the last backend of its pool")
	// ErrUnknownSide: a side is "old" or "new" (telemetry.SideOld,
	// telemetry.SideNew).
	ErrUnknownSide = errors.New("side must be old or new")
)

// firstCheckEvery is how often a backend added to a pool without an active
// check is tried (a TCP connect) until it answers.
const firstCheckEvery = time.Second

// drainPoll is how often a drain looks at a backend's requests in flight.
const drainPoll = 10 * time.Millisecond

// AddBackend adds the backend at rawURL (http:// or https://, the scheme
// of the pool's other backends) to side (telemetry.SideOld or
// telemetry.SideNew) of the app. A host name is resolved now (an error if
// it does not resolve). The backend gets requests once it passes its first
// check.
func (a *App) AddBackend(ctx context.Context, side, rawURL string) error {
	s, err := a.sideNamed(side)
	if err != nil {
		return err
	}
	b, err := parseBackend(rawURL)
	if err != nil {
		return err
	}
	p := s.pool
	p.changing.Lock()
	defer p.changing.Unlock()
	list := p.backends()
	if o := findBackend(list, b.label, b.url); o != nil {
		return fmt.Errorf("adding backend %s to %s: %w", b.label, p.side, ErrBackendExists)
	}
	if scheme := list[0].url.Scheme; b.url.Scheme != scheme {
		return fmt.Errorf("adding backend %s to %s: its scheme is not %s, that of the pool (a reload changes it)", b.label, p.side, scheme)
	}
	if b.host != "" {
		if err := a.live.proxy.resolveNow(ctx, b); err != nil {
			return fmt.Errorf("adding backend %s to %s: %w", b.label, p.side, err)
		}
	}
	b.up.Store(false)
	b.pending.Store(true)
	p.store(append(slices.Clone(list), b))
	p.tel.BackendUp(b.label, false)
	p.log.Info("backend added, waiting for its first check", "backend", b.label)
	a.live.startCheck(s, b)
	return nil
}

// DrainBackend stops sending new requests to the backend at rawURL and
// waits until none is in flight or ctx is done. It returns how many were
// in flight when the drain began; ctx's error (wrapped) if it ended first.
// Draining a drained backend waits again.
func (a *App) DrainBackend(ctx context.Context, rawURL string) (int64, error) {
	s, b, err := a.backendAt(rawURL)
	if err != nil {
		return 0, err
	}
	if err := s.pool.drain(b); err != nil {
		return 0, err
	}
	n := b.inflight.Load()
	if err := waitIdle(ctx, b); err != nil {
		return n, fmt.Errorf("draining backend %s: %d requests still in flight: %w", b.label, b.inflight.Load(), err)
	}
	return n, nil
}

// RemoveBackend removes the drained backend at rawURL from its pool.
func (a *App) RemoveBackend(rawURL string) error {
	s, b, err := a.backendAt(rawURL)
	if err != nil {
		return err
	}
	return s.pool.remove(b)
}

// sideNamed is the app's side called name.
func (a *App) sideNamed(name string) (*side, error) {
	for _, s := range a.sides {
		if s.name == name {
			return s, nil
		}
	}
	return nil, fmt.Errorf("side %q: %w", name, ErrUnknownSide)
}

// backendAt finds the backend at rawURL on either side.
func (a *App) backendAt(rawURL string) (*side, *backend, error) {
	label := strings.TrimSpace(rawURL)
	u, err := url.Parse(label)
	if err != nil {
		return nil, nil, fmt.Errorf("backend %q: %w", rawURL, err)
	}
	for _, s := range a.sides {
		if b := findBackend(s.pool.backends(), label, u); b != nil {
			return s, b, nil
		}
	}
	return nil, nil, fmt.Errorf("backend %s of %s: %w", label, a.name, ErrUnknownBackend)
}

// findBackend is the backend of list written as label, or at the same URL.
func findBackend(list []*backend, label string, u *url.URL) *backend {
	for _, b := range list {
		if b.label == label || sameBackendURL(b.url, u) {
			return b
		}
	}
	return nil
}

// sameBackendURL reports whether a and b point at the same place: scheme
// and host compared without case, the path with a trailing slash or not.
func sameBackendURL(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Host, b.Host) &&
		strings.TrimSuffix(a.EscapedPath(), "/") == strings.TrimSuffix(b.EscapedPath(), "/") && a.RawQuery == b.RawQuery
}

// drain takes b out of rotation for new requests, unless it is the last
// backend of the pool in rotation.
func (p *pool) drain(b *backend) error {
	p.changing.Lock()
	defer p.changing.Unlock()
	if b.draining.Load() {
		return nil
	}
	if p.available(b) && !p.othersAvailable(b) {
		return fmt.Errorf("draining backend %s: %w in rotation: add another first", b.label, ErrLastBackend)
	}
	b.draining.Store(true)
	b.pending.Store(false)
	p.tel.BackendUp(b.label, false)
	p.log.Info("backend draining", "backend", b.label, "in_flight", b.inflight.Load())
	return nil
}

// remove takes the drained backend b out of the pool.
func (p *pool) remove(b *backend) error {
	p.changing.Lock()
	defer p.changing.Unlock()
	list := p.backends()
	switch {
	case !b.draining.Load():
		return fmt.Errorf("removing backend %s: %w: drain it first", b.label, ErrNotDrained)
	case b.inflight.Load() > 0:
		return fmt.Errorf("removing backend %s: %w: %d requests in flight", b.label, ErrNotDrained, b.inflight.Load())
	case len(list) == 1:
		return fmt.Errorf("removing backend %s: %w", b.label, ErrLastBackend)
	}
	p.store(slices.DeleteFunc(slices.Clone(list), func(o *backend) bool { return o == b }))
	b.removed.Store(true)
	p.tel.ForgetBackend(b.label)
	p.log.Info("backend removed", "backend", b.label)
	return nil
}

// admit puts a pending backend in rotation after its first passing check.
func (p *pool) admit(b *backend, reason string) {
	if b.pending.CompareAndSwap(true, false) && !b.draining.Load() && !b.removed.Load() {
		p.restore(b, 0, reason)
	}
}

// waitIdle waits until b has no request in flight, seen twice a poll
// apart (a request picked just before the drain counts itself after its
// pick), or ctx is done.
func waitIdle(ctx context.Context, b *backend) error {
	t := time.NewTicker(drainPoll)
	defer t.Stop()
	quiet := 0
	for {
		if b.inflight.Load() > 0 {
			quiet = 0
		} else if quiet++; quiet == 2 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// liveChecks runs the checks of the proxy's backends while it serves:
// each side's under a context of its own, which a reload that replaces
// the side cancels; those of backends added live start with them.
type liveChecks struct {
	proxy *Proxy
	mu    sync.Mutex
	ctx   context.Context // nil: not serving
	wg    *sync.WaitGroup
	sides map[*side]sideChecks
}

// sideChecks are the running checks of one side.
type sideChecks struct {
	ctx  context.Context
	stop context.CancelFunc
}

// begin starts the checks of every backend, until ctx is done.
func (l *liveChecks) begin(ctx context.Context, wg *sync.WaitGroup) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ctx, l.wg, l.sides = ctx, wg, make(map[*side]sideChecks)
	l.startApps(l.proxy.apps().sorted)
}

// end stops the checks: the caller then waits for wg.
func (l *liveChecks) end() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, sc := range l.sides {
		sc.stop()
	}
	l.ctx, l.wg, l.sides = nil, nil, nil
}

// replace stops the checks of the sides of before that after does not
// have, and starts those of after's new sides (a reload).
func (l *liveChecks) replace(before, after []*App) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ctx == nil {
		return
	}
	for _, a := range before {
		for _, s := range a.sides {
			if sc, ok := l.sides[s]; ok && !slices.ContainsFunc(after, func(n *App) bool { return slices.Contains(n.sides[:], s) }) {
				sc.stop()
				delete(l.sides, s)
			}
		}
	}
	l.startApps(after)
}

// startApps starts the checks of the sides of apps not yet checked.
func (l *liveChecks) startApps(apps []*App) {
	for _, a := range apps {
		for _, s := range a.sides {
			if _, ok := l.sides[s]; ok {
				continue
			}
			for _, b := range s.pool.backends() {
				l.startLocked(s, b)
			}
		}
	}
}

// startCheck starts b's check, if the proxy is serving (else begin will).
func (l *liveChecks) startCheck(s *side, b *backend) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.startLocked(s, b)
}

func (l *liveChecks) startLocked(s *side, b *backend) {
	if l.ctx == nil || l.ctx.Err() != nil || b.removed.Load() {
		return
	}
	sc, ok := l.sides[s]
	if !ok {
		sc.ctx, sc.stop = context.WithCancel(l.ctx)
		l.sides[s] = sc
	}
	ctx := sc.ctx
	switch {
	case s.check != nil:
		l.wg.Go(func() { s.check.run(ctx, b) })
	case b.pending.Load():
		l.wg.Go(func() { l.proxy.firstConnect(ctx, s, b) })
	}
}

// firstConnect admits b, added to a pool without an active check, once a
// TCP connection to it succeeds, trying every firstCheckEvery.
func (p *Proxy) firstConnect(ctx context.Context, s *side, b *backend) {
	d := net.Dialer{Timeout: s.connectTimeout, Resolver: p.resolver}
	for b.pending.Load() && !b.removed.Load() {
		c, err := d.DialContext(ctx, "tcp", hostport.Of(b.url))
		if err == nil {
			c.Close()
			s.pool.admit(b, "first connection succeeded")
			return
		}
		t := p.clock.NewTimer(firstCheckEvery)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.Chan():
		}
	}
}

// resolveNow resolves b's name, an error if it has no address.
func (p *Proxy) resolveNow(ctx context.Context, b *backend) error {
	p.resolve(ctx, b)
	if b.resolved.Load() == nil {
		return fmt.Errorf("resolving backend host %s: no address", b.host)
	}
	return nil
}
