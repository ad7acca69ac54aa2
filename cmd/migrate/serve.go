package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/migratekit/migrate/admin"
	"github.com/migratekit/migrate/lb"
	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/state"
	"github.com/migratekit/migrate/telemetry"
)

type serveOptions struct {
	*rootOptions
	Apps []string
}

func newCmdServe(root *rootOptions) *cobra.Command {
	opts := &serveOptions{rootOptions: root}
	return &cobra.Command{
		Use:   "serve [APP...]",
		Short: "Run the load balancer for the manifest's apps",
		Long: `serve runs the load-balancing core for the named apps (all of them when none
is named): it listens on each app's listen address, routes requests by Host,
splits clients between the old and new sides by the app's sticky weight,
checks backends' health, and serves the admin API (status, weights,
/metrics, /healthz) on admin.listen.

The weight set through the admin API is kept in --data-dir, so a restart
keeps it. SIGTERM or SIGINT stop accepting connections and drain in-flight
requests (up to defaults.drain) before exiting 0.`,
		Example: `  migrate serve
  migrate --config deploy/ serve shop blog
  MIGRATE_ADMIN_TOKEN=s3cret migrate serve --log-format json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Apps = args
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return serveRun(ctx, opts)
		},
	}
}

func serveRun(ctx context.Context, opts *serveOptions) error {
	m, err := opts.loadManifest()
	if err != nil {
		return err
	}
	for _, name := range opts.Apps {
		if _, ok := m.Apps[name]; !ok {
			return usageErrorf("app %q is not in the manifest (apps: %v)", name, m.AppNames())
		}
	}
	log := opts.logger()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics, err := telemetry.New(reg)
	if err != nil {
		return fmt.Errorf("registering metrics: %w", err)
	}
	store, err := state.Open(ctx, m.Global.State, opts.DataDir)
	if err != nil {
		return fmt.Errorf("opening state: %w", err)
	}
	defer store.Close()
	weights, err := savedWeights(ctx, store, m, opts.Apps)
	if err != nil {
		return err
	}
	proxy, err := lb.New(m, opts.Apps, lb.Options{Logger: log, Metrics: metrics, Weights: weights})
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	if err := proxy.Listen(); err != nil {
		return err
	}
	adminLn, err := net.Listen("tcp", m.Global.Admin.Listen)
	if err != nil {
		return fmt.Errorf("listening for the admin API: %w", err)
	}
	token := os.Getenv(m.Global.Admin.TokenEnv)
	if token == "" {
		log.Warn("admin writes are disabled: no token", "env", m.Global.Admin.TokenEnv)
	}
	api := admin.New(admin.Options{Logger: log, Token: token, Proxy: proxy, Metrics: metrics, Store: store, Gatherer: reg})
	logListening(log, proxy, adminLn)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return proxy.Serve(gctx) })
	g.Go(func() error { return api.Serve(gctx, adminLn) })
	if err := g.Wait(); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// savedWeights reads the weights kept in the state store, which win over
// the manifest's so that a restart keeps a cutover where it was.
func savedWeights(ctx context.Context, store state.Store, m *manifest.Manifest, apps []string) (map[string]int, error) {
	if len(apps) == 0 {
		apps = m.AppNames()
	}
	out := make(map[string]int)
	for _, app := range apps {
		w, ok, err := store.Weight(ctx, app)
		if err != nil {
			return nil, fmt.Errorf("reading saved weight of %s: %w", app, err)
		}
		if ok {
			out[app] = w
		}
	}
	return out, nil
}

func logListening(log *slog.Logger, proxy *lb.Proxy, adminLn net.Listener) {
	for listen, addr := range proxy.Addrs() {
		log.Info("proxy listening", "listen", listen, "addr", addr.String())
	}
	for _, a := range proxy.Apps() {
		log.Info("serving app", "app", a.Name(), "weight", a.Weight())
	}
	log.Info("admin API listening", "addr", adminLn.Addr().String())
}
