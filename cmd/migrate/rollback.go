package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/migratekit/migrate/rollback"
	"github.com/migratekit/migrate/state"
)

type rollbackOptions struct {
	*rootOptions
	adminFlags
	App    string
	Reason string
}

func newCmdRollback(root *rootOptions) *cobra.Command {
	opts := &rollbackOptions{rootOptions: root}
	cmd := &cobra.Command{
		Use:   "rollback APP",
		Short: "Send every client of APP back to the old side, now",
		Long: `rollback sets APP's weight to 0 on the running migrate (through its admin
API), saves it in the state store so every instance follows, pauses the
plan, records the event, runs the rollback hooks and notifies the webhook:
what the automatic rollback does, by hand. When the state store (Redis) is
down, the rollback is in force on that instance at once and saved in the
store when it is back (the API answers 202 and this command says so); the
other instances follow then.`,
		Example: `  migrate rollback shop --reason "checkout errors on new"
  migrate rollback watch shop`,
		Args: exactArgs(1, "one app name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.App = args[0]
			c, err := opts.client(opts.adminFlags)
			if err != nil {
				return err
			}
			reason := opts.Reason
			if reason == "" {
				reason = "manual rollback"
			}
			st, err := c.Rollback(cmd.Context(), opts.App, reason)
			if err != nil {
				return err
			}
			fmt.Fprintf(opts.IO.Out, "%s: rolled back, weight %d%% on new (phase %s)\n", st.App, st.Weight, st.Phase)
			printStoreNote(opts.IO.Err, st)
			return nil
		},
	}
	opts.adminFlags.register(cmd)
	cmd.Flags().StringVar(&opts.Reason, "reason", "", "why, recorded in the event")
	cmd.AddCommand(newCmdRollbackWatch(root))
	return cmd
}

func newCmdRollbackWatch(root *rootOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "watch APP",
		Short: "Run APP's rollback controller on its own, acting through the state store",
		Long: `watch runs APP's rollback analysis apart from the instances that serve it:
it evaluates the manifest's rollback rules on the app's source (typically
rollback.source: prometheus, for several migrate instances or for stacks
migrate does not front) and, when they fail, saves weight 0 in the state
store, which every instance follows, records the event, runs the hooks and
notifies. A Prometheus that does not answer does not stop it: the verdicts
are insufficient meanwhile, each outage and recovery is logged and
recorded, and it keeps querying. It runs until SIGINT or SIGTERM.`,
		Example: `  migrate rollback watch shop
  migrate --config prod/ rollback watch shop --log-format json`,
		Args: exactArgs(1, "one app name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := root.signalContext(cmd.Context())
			defer stop()
			return watchRun(ctx, root, args[0])
		},
	}
}

func watchRun(ctx context.Context, opts *rootOptions, app string) error {
	m, err := opts.loadManifest()
	if err != nil {
		return err
	}
	a, ok := m.Apps[app]
	if !ok {
		return usageErrorf("app %q is not in the manifest (apps: %v)", app, m.AppNames())
	}
	if a.Rollback.Source != "prometheus" {
		return usageErrorf("apps.%s.rollback.source is %s: rollback watch runs apart from migrate serve, so it needs source prometheus", app, a.Rollback.Source)
	}
	if a.Rollback.Prometheus == nil {
		return usageErrorf("apps.%s.rollback.prometheus is not set", app)
	}
	log := opts.logger()
	// Not queried now: a Prometheus that does not answer yet is reported
	// by the controller, which keeps trying (migrate validate
	// --check-sources checks it beforehand).
	src, err := rollback.NewPromSource(*a.Rollback.Prometheus, rollback.PromOptions{Logger: log})
	if err != nil {
		return usageErrorf("apps.%s.rollback.prometheus: %v", app, err)
	}
	store, err := state.OpenWith(ctx, m.Global.State, state.Options{DataDir: opts.DataDir, Logger: log})
	if err != nil {
		return fmt.Errorf("opening state: %w", err)
	}
	defer store.Close()
	mgr := rollback.NewManager(rollback.ManagerOptions{Store: store, Logger: log})
	if err := mgr.Add(rollback.StoreTarget{Store: store, App: app}, a, src); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	log.Info("watching", "app", app, "source", a.Rollback.Prometheus.URL)
	return mgr.Run(ctx)
}
