package lb

import (
	"cmp"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/telemetry"
)

// BackendStatus is a snapshot of one backend, for status pages and the admin
// API.
type BackendStatus struct {
	// Side is telemetry.SideOld or telemetry.SideNew.
	Side string
	// URL is the backend as written in the manifest.
	URL string
	// Healthy reports whether the backend is in rotation.
	Healthy bool
	// InFlight is the number of requests it is serving now.
	InFlight int64
	// ConsecutiveFails counts the proxied requests that failed in a row
	// (connection errors and timeouts), the input of passive ejection.
	ConsecutiveFails int
	// Pending: added live, waiting for its first passing check.
	Pending bool
	// Draining: gets no new requests (DrainBackend).
	Draining bool
}

// backend is one upstream server of a pool. Its counters are updated from
// the request path, so they are atomics.
type backend struct {
	url   *url.URL
	label string // as written in the manifest: metric label and log value

	// The path (escaped) and query the backend URL puts before the
	// request's (appendURI).
	basePath  string
	baseQuery string
	// Where it is (resolve.go): its IP address, or the host name and port
	// to resolve and the addresses they resolved to last.
	ip       netip.AddrPort
	host     string
	port     uint16
	resolved atomic.Pointer[resolvedAddrs]

	inflight  atomic.Int64
	fails     atomic.Int32 // consecutive failed requests
	up        atomic.Bool
	ejectedAt atomic.Int64 // clock time (unix ns) of the last ejection
	passes    atomic.Int32 // consecutive passing health checks while ejected
	// A passive ejection of a pool without an active check: when (unix
	// ns) the backend is tried again, 0 when only a check restores it;
	// and how long it was out for, doubled at each ejection in a row.
	retryAt atomic.Int64
	backoff atomic.Int64
	// suspectUntil: the last backend of its pool in rotation, which
	// passive ejection keeps, failed maxFails requests in a row; until
	// this time (unix ns) the side counts as down for failover (healthy),
	// after it the next request tries it again.
	suspectUntil atomic.Int64
	// A live change (backends.go): pending until its first passing check
	// (not up until then), draining (no new requests), removed (gone from
	// its pool: its idle connections and its check end).
	pending, draining, removed atomic.Bool
}

// firstBackoff is how long a passively ejected backend first stays out
// (the pool's cooldown when shorter); each ejection in a row doubles it,
// up to the cooldown, and a success starts it again.
const firstBackoff = time.Second

// pool is the set of backends of one side of an app, with its balancer and
// ejection rules.
type pool struct {
	side      string
	set       atomic.Pointer[backendSet] // replaced whole by a change (backends.go)
	changing  sync.Mutex                 // one change of the set at a time
	leastConn bool
	next      atomic.Uint64

	maxFails int32 // 0: passive ejection disabled
	cooldown time.Duration
	active   bool       // an active health check restores ejected backends
	ejecting sync.Mutex // one passive ejection at a time, so that one backend stays

	clock clockwork.Clock
	tel   *telemetry.Side
	log   *slog.Logger
}

func newPool(side string, cfg manifest.Pool, clock clockwork.Clock, tel *telemetry.Side, log *slog.Logger) (*pool, error) {
	p := &pool{
		side:     side,
		cooldown: cfg.Passive.Cooldown.Or(manifest.DefaultCooldown),
		active:   cfg.Health.Path != "",
		clock:    clock,
		tel:      tel,
		log:      log.With("side", side),
	}
	switch cmp.Or(cfg.Balance, manifest.DefaultBalance) {
	case "round_robin":
	case "least_conn":
		p.leastConn = true
	default:
		return nil, fmt.Errorf("balance %q is not round_robin or least_conn", cfg.Balance)
	}
	switch mf := cfg.Passive.MaxFails; {
	case mf == 0:
		p.maxFails = manifest.DefaultMaxFails
	case mf > 0:
		p.maxFails = int32(min(mf, 1<<20))
	}
	if len(cfg.Backends) == 0 {
		return nil, fmt.Errorf("no backends")
	}
	var list []*backend
	for _, raw := range cfg.Backends {
		b, err := parseBackend(raw)
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(list, func(o *backend) bool { return o.label == b.label }) {
			return nil, fmt.Errorf("backend %q is listed twice", raw)
		}
		list = append(list, b)
	}
	p.store(list)
	return p, nil
}

// backendSet is a pool's backends at one time: a change makes a new one.
type backendSet struct {
	list     []*backend
	sameBase bool // every backend has the same base path and query
}

// store makes list the pool's backends.
func (p *pool) store(list []*backend) {
	set := &backendSet{list: list, sameBase: true}
	for _, b := range list[1:] {
		if b.url.EscapedPath() != list[0].url.EscapedPath() || b.url.RawQuery != list[0].url.RawQuery {
			set.sameBase = false
		}
	}
	p.set.Store(set)
}

// backends are the pool's backends now, draining ones included.
func (p *pool) backends() []*backend { return p.set.Load().list }

// sameBase reports whether every backend has the same base path and query.
func (p *pool) sameBase() bool { return p.set.Load().sameBase }

func parseBackend(raw string) (*backend, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("parsing backend %q: %w", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("backend %q is not an http:// or https:// URL", raw)
	}
	if u.User != nil || u.Fragment != "" {
		return nil, fmt.Errorf("backend %q must not have user info or a fragment", raw)
	}
	b := &backend{url: u, label: raw}
	b.setBase()
	b.setAddr()
	b.up.Store(true)
	return b, nil
}

// pick returns a backend in rotation other than exclude, or nil.
func (p *pool) pick(exclude *backend) *backend {
	bs := p.backends()
	n := len(bs)
	if n == 1 {
		if b := bs[0]; b != exclude && p.available(b) {
			return b
		}
		return nil
	}
	start := int(p.next.Add(1) % uint64(n))
	if p.leastConn {
		return p.pickLeast(bs, start, exclude)
	}
	for i := range n {
		if b := bs[(start+i)%n]; b != exclude && p.available(b) {
			return b
		}
	}
	return nil
}

// pickLeast returns the available backend with the fewest requests in
// flight; scanning from a rotating start breaks ties round robin.
func (p *pool) pickLeast(bs []*backend, start int, exclude *backend) *backend {
	var best *backend
	var bestN int64
	n := len(bs)
	for i := range n {
		b := bs[(start+i)%n]
		if b == exclude || !p.available(b) {
			continue
		}
		if in := b.inflight.Load(); best == nil || in < bestN {
			best, bestN = b, in
		}
	}
	return best
}

// up reports whether any backend is in rotation.
func (p *pool) up() bool {
	for _, b := range p.backends() {
		if p.available(b) {
			return true
		}
	}
	return false
}

// available reports whether b is in rotation. A passively ejected backend
// of a pool without an active check comes back once its backoff is over.
func (p *pool) available(b *backend) bool {
	if b.up.Load() {
		return !b.draining.Load()
	}
	if b.draining.Load() {
		return false
	}
	at := b.retryAt.Load()
	if at == 0 || p.clock.Now().UnixNano() < at {
		return false
	}
	// Half-open: one more failure ejects it again, for twice as long; its
	// first success makes it whole (succeeded).
	p.restore(b, p.maxFails-1, "backoff over")
	return b.up.Load()
}

// failed records a failed request to b (connection error or timeout).
func (p *pool) failed(b *backend, err error) {
	if p.maxFails <= 0 {
		return
	}
	if n := b.fails.Add(1); n >= p.maxFails {
		p.ejectPassive(b, n, err)
	}
}

// ejectPassive takes b out of rotation after n failed requests in a row,
// unless it is the last backend of the pool in rotation: as nginx never
// marks the last server of an upstream down, it keeps its requests, and a
// backend that restarts (a deploy) serves again at once. Without an active
// check, b is tried again after its backoff.
func (p *pool) ejectPassive(b *backend, n int32, err error) {
	p.ejecting.Lock()
	defer p.ejecting.Unlock()
	if !b.up.Load() {
		return
	}
	if !p.othersAvailable(b) {
		if n == p.maxFails {
			p.log.Warn("backend failing, kept in rotation: the last of its pool", "backend", b.label, "fails", n, "err", err)
		}
		b.suspectUntil.Store(p.clock.Now().Add(p.nextBackoff(b)).UnixNano())
		return
	}
	if !p.active {
		b.retryAt.Store(p.clock.Now().Add(p.nextBackoff(b)).UnixNano())
	}
	p.eject(b, fmt.Sprintf("%d consecutive failed requests, last: %v", n, err))
}

// nextBackoff is how long b, failing again, stays out (or suspect): 1 s
// first, twice as long at each time in a row, up to the cooldown.
func (p *pool) nextBackoff(b *backend) time.Duration {
	d := min(firstBackoff, p.cooldown)
	if prev := time.Duration(b.backoff.Load()); prev > 0 {
		d = min(2*prev, p.cooldown)
	}
	b.backoff.Store(int64(d))
	return d
}

// healthy reports whether a backend is in rotation that has not just
// failed maxFails requests in a row: the last backend that passive
// ejection keeps serves the side's clients when nothing better is there,
// but failover moves them to the other side while it is suspect, and
// sends it a request again once its backoff is over.
func (p *pool) healthy() bool {
	for _, b := range p.backends() {
		if !p.available(b) {
			continue
		}
		if p.maxFails <= 0 || b.fails.Load() < p.maxFails || p.clock.Now().UnixNano() >= b.suspectUntil.Load() {
			return true
		}
	}
	return false
}

// othersAvailable reports whether a backend of the pool other than b is in
// rotation.
func (p *pool) othersAvailable(b *backend) bool {
	for _, o := range p.backends() {
		if o != b && p.available(o) {
			return true
		}
	}
	return false
}

// succeeded records a response from b, which ends its run of failures and
// of ejections.
func (p *pool) succeeded(b *backend) {
	if b.fails.Load() != 0 {
		b.fails.Store(0)
	}
	if b.backoff.Load() != 0 {
		b.backoff.Store(0)
	}
}

// eject takes b out of rotation: by a passive ejection (ejectPassive) or
// the active check, which alone restores it when retryAt is 0.
func (p *pool) eject(b *backend, reason string) {
	b.ejectedAt.Store(p.clock.Now().UnixNano())
	if !b.up.CompareAndSwap(true, false) {
		return
	}
	b.passes.Store(0)
	p.tel.Ejection(b.label)
	p.tel.BackendUp(b.label, false)
	p.log.Warn("backend ejected", "backend", b.label, "reason", reason)
}

// restore puts b back in rotation with fails consecutive failures on record.
func (p *pool) restore(b *backend, fails int32, reason string) {
	if !b.up.CompareAndSwap(false, true) {
		return
	}
	b.fails.Store(max(fails, 0))
	p.tel.BackendUp(b.label, true)
	p.log.Info("backend restored", "backend", b.label, "reason", reason)
}

func (p *pool) status() []BackendStatus {
	bs := p.backends()
	out := make([]BackendStatus, 0, len(bs))
	for _, b := range bs {
		out = append(out, BackendStatus{
			Side:             p.side,
			URL:              b.label,
			Healthy:          p.available(b),
			InFlight:         b.inflight.Load(),
			ConsecutiveFails: int(b.fails.Load()),
			Pending:          b.pending.Load(),
			Draining:         b.draining.Load(),
		})
	}
	return out
}
