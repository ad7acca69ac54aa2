// Package serve assembles a running migrate instance from a manifest: the
// load-balancing core, the telemetry registry and statsd mirror, the state
// store that keeps weights across restarts, and the admin API. `migrate
// serve` and `migrate demo` are thin wrappers around it.
//
// It emits the metrics of the packages it wires (lb, telemetry), the health
// of its dependencies (health.go: the state store, the rollback sources)
// and the Go runtime and process collectors, on the admin listener's
// /metrics.
package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/migratekit/migrate/admin"
	"github.com/migratekit/migrate/dashboards"
	"github.com/migratekit/migrate/dnscheck"
	"github.com/migratekit/migrate/lb"
	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/rollback"
	"github.com/migratekit/migrate/state"
	"github.com/migratekit/migrate/telemetry"
)

// Options configure an instance.
type Options struct {
	Manifest *manifest.Manifest
	// Apps are the apps to serve; empty serves every app of the manifest.
	Apps []string
	// DataDir holds the embedded state store.
	DataDir string
	// Shadow runs the apps in the shadow phase: every client on old
	// whatever the saved weight, and sampled requests mirrored to new
	// (`migrate shadow`). The saved weight is neither changed nor
	// followed, until a weight is set through this instance.
	Shadow bool
	// Token is the admin API's bearer token; empty refuses writes.
	Token  string
	Logger *slog.Logger // nil: discard
	// Dashboard configures the web dashboard served on the admin listener
	// (its optional DNS, fallback and log sections); its Source and Logger
	// are filled in from the instance.
	Dashboard dashboards.Options
	// Load reads the manifest again, for Reload (SIGHUP, the admin API's
	// reload); nil: the instance cannot reload.
	Load func() (*manifest.Manifest, error)
}

// Instance is a migrate instance whose listeners are bound and which is
// ready to Run.
type Instance struct {
	Proxy    *lb.Proxy
	Admin    *admin.Server
	Metrics  *telemetry.Metrics
	Registry *prometheus.Registry

	Manager *rollback.Manager
	// Dashboard is the web dashboard, served at /dashboard/ on the admin
	// listener.
	Dashboard *dashboards.Dashboard

	// fallbacks polls fallback.admin for the straggler panel
	// (fallback.go); nil when no app sets it.
	fallbacks *remoteFallbacks

	diffs   *diffing
	logs    *logging  // lines shipped by embedded sinks (logs.go)
	dns     *dnsWatch // the watch of the apps' dns: records (dns.go)
	log     *slog.Logger
	store   state.Store
	adminLn net.Listener

	// What Reload needs (reload.go).
	reloading sync.Mutex
	load      func() (*manifest.Manifest, error)
	manifest  *manifest.Manifest // the one served
	apps      []string           // Options.Apps
	shadow    bool
}

// ErrUnknownApp is returned by New for an app the manifest does not have.
var ErrUnknownApp = errors.New("app is not in the manifest")

// New builds an instance and binds its listeners, so that an address in use
// is reported before anything is served. On error nothing stays open or
// bound.
func New(ctx context.Context, opts Options) (_ *Instance, err error) {
	m := opts.Manifest
	for _, name := range opts.Apps {
		if _, ok := m.Apps[name]; !ok {
			return nil, fmt.Errorf("%w: %q (apps: %v)", ErrUnknownApp, name, m.AppNames())
		}
	}
	inst := &Instance{log: opts.Logger, Registry: prometheus.NewRegistry(), load: opts.Load, apps: opts.Apps, shadow: opts.Shadow}
	if inst.log == nil {
		inst.log = slog.New(slog.DiscardHandler)
	}
	defer func() {
		if err != nil {
			inst.Close()
		}
	}()
	inst.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	inst.Metrics, err = telemetry.NewWithOptions(inst.Registry, telemetry.Options{
		Statsd: m.Global.Metrics.Statsd, Prefix: m.Global.Metrics.Prefix, Logger: inst.log,
	})
	if err != nil {
		return nil, fmt.Errorf("registering metrics: %w", err)
	}
	if inst.store, err = state.OpenWith(ctx, m.Global.State, state.Options{DataDir: opts.DataDir, Logger: inst.log}); err != nil {
		return nil, fmt.Errorf("opening state: %w", err)
	}
	names := opts.Apps
	if len(names) == 0 {
		names = m.AppNames()
	}
	weights, err := savedWeights(ctx, inst.store, names)
	if err != nil {
		return nil, err
	}
	if opts.Shadow {
		if m, err = shadowPhase(m, names, weights); err != nil {
			return nil, err
		}
	}
	if inst.diffs, err = inst.newDiffing(ctx, m, names, opts.DataDir); err != nil {
		return nil, err
	}
	if inst.logs, err = inst.newLogging(ctx, opts.DataDir); err != nil {
		return nil, err
	}
	inst.manifest = m
	inst.Proxy, err = lb.New(m, opts.Apps, lb.Options{Logger: inst.log, Metrics: inst.Metrics, Weights: weights, Mirrors: inst.diffs.lbMirrors()})
	if err != nil {
		return nil, fmt.Errorf("building the proxy: %w", err)
	}
	if inst.Manager, err = inst.newManager(m); err != nil {
		return nil, err
	}
	if opts.Shadow {
		if err := inst.startShadowPhase(names); err != nil {
			return nil, err
		}
	}
	if err := inst.Registry.Register(health{store: inst.store, manager: inst.Manager}); err != nil {
		return nil, fmt.Errorf("registering metrics: %w", err)
	}
	if inst.dns, err = inst.newDNSWatch(m, names, dnscheck.ResolvConf); err != nil {
		return nil, err
	}
	if inst.adminLn, err = net.Listen("tcp", m.Global.Admin.Listen); err != nil {
		return nil, fmt.Errorf("listening for the admin API: %w", err)
	}
	inst.fallbacks = newRemoteFallbacks(m, names, opts.Token, opts.Dashboard.Clock, inst.log)
	if inst.Dashboard, err = inst.newDashboard(opts.Dashboard); err != nil {
		return nil, err
	}
	inst.Admin = admin.New(admin.Options{
		Logger: inst.log, Token: opts.Token, TokenEnv: m.Global.Admin.TokenEnv, Proxy: inst.Proxy,
		Metrics: inst.Metrics, Control: inst.Manager, Gatherer: inst.Registry,
		Diffs: inst.diffs, Dashboard: inst.Dashboard.Handler(), Logs: inst.logs, DNS: inst.dns,
		Hosts: m.AdminHosts(), Reloader: inst,
	})
	// Last: the proxy's listeners have no Close of their own, so nothing
	// that can fail comes after them (a failed Listen unbinds what it
	// bound).
	if err := inst.Proxy.Listen(); err != nil {
		return nil, err
	}
	return inst, nil
}

// newDashboard builds the web dashboard on the instance's own status,
// series, diff reports and events.
func (i *Instance) newDashboard(opts dashboards.Options) (*dashboards.Dashboard, error) {
	opts.Source = dashboards.Local{
		Statuses: func() []admin.AppStatus {
			var out []admin.AppStatus
			for _, a := range i.Proxy.Apps() {
				if st, ok := i.Admin.Status(a.Name()); ok {
					out = append(out, st)
				}
			}
			return out
		},
		Gatherer: i.Registry,
		Reports:  i.diffs,
		Recorded: i.Manager.Events,
	}
	if opts.Logger == nil {
		opts.Logger = i.log
	}
	if opts.Fallback == nil && i.fallbacks != nil {
		opts.Fallback = i.fallbacks
	}
	if opts.DNS == nil && len(i.dns.watchers) > 0 {
		opts.DNS = i.dns
	}
	return dashboards.New(opts)
}

// AdminAddr is the bound address of the admin API.
func (i *Instance) AdminAddr() net.Addr { return i.adminLn.Addr() }

// Run serves until ctx is done, then drains the proxy and closes the
// instance. It returns nil after a clean drain.
func (i *Instance) Run(ctx context.Context) error {
	defer i.Close()
	for _, a := range i.Proxy.Apps() {
		i.log.Info("serving app", "app", a.Name(), "weight", a.Weight())
	}
	i.log.Info("admin API listening", "addr", i.AdminAddr().String())
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return i.Proxy.Serve(gctx) })
	g.Go(func() error { return i.Admin.Serve(gctx, i.adminLn) })
	g.Go(func() error { return i.Metrics.Run(gctx) })
	g.Go(func() error { return i.Manager.Run(gctx) })
	g.Go(func() error { return i.Dashboard.Run(gctx) })
	if i.fallbacks != nil {
		g.Go(func() error { return i.fallbacks.Run(gctx) })
	}
	for _, m := range i.diffs.mirrors {
		g.Go(func() error { return m.Run(gctx) })
	}
	for _, w := range i.dns.watchers {
		g.Go(func() error { return i.dns.run(gctx, w) })
	}
	return g.Wait()
}

// Close releases what New opened; Run calls it.
func (i *Instance) Close() error {
	var errs []error
	if i.adminLn != nil {
		if err := i.adminLn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	if i.store != nil {
		errs = append(errs, i.store.Close())
		i.store = nil
	}
	errs = append(errs, i.logs.close())
	if i.diffs != nil {
		errs = append(errs, i.diffs.close())
	}
	return errors.Join(errs...)
}

// savedWeights reads the weights kept in the state store, which win over
// the manifest's so that a restart keeps a cutover where it was. A store
// that is down answers its last known weights, which are served.
func savedWeights(ctx context.Context, store state.Store, apps []string) (map[string]int, error) {
	out := make(map[string]int)
	for _, app := range apps {
		w, ok, err := store.Weight(ctx, app)
		if err != nil && !errors.Is(err, state.ErrStoreDown) {
			return nil, fmt.Errorf("reading saved weight of %s: %w", app, err)
		}
		if ok {
			out[app] = w
		}
	}
	return out, nil
}

// shadowPhase returns a copy of m in which the named apps send every client
// to old and mirror old's clients to new (direction reverse becomes both,
// so that old's are mirrored too; both stays, so that new's clients are
// still mirrored if the weight is raised later), and sets their weights to
// 0. An app that mirrors nothing (shadow.sample 0%) is an error: there
// would be no shadow.
func shadowPhase(m *manifest.Manifest, names []string, weights map[string]int) (*manifest.Manifest, error) {
	out := *m
	out.Apps = maps.Clone(m.Apps)
	for _, name := range names {
		a := *m.Apps[name]
		if !shadowed(&a) {
			return nil, fmt.Errorf("%w: apps.%s.shadow.sample is 0%%", ErrNothingToShadow, name)
		}
		if a.Shadow.Direction == "reverse" {
			a.Shadow.Direction = "both"
		}
		out.Apps[name] = &a
		weights[name] = 0
	}
	return &out, nil
}

// ErrNothingToShadow is returned by New in shadow mode for an app whose
// sample is 0%.
var ErrNothingToShadow = errors.New("nothing to shadow")

// startShadowPhase puts the named apps in the shadow phase on this
// instance: their clients stay on old, and the saved weight, which other
// instances serve, is neither changed nor followed here.
func (i *Instance) startShadowPhase(names []string) error {
	for _, name := range names {
		if err := i.Manager.ShadowPhase(name); err != nil {
			return err
		}
		i.log.Info("shadow phase: every client on old here; the saved weight is left to the other instances", "app", name)
	}
	return nil
}
