package main

import (
	"context"
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/migratekit/migrate/dashboards"
	"github.com/migratekit/migrate/serve"
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
requests (up to defaults.drain) before exiting 0; while still starting, they
stop it at once, exiting 0. SIGHUP reloads the manifest live, as migrate
reload does (a manifest with problems is logged and changes nothing).

With state: {backend: redis}, an instance started while Redis is down serves
the last known state kept in --data-dir (redis-state.json) and catches up
when Redis is back; with no last known state it refuses to start (exit 3).
A damaged file in --data-dir (state.db, redis-state.json) is refused with
its path and what to do, exit 3. A rollback source that does not answer
does not stop it: see migrate validate --check-sources.`,
		Example: `  migrate serve
  migrate --config deploy/ serve shop blog
  MIGRATE_ADMIN_TOKEN=s3cret migrate serve --log-format json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Apps = args
			ctx, stop := root.signalContext(cmd.Context())
			defer stop()
			return serveRun(ctx, opts)
		},
	}
}

func serveRun(ctx context.Context, opts *serveOptions) error {
	return runInstance(ctx, opts.rootOptions, opts.Apps, false)
}

// runInstance serves apps (all when empty) until ctx ends; shadow runs them
// in the shadow phase.
func runInstance(ctx context.Context, opts *rootOptions, apps []string, shadow bool) error {
	m, err := opts.loadManifest()
	if err != nil {
		return err
	}
	log := opts.logger()
	token := os.Getenv(m.Global.Admin.TokenEnv)
	if token == "" {
		log.Warn("admin writes are disabled: no token", "env", m.Global.Admin.TokenEnv)
	}
	inst, err := serve.New(ctx, serve.Options{Manifest: m, Apps: apps, Shadow: shadow, DataDir: opts.DataDir, Token: token, Logger: log, Load: opts.loadManifest})
	switch {
	case errors.Is(err, serve.ErrUnknownApp) || errors.Is(err, serve.ErrNothingToShadow) || errors.Is(err, serve.ErrSource):
		return &exitError{code: exitUsage, err: err}
	case err != nil && ctx.Err() != nil:
		// SIGTERM or SIGINT while starting: nothing was served yet.
		log.Info("stopped while starting", "err", err)
		return nil
	case err != nil:
		return err
	}
	log.Info("dashboard", "url", "http://"+inst.AdminAddr().String()+dashboards.Prefix)
	reload := func() { _, _ = inst.Reload(ctx, "signal") } // logs what it did
	opts.onHUP.Store(&reload)
	defer opts.onHUP.Store(nil)
	if err := inst.Run(ctx); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}
