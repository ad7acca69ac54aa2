package main

import (
	"context"
	"fmt"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/migratekit/migrate/compare"
	"github.com/migratekit/migrate/logship"
	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/telemetry"
)

type logshipOptions struct {
	*rootOptions
	App           string
	Side          string
	MetricsListen string
}

func newCmdLogship(root *rootOptions) *cobra.Command {
	opts := &logshipOptions{rootOptions: root}
	cmd := &cobra.Command{
		Use:   "logship APP --side old|new",
		Short: "Ship one side's log files to the app's log sink, losing nothing",
		Long: `logship tails the files of APP's logs.old or logs.new (globs, re-scanned),
parses each line with the side's format, labels it with app, side, host and
file, and sends it in batches to logs.sink. It checkpoints in the data dir
only what the sink acknowledged, so a restart resumes without losing a
line; rotation (rename or copytruncate) and truncation are followed, and
lines that do not parse are shipped raw with their parse error. It runs
until SIGINT or SIGTERM, then delivers what it read and saves its
checkpoints. With --metrics-listen, its counters (migrate_logship_*, lines,
parse errors, rotations, deliveries, dead letters, checkpoint lag) are
served on http://ADDR/metrics for Prometheus.`,
		Example: `  migrate logship shop --side old
  migrate logship shop --side new --data-dir /var/lib/migrate --metrics-listen 127.0.0.1:9465`,
		Args: exactArgs(1, "one app name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.App = args[0]
			ctx, stop := root.signalContext(cmd.Context())
			defer stop()
			return logshipRun(ctx, opts)
		},
	}
	cmd.Flags().StringVar(&opts.Side, "side", "", "the side whose logs to ship: old or new (required)")
	cmd.Flags().StringVar(&opts.MetricsListen, "metrics-listen", "", "serve the shipper's metrics on http://ADDR/metrics")
	return cmd
}

func logshipRun(ctx context.Context, opts *logshipOptions) error {
	if opts.Side != "old" && opts.Side != "new" {
		return usageErrorf("--side %q: use old or new", opts.Side)
	}
	m, err := opts.loadManifest()
	if err != nil {
		return err
	}
	a, ok := m.Apps[opts.App]
	if !ok {
		return usageErrorf("app %q is not in the manifest (apps: %v)", opts.App, m.AppNames())
	}
	src := a.Logs.Old
	if opts.Side == "new" {
		src = a.Logs.New
	}
	if src == nil || a.Logs.Sink == nil {
		return usageErrorf("apps.%s.logs.%s is not set: nothing to ship", opts.App, opts.Side)
	}
	log := opts.logger()
	reg := prometheus.NewRegistry()
	metrics, err := telemetry.NewWithOptions(reg, telemetry.Options{
		Statsd: m.Global.Metrics.Statsd, Prefix: m.Global.Metrics.Prefix, Logger: log,
	})
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("setting up metrics: %w", err)}
	}
	cfg, err := sourceConfig(opts.App, opts.Side, a, src)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	sink, err := logship.NewSinkFromConfig(sinkConfig(a.Logs.Sink, m.Global.Admin), opts.App, opts.Side, opts.DataDir, log, metrics)
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("apps.%s.logs.sink: %w", opts.App, err)}
	}
	s := a.Logs.Sink
	sh, err := logship.NewShipper(logship.ShipperOptions{
		Source: cfg, Sink: sink, DataDir: opts.DataDir,
		BatchSize: s.BatchSize, BatchBytes: int(s.BatchBytes), BatchWait: s.BatchWait.D(),
		Logger: log, Metrics: metrics.Logship(opts.App, opts.Side),
	})
	if err != nil {
		sink.Close()
		return err
	}
	if opts.MetricsListen != "" {
		stopMetrics, err := serveMetrics(opts.MetricsListen, reg)
		if err != nil {
			sink.Close()
			return err
		}
		defer stopMetrics()
	}
	if env := m.Global.Admin.TokenEnv; s.Type == "embedded" && os.Getenv(env) == "" {
		log.Warn("no admin token: the embedded sink of migrate serve will refuse the batches until it is set", "env", env)
	}
	log.Info("shipping logs", "app", opts.App, "side", opts.Side, "paths", src.Paths, "sink", s.Type)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return metrics.Run(gctx) })
	g.Go(func() error { return sh.Run(gctx) })
	return g.Wait()
}

// sourceConfig is the shipper's view of a side's logs: the manifest's
// settings, the host name by default, and the app's shadow routes as
// endpoint templates.
func sourceConfig(app, side string, a *manifest.App, src *manifest.LogSource) (logship.SourceConfig, error) {
	host := src.Host
	if host == "" {
		host, _ = os.Hostname()
	}
	var routes []string
	for _, r := range a.Shadow.Routes {
		routes = append(routes, r.Path)
	}
	tpl, err := compare.NewTemplater(routes)
	if err != nil {
		return logship.SourceConfig{}, fmt.Errorf("apps.%s.shadow.routes: %w", app, err)
	}
	return logship.SourceConfig{
		App: app, Side: side, Host: host, Paths: src.Paths,
		Format: src.Format, LogFormat: src.LogFormat, Template: tpl.Template,
		MaxLine: int(src.MaxLine), FlushTimeout: src.FlushTimeout.D(), ReadFrom: src.ReadFrom,
	}, nil
}

// sinkConfig copies the manifest's logs.sink for the logship package; an
// embedded sink reaches the admin listener of the manifest, with its token.
func sinkConfig(s *manifest.LogSink, admin manifest.Admin) logship.SinkConfig {
	return logship.SinkConfig{
		Type: s.Type, Path: s.Path, URL: s.URL, Index: s.Index, Tenant: s.Tenant,
		Headers: s.Headers, Admin: s.Admin, AdminListen: admin.Listen, TokenEnv: admin.TokenEnv,
		Timeout: s.Timeout.D(), MaxBackoff: s.MaxBackoff.D(),
	}
}
