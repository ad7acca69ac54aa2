package fallback

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/migratekit/migrate/admin"
	"github.com/migratekit/migrate/dashboards"
	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/telemetry"
)

// InstanceOptions configure a fallback instance (`migrate fallback APP`).
type InstanceOptions struct {
	Manifest *manifest.Manifest
	App      string
	// ID is the loop guard's id; empty: DefaultID(App).
	ID string
	// Token is the admin API's bearer token (reads from loopback need
	// none).
	Token  string
	Logger *slog.Logger    // nil: discard
	Clock  clockwork.Clock // nil: the real clock
	// Dashboard configures the web dashboard served at /dashboard/ on the
	// admin listener; its Source and Fallback are filled in from the
	// instance, its Logger when nil.
	Dashboard dashboards.Options
}

// Instance is a fallback with its own metrics registry and admin listener
// (global admin.listen: /metrics, /healthz, the app's status,
// /api/v1/apps/{app}/fallback and the web dashboard at /dashboard/), bound
// and ready to Run.
type Instance struct {
	Fallback *Fallback
	Admin    *admin.Server
	Metrics  *telemetry.Metrics
	Registry *prometheus.Registry
	// Dashboard shows the app's new side and the stragglers.
	Dashboard *dashboards.Dashboard

	log     *slog.Logger
	adminLn net.Listener
}

// NewInstance builds a fallback instance and binds its listeners, so that
// an address in use is reported before anything is served.
func NewInstance(opts InstanceOptions) (_ *Instance, err error) {
	m := opts.Manifest
	inst := &Instance{log: opts.Logger, Registry: prometheus.NewRegistry()}
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
	inst.Fallback, err = New(m, opts.App, Options{Logger: inst.log, Metrics: inst.Metrics, Clock: opts.Clock, ID: opts.ID})
	if err != nil {
		return nil, err
	}
	if inst.adminLn, err = net.Listen("tcp", m.Global.Admin.Listen); err != nil {
		return nil, fmt.Errorf("listening for the admin API: %w", err)
	}
	if inst.Dashboard, err = inst.newDashboard(opts.Dashboard); err != nil {
		return nil, err
	}
	inst.Admin = admin.New(admin.Options{
		Logger: inst.log, Token: opts.Token, TokenEnv: m.Global.Admin.TokenEnv, Proxy: inst.Fallback.Proxy(),
		Metrics: inst.Metrics, Gatherer: inst.Registry, Fallback: inst.Fallback,
		Dashboard: inst.Dashboard.Handler(), Hosts: m.AdminHosts(),
	})
	// Last: the proxy's listener has no Close of its own, so nothing that
	// can fail comes after it.
	if err := inst.Fallback.Listen(); err != nil {
		return nil, err
	}
	return inst, nil
}

// AdminAddr is the bound address of the admin API.
func (i *Instance) AdminAddr() net.Addr { return i.adminLn.Addr() }

// Run serves until ctx is done, then drains the proxy (up to the
// manifest's drain deadline) and closes the instance.
func (i *Instance) Run(ctx context.Context) error {
	defer i.Close()
	i.log.Info("fallback forwarding to the new side", "app", i.Fallback.app, "listen", i.Fallback.Addr().String(), "loop_guard_id", i.Fallback.ID())
	i.log.Info("admin API listening", "addr", i.AdminAddr().String(), "dashboard", "http://"+i.AdminAddr().String()+dashboards.Prefix)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return i.Fallback.Run(gctx) })
	g.Go(func() error { return i.Admin.Serve(gctx, i.adminLn) })
	g.Go(func() error { return i.Metrics.Run(gctx) })
	g.Go(func() error { return i.Dashboard.Run(gctx) })
	return g.Wait()
}

// Close releases the admin listener; Run calls it.
func (i *Instance) Close() error {
	if i.adminLn == nil {
		return nil
	}
	if err := i.adminLn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}
