// Package fallback is the old host's proxy_pass fallback, a mode of package
// lb: run on the old host once DNS points at the new stack, it forwards
// every request that still arrives there to the new side, and counts who
// still arrives, so that the old host is retired only once they are gone.
//
// A Fallback serves one app through an lb.Proxy whose every client is on
// the new side (weight 100) and whose backends are fallback.backends
// (default new.backends). lb keeps the client's Host, sets
// X-Forwarded-For and -Proto, passes websockets, and for an https backend
// sends fallback.server_name as SNI and verifies the certificate for that
// name against fallback.ca (default the system's roots).
//
// The loop guard: every forwarded request carries X-Migrate-Fallback with
// the fallback's id appended (see DefaultID); a request that already
// carries the id has been through this fallback before (DNS or a backend
// pointing back at the old host) and is answered 508 Loop Detected, never
// forwarded.
//
// Counting: every request (but loops) is counted per second over a
// sliding minute and its client (the peer, or the X-Forwarded-For client
// behind trusted_proxies) in rotating HyperLogLog sketches over the last
// hour; see Counter. Status reports them with since when the rate has
// stayed under fallback.retire_below, which `dnscheck watch` reads from the
// admin API to say when retiring the old host is safe.
//
// An Instance (`migrate fallback APP`) also serves the web dashboard of
// package dashboards on its admin listener: the app's new side as the
// fallback forwards to it, and the straggler panel from the counter.
//
// RenderNginx renders the same fallback as an nginx server block for old
// hosts that run nginx.
//
// It emits through telemetry the migrate_fallback_* series (requests,
// loops, requests per minute, distinct clients, time under the retire
// threshold) besides lb's per-side series, and logs each loop it breaks.
package fallback

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"golang.org/x/sync/errgroup"

	"github.com/migratekit/migrate/admin"
	"github.com/migratekit/migrate/lb"
	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/telemetry"
)

// Header is the loop guard's request header: the ids of the fallbacks a
// request went through.
const Header = "X-Migrate-Fallback"

// tickEvery is how often the arrival gauges and the retire tracker are
// refreshed.
const tickEvery = time.Second

var (
	// ErrUnknownApp is returned for an app the manifest does not have.
	ErrUnknownApp = errors.New("app is not in the manifest")
	// ErrConfig is returned for a fallback setting that cannot work: a
	// loop guard id with other characters than letters, digits, '-', '_'
	// and '.', or a fallback.ca that cannot be read or holds no
	// certificate.
	ErrConfig = errors.New("bad fallback setting")
)

// Options are the dependencies of a Fallback.
type Options struct {
	Logger  *slog.Logger       // nil: discard
	Metrics *telemetry.Metrics // nil: record nothing
	Clock   clockwork.Clock    // nil: the real clock
	// ID is the loop guard's id; empty: DefaultID(app).
	ID string
}

// Fallback forwards one app's stragglers to its new side and counts them.
type Fallback struct {
	app         string
	id          string
	listen      string
	proxy       *lb.Proxy
	counter     *Counter
	retire      retireTracker
	retireAfter time.Duration
	guard       *guard
	tel         *telemetry.Fallback
	statusMu    sync.Mutex // one Status at a time, so observations are in clock order
	clock       clockwork.Clock
	log         *slog.Logger
}

// DefaultID is the loop guard id of app on this machine: the first 12 hex
// digits of a SHA-256 of the host name and the app, so that it is stable
// across restarts, differs between hosts, and names neither.
func DefaultID(app string) string {
	host, _ := os.Hostname()
	sum := sha256.Sum256([]byte(host + "\x00" + app))
	return hex.EncodeToString(sum[:6])
}

// New builds the fallback of app. It binds nothing: see Listen and Run.
func New(m *manifest.Manifest, app string, opts Options) (*Fallback, error) {
	if m == nil || m.Apps[app] == nil {
		var names []string
		if m != nil {
			names = m.AppNames()
		}
		return nil, fmt.Errorf("building fallback: %w: %q (apps: %v)", ErrUnknownApp, app, names)
	}
	cfg := m.Apps[app]
	f := &Fallback{
		app:         app,
		id:          opts.ID,
		listen:      proxyListen(cfg),
		counter:     NewCounter(opts.Clock),
		retire:      retireTracker{below: retireBelow(cfg)},
		retireAfter: cfg.Fallback.RetireAfter.Or(manifest.DefaultRetireAfter),
		tel:         opts.Metrics.Fallback(app),
		clock:       opts.Clock,
		log:         opts.Logger,
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	f.log = f.log.With("app", app)
	if f.clock == nil {
		f.clock = clockwork.NewRealClock()
	}
	if f.id == "" {
		f.id = DefaultID(app)
	}
	if err := validID(f.id); err != nil {
		return nil, fmt.Errorf("building fallback of %s: %w", app, err)
	}
	if err := f.build(m, cfg, opts); err != nil {
		return nil, fmt.Errorf("building fallback of %s: %w", app, err)
	}
	return f, nil
}

func (f *Fallback) build(m *manifest.Manifest, cfg *manifest.App, opts Options) error {
	tlsCfg, err := upstreamTLS(cfg)
	if err != nil {
		return err
	}
	trusted, err := lb.ParseTrusted(cfg.TrustedProxies)
	if err != nil {
		return err
	}
	f.guard = &guard{id: f.id, value: []string{f.id}, trusted: trusted, counter: f.counter, tel: f.tel, log: f.log}
	lbOpts := lb.Options{
		Logger: opts.Logger, Metrics: opts.Metrics, Clock: opts.Clock,
		Weights:    map[string]int{f.app: 100},
		Middleware: map[string]func(http.Handler) http.Handler{f.app: f.guard.wrap},
	}
	if tlsCfg != nil {
		lbOpts.UpstreamTLS = map[lb.PoolKey]*tls.Config{{App: f.app, Side: telemetry.SideNew}: tlsCfg}
	}
	f.proxy, err = lb.New(proxyManifest(m, f.app), []string{f.app}, lbOpts)
	return err
}

func retireBelow(cfg *manifest.App) float64 {
	if cfg.Fallback.RetireBelow != nil {
		return *cfg.Fallback.RetireBelow
	}
	return manifest.DefaultRetireBelow
}

// ID is the loop guard's id.
func (f *Fallback) ID() string { return f.id }

// Proxy is the lb core serving the fallback (for the admin API).
func (f *Fallback) Proxy() *lb.Proxy { return f.proxy }

// Counter is the fallback's arrival counter.
func (f *Fallback) Counter() *Counter { return f.counter }

// Listen binds the fallback's listener.
func (f *Fallback) Listen() error { return f.proxy.Listen() }

// Addr is the bound address of the fallback's listener, or nil before
// Listen.
func (f *Fallback) Addr() net.Addr { return f.proxy.Addrs()[f.listen] }

// Run serves the bound listener and refreshes the arrival gauges every
// second until ctx is done, then drains as lb.Proxy.Serve does.
func (f *Fallback) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return f.proxy.Serve(gctx) })
	g.Go(func() error {
		t := f.clock.NewTicker(tickEvery)
		defer t.Stop()
		for {
			select {
			case <-gctx.Done():
				return nil
			case <-t.Chan():
				f.Status()
			}
		}
	})
	return g.Wait()
}

// Status counts the arrivals now, updates since when they have stayed
// under the retire threshold and the gauges, and returns them.
func (f *Fallback) Status() admin.FallbackStatus {
	f.statusMu.Lock()
	defer f.statusMu.Unlock()
	now := f.clock.Now()
	rpm, clients := f.counter.perMinuteAt(now), f.counter.clientsAt(now)
	since := f.retire.observe(now, rpm)
	st := admin.FallbackStatus{
		App:                f.app,
		RequestsPerMinute:  rpm,
		ClientsLastHour:    clients,
		RetireBelow:        f.retire.below,
		RetireAfterSeconds: f.retireAfter.Seconds(),
	}
	var below time.Duration
	if !since.IsZero() {
		s := since.UTC().Truncate(time.Second)
		st.BelowSince = &s
		below = now.Sub(since)
	}
	f.tel.Arrivals(rpm, clients, below)
	return st
}

// FallbackStatus implements admin.FallbackReporter.
func (f *Fallback) FallbackStatus(app string) (admin.FallbackStatus, bool) {
	if app != f.app {
		return admin.FallbackStatus{}, false
	}
	return f.Status(), true
}
