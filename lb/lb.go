// Package lb is migrate's load-balancing core: the hot path between clients
// and the old and new stacks of the apps being migrated.
//
// A Proxy binds one listener per distinct listen address of the manifest
// (plain HTTP, or TLS 1.2+ from cert/key files), routes each request by Host
// to an App (421 for a host no app claims: never an open proxy), splits the
// app's clients between its old and new pools by a sticky, monotonic weight
// (client IP or cookie, see StickyPoint), balances within a pool (round robin
// or least connections), and proxies to the side. Retries of idempotent
// requests on another backend, passive ejection and active health checks,
// failover to the other side, websocket pass-through, CORS preflights
// answered in place and a graceful drain on shutdown are the same on
// either of its two data paths.
//
// # Data paths
//
// A request takes one of two paths:
//
//	client ─► listener ─┬─ TLS, or no app of the listener the loops can
//	                    │  serve (an https backend), or not Linux ──────┐
//	                    │                                               │
//	                    └─ plain HTTP: event loops (loop_linux.go) ─┐   │
//	                         proxied by the loop: HTTP/1.1 (and 1.0 │   │
//	                         with or without Host), origin-form, a  │   │
//	                         length or chunked body, 100-continue;  │   │
//	                         tunnelled by the loop: upgrades;       │   │
//	                         answered by the loop: 421, preflights  │   │
//	                         anything else (CONNECT, an upgrade     │   │
//	                         with a body, a doubtful head, a 421 or │   │
//	                         preflight with a body): the connection │   │
//	                         is handed over ────────────────────────┴─► net/http:
//	                                  httpgate.go ─► http.Server ─► router ─► httpApp
//	                                  ─► httputil.ReverseProxy ─► httpSide (httpupstream.go)
//
// Why two: the loops cost what nginx costs per request (one epoll loop
// per P, no goroutine per connection, nothing allocated per request),
// where net/http costs about twice as much; net/http's path has what the
// loops do not need to repeat: TLS, HTTP/2, rare upgrades, and a hardened
// parser for the heads the loops' parser declines (behind the gate, which
// applies the request rules to the raw head first). A loop decides nothing
// net/http's path decides otherwise: every rule is one function both
// paths call, each through a thin adapter for its form of the request (a
// head's bytes, an http.Request):
//   - the head rules (431, 505, 400, 501): h1.CheckHead, in the gate and
//     before a loop parses;
//   - which app, or 421/405: router.admit; a CORS preflight: preflight;
//   - the side of a client (the split, its sticky key): choose;
//   - hop-by-hop fields, X-Forwarded-*, the client IP through trusted
//     proxies: package internal/forward, which the shadow mirror uses too;
//   - whether a request may be sent twice: resendable and side.retries;
//   - an error's class and its answer: side.failed.
//
// The tests of proxying behaviour run on both paths (forEachPath), and
// TestBackendBytes compares the bytes a backend receives from each.
//
// # Layout
//
// The files show the design (TestLayout checks it on the type-checked
// package):
//   - the core, which names no path: the proxy and its listeners
//     (lb.go, serve.go: each listener is served by a pathServer), apps,
//     sides and pools (app.go, side.go, pool.go, resolve.go, health.go),
//     the router's rule (router.go), the rules (rules.go, errors.go,
//     cors.go, sticky.go) and the Mirror interfaces (mirror.go);
//   - the event loops, loop*.go (loop_linux.go: the server; loopconn:
//     a client connection's states; loopup: a backend connection;
//     loophead.go: the loops' adapters to the rules);
//   - net/http's path, http*.go (httpserve.go: the server; httpgate.go,
//     httptlsgate.go: the gate; httprouter.go, httpapp.go, httpside.go:
//     handler, app and side on net/http; httpupstream*.go: the HTTP/1.1
//     client to http backends);
//   - the junction, paths.go: which path serves a listener, each app's
//     handler on net/http, and the hand-over from the loops to the
//     listener's net/http server. Neither path uses the other's files;
//     both use the core, and only the junction uses both.
//
// Choices worth knowing:
//   - Backends receive the client's Host header (plus X-Forwarded-Host), not
//     the backend URL's host: both stacks serve the same site.
//   - Passive ejection counts connection errors and timeouts, not 5xx
//     answers: a 5xx is the app speaking, which the rollback analysis
//     judges. It never ejects the last backend of a pool in rotation (as
//     nginx never marks the last server of an upstream down), so a lone
//     backend that restarts serves again at once. With no active check, an
//     ejected backend is tried again after 1 s, then twice as long at each
//     ejection in a row up to the pool's cooldown, half-open (one more
//     failure ejects it again); its first success brings it back for good.
//   - Only idempotent requests (GET, HEAD, OPTIONS, DELETE, PUT with a body
//     of at most 1 MiB) are retried, once, on another backend of the same
//     side, and only when no response was received and the backend did not
//     time out waiting for headers.
//   - A request body is read, up to 1 MiB (all of a smaller one), before
//     a backend connection is taken for it, as nginx buffers bodies, so a
//     client that declares a body and stalls holds none; a body that stalls
//     for limits.client_body_timeout is answered 408.
//   - In cookie mode a cookie is minted only while the split is partial
//     (weight 1-99); at 0 and 100 every client is on one side anyway.
//   - Requests for a host no app claims (421) and CONNECT requests (405)
//     belong to no app: like the other requests the rules refuse, they are
//     counted per listener only (below).
//   - An app may have a Mirror (Options.Mirrors; package shadow implements
//     it), which sees each proxied request with the side that serves it and
//     proxies it through the handler it is given.
//
// It emits, through telemetry, per app and side: requests by status class
// and their duration (on the side that served them), the proxy's own errors
// by reason (unavailable, no_backend, connect, timeout, bad_gateway,
// canceled, client_body, cors_forbidden), retries, failovers, backend up/down
// and ejections, and the cutover weight; per listener, the requests the rules
// refuse, by status (400, 405, 408, 421, 431, 501, 505), on every path
// (router.refuse, side.proxyError). It logs backend health changes, weight
// changes and proxying failures.
package lb

import (
	"cmp"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/telemetry"
)

// A manifest built in Go may leave settings at zero: lb reads their
// defaults from package manifest (manifest.DefaultConnectTimeout, ...),
// where Load takes them from, and declares none of its own.

// defaultResolveEvery is how often the host names of backend URLs are
// resolved again (not a manifest setting; see resolve.go).
const defaultResolveEvery = 30 * time.Second

// ErrUnknownApp is returned by New for an app name the manifest lacks.
var ErrUnknownApp = errors.New("unknown app")

// Options are the dependencies of a Proxy.
type Options struct {
	Logger  *slog.Logger       // nil: discard
	Metrics *telemetry.Metrics // nil: record nothing
	Clock   clockwork.Clock    // nil: real clock (health checks, cooldowns)
	// Weights are initial weights per app (from the state store), overriding
	// the manifest's cutover weight; optional.
	Weights map[string]int
	// Mirrors are the mirrors of apps (by app name) that shadow their
	// traffic; optional, and ignored for apps not served. See Mirror.
	Mirrors map[string]Mirror
	// Middleware wraps the handler of an app (by app name): the wrapper
	// sees every request routed to the app, before CORS and the split, and
	// may answer it itself (the fallback's loop guard and arrival count).
	// Optional.
	Middleware map[string]func(http.Handler) http.Handler
	// UpstreamTLS are the TLS client settings of pools with https
	// backends (ServerName for SNI and verification, RootCAs), by app and
	// side; a pool without one verifies its backends against the system
	// roots for the host of their URL. Each is cloned. Optional.
	UpstreamTLS map[PoolKey]*tls.Config
	// Resolver resolves the host names of backend URLs (nil: Go's default
	// resolver), when serving starts and then every 30 s (see
	// resolve.go).
	Resolver *net.Resolver

	test testHooks // the tests' handles on the data paths (paths.go)
}

// PoolKey names one side's pool of an app: Side is telemetry.SideOld or
// telemetry.SideNew.
type PoolKey struct{ App, Side string }

// Proxy serves the apps of a manifest.
type Proxy struct {
	log       *slog.Logger
	metrics   *telemetry.Metrics
	errorLog  *log.Logger // for net/http's own messages, at debug level
	clock     clockwork.Clock
	drain     time.Duration
	set       atomic.Pointer[appSet] // replaced whole by a reload
	selected  []string               // the apps New was given (none: all)
	listeners []*listener            // sorted by listen address
	inflight  tracker
	buffers   bufferPool
	checkers  []*checker
	limits    requestLimits // the request rules' settings

	resolver     *net.Resolver
	resolveEvery time.Duration
	paths        paths // the junction's state (paths.go)

	mu   sync.Mutex // listeners, drain and run, which a reload changes
	run  *serving   // while Serve serves
	live liveChecks // the checks of backends (backends.go)
}

// sideDeps are what a side needs from its proxy.
type sideDeps struct {
	metrics  *telemetry.Metrics
	clock    clockwork.Clock
	buffers  *bufferPool
	errorLog *log.Logger
	tls      map[PoolKey]*tls.Config
	resolver *net.Resolver
}

// New builds a proxy for apps of m (all of them when apps is empty). It
// does not bind anything: see Listen and Serve.
func New(m *manifest.Manifest, apps []string, opts Options) (*Proxy, error) {
	if m == nil {
		return nil, errors.New("building proxy: no manifest")
	}
	p := &Proxy{
		log:     opts.Logger,
		metrics: opts.Metrics,
		clock:   opts.Clock,
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.clock == nil {
		p.clock = clockwork.NewRealClock()
	}
	p.errorLog = slog.NewLogLogger(p.log.Handler(), slog.LevelDebug)
	p.limits = requestLimits{
		headerBytes: int(cmp.Or(m.Global.Limits.HeaderBytes, manifest.DefaultHeaderBytes)),
		bodyTimeout: m.Global.Limits.ClientBodyTimeout.Or(manifest.DefaultClientBodyTimeout),
	}
	p.inflight.idle = make(chan struct{}, 1)
	p.live.proxy = p
	names, err := selectApps(m, apps)
	if err != nil {
		return nil, err
	}
	p.resolver, p.resolveEvery, p.paths.test = opts.Resolver, opts.test.resolveEvery, opts.test
	if p.resolver == nil {
		p.resolver = net.DefaultResolver
	}
	if p.resolveEvery == 0 {
		p.resolveEvery = defaultResolveEvery
	}
	p.selected = slices.Clone(apps)
	p.set.Store(&appSet{})
	p.mu.Lock()
	defer p.mu.Unlock()
	c, err := p.build(m, names, opts)
	if err != nil {
		return nil, err
	}
	p.commit(c)
	return p, nil
}

func selectApps(m *manifest.Manifest, apps []string) ([]string, error) {
	if len(apps) == 0 {
		names := make([]string, 0, len(m.Apps))
		for name := range m.Apps {
			names = append(names, name)
		}
		if len(names) == 0 {
			return nil, errors.New("building proxy: the manifest has no apps")
		}
		slices.Sort(names)
		return names, nil
	}
	names := slices.Clone(apps)
	slices.Sort(names)
	names = slices.Compact(names)
	for _, name := range names {
		if m.Apps[name] == nil {
			return nil, fmt.Errorf("building proxy for app %q: %w", name, ErrUnknownApp)
		}
	}
	return names, nil
}

// newApp builds app name of cfg; old is the app of that name served now
// (nil: none), whose weight it shares.
func newApp(name string, cfg *manifest.App, opts Options, deps sideDeps, p *Proxy, old *App) (*App, error) {
	trusted, err := ParseTrusted(cfg.TrustedProxies)
	if err != nil {
		return nil, err
	}
	a := &App{
		name:     name,
		trusted:  trusted,
		debug:    manifest.Bool(cfg.DebugHeaders, false),
		failover: manifest.Bool(cfg.Failover, false),
		cors:     newCORS(cfg.CORS),
		metrics:  deps.metrics,
		mirror:   opts.Mirrors[name],
		live:     &p.live,
		upgrades: cfg.Upgrades,
		log:      p.log.With("app", name),
	}
	if a.upgrades == nil {
		a.upgrades = manifest.DefaultUpgrades()
	}
	if err := a.configureSticky(cfg.Cutover); err != nil {
		return nil, err
	}
	if old != nil {
		a.weight = old.weight
	} else {
		w, err := initialWeight(name, cfg.Cutover, opts.Weights)
		if err != nil {
			return nil, err
		}
		a.weight = new(atomic.Int32)
		a.weight.Store(int32(w))
		deps.metrics.SetWeight(name, w)
	}
	for i, pc := range []manifest.Pool{cfg.Old, cfg.New} {
		if a.sides[i], err = newSide(a, i, pc, cfg.Timeouts, deps); err != nil {
			return nil, err
		}
	}
	return a, nil
}

func (a *App) configureSticky(c manifest.Cutover) error {
	switch cmp.Or(c.Sticky, manifest.DefaultSticky) {
	case "ip":
		return nil
	case "cookie":
		a.cookie = cmp.Or(c.Cookie, manifest.DefaultCookie)
		if !validCookieName(a.cookie) {
			return fmt.Errorf("sticky cookie name %q is not a valid cookie name", a.cookie)
		}
		return nil
	}
	return fmt.Errorf("sticky %q is not ip or cookie", c.Sticky)
}

func initialWeight(name string, c manifest.Cutover, weights map[string]int) (int, error) {
	w, ok := weights[name]
	if !ok && c.Weight != nil {
		w = *c.Weight
	}
	if w < 0 || w > 100 {
		return 0, fmt.Errorf("initial weight %d: %w", w, ErrWeightRange)
	}
	return w, nil
}

// App returns the app called name, or nil if it is not served.
func (p *Proxy) App(name string) *App { return p.apps().byName[name] }

// Apps returns the served apps sorted by name.
func (p *Proxy) Apps() []*App { return slices.Clone(p.apps().sorted) }

// apps is the proxy's app set now.
func (p *Proxy) apps() *appSet { return p.set.Load() }

// bufferPool recycles ReverseProxy's 32 KiB copy buffers. It stores array
// pointers so that neither Get nor Put allocates.
type bufferPool struct{ pool sync.Pool }

const copyBufferSize = 32 << 10

func (b *bufferPool) Get() []byte {
	if p, ok := b.pool.Get().(*[copyBufferSize]byte); ok {
		return p[:]
	}
	return new([copyBufferSize]byte)[:]
}

func (b *bufferPool) Put(buf []byte) {
	if len(buf) == copyBufferSize {
		b.pool.Put((*[copyBufferSize]byte)(buf))
	}
}
