package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/migratekit/migrate/admin"
)

type cutoverOptions struct {
	*rootOptions
	adminFlags
	App      string
	Weight   int
	Plan     bool
	Promote  bool
	Full     bool
	FromStep int
	Reason   string
}

func newCmdCutover(root *rootOptions) *cobra.Command {
	opts := &cutoverOptions{rootOptions: root}
	cmd := &cobra.Command{
		Use:   "cutover APP (--weight N | --plan | --promote [--full])",
		Short: "Set the share of clients (0-100) a running migrate sends to the new side, or run its plan",
		Long: `cutover sets APP's weight on the running migrate serve through its admin API:
the share of clients, 0 to 100, sent to the new side. Clients are sticky:
raising the weight only moves clients from old to new, lowering it only moves
them back. It takes effect on the next request and is kept across restarts.
A weight set by hand ends the app's progressive plan.

With --plan it starts APP's progressive plan (cutover.plan, for instance
[5, 25, 50, 100]), or resumes it after a rollback paused it: at its first
step, or at the step --from-step N names (1 is the first), never at the step
that failed. The plan advances a step once the rollback analysis passed for
the step's
cutover.step_min (default 5m) without interruption: an insufficient verdict
holds the step and restarts its clock, a failure rolls back and pauses the
plan. Its position is kept in the state store, so a restarted migrate goes
on where it was; migrate status APP shows it.

With --promote it moves the running plan to its next step now, on your
judgment, without waiting for the step's step_min; with --full, to its last
step. The new step then waits its own step_min as usual. A plan paused by a
rollback is resumed with --plan, not promoted.

The admin token is read from the variable named by admin.token_env
(default MIGRATE_ADMIN_TOKEN).`,
		Example: `  migrate cutover shop --weight 5
  migrate cutover shop --weight 100 --reason "new stack verified"
  migrate cutover shop --plan
  migrate cutover shop --plan --from-step 2
  migrate cutover shop --promote
  migrate cutover shop --promote --full
  MIGRATE_ADMIN_TOKEN=s3cret migrate cutover shop --weight 0 --admin 127.0.0.1:9090`,
		Args: exactArgs(1, "one app name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.App = args[0]
			if err := opts.check(cmd); err != nil {
				return err
			}
			return cutoverRun(cmd.Context(), opts)
		},
	}
	opts.adminFlags.register(cmd)
	cmd.Flags().IntVar(&opts.Weight, "weight", 0, "share of clients on the new side, 0-100")
	cmd.Flags().BoolVar(&opts.Plan, "plan", false, "start or resume the app's cutover.plan")
	cmd.Flags().BoolVar(&opts.Promote, "promote", false, "move the running plan to its next step now")
	cmd.Flags().BoolVar(&opts.Full, "full", false, "with --promote: to the plan's last step")
	cmd.Flags().IntVar(&opts.FromStep, "from-step", 0, "with --plan: start or resume at this step (1 is the first; default the first)")
	cmd.Flags().StringVar(&opts.Reason, "reason", "", "why, recorded in the log (with --weight)")
	return cmd
}

// check refuses flags that do not make one action.
func (o *cutoverOptions) check(cmd *cobra.Command) error {
	weight := cmd.Flags().Changed("weight")
	actions := 0
	for _, set := range []bool{weight, o.Plan, o.Promote} {
		if set {
			actions++
		}
	}
	switch {
	case actions > 1:
		return usageErrorf("cutover takes one of --weight N, --plan or --promote, not several")
	case o.Full && !o.Promote:
		return usageErrorf("--full goes with --promote")
	case cmd.Flags().Changed("from-step") && !o.Plan:
		return usageErrorf("--from-step goes with --plan")
	case cmd.Flags().Changed("from-step") && o.FromStep < 1:
		return usageErrorf("--from-step %d: steps count from 1", o.FromStep)
	case o.Plan || o.Promote:
		return o.checkPlan()
	case !weight:
		return usageErrorf("cutover needs --weight N (0-100), --plan or --promote")
	case o.Weight < 0 || o.Weight > 100:
		return usageErrorf("--weight %d is out of range 0-100", o.Weight)
	}
	return nil
}

// checkPlan refuses --plan for an app whose manifest has no cutover.plan.
// With --admin and no manifest, the running migrate answers for it.
func (o *cutoverOptions) checkPlan() error {
	m, err := o.loadManifest()
	if err != nil {
		if o.Admin != "" {
			return nil
		}
		return err
	}
	a := m.Apps[o.App]
	switch {
	case a != nil && len(a.Cutover.Plan) == 0:
		return usageErrorf("app %s has no cutover.plan to run", o.App)
	case a != nil && o.FromStep > len(a.Cutover.Plan):
		return usageErrorf("--from-step %d: apps.%s.cutover.plan has %d steps", o.FromStep, o.App, len(a.Cutover.Plan))
	}
	return nil
}

func cutoverRun(ctx context.Context, opts *cutoverOptions) error {
	c, err := opts.client(opts.adminFlags)
	if err != nil {
		return err
	}
	if opts.Plan || opts.Promote {
		start := func() (admin.AppStatus, error) { return c.StartPlan(ctx, opts.App, opts.FromStep) }
		if opts.Promote {
			start = func() (admin.AppStatus, error) { return c.PromotePlan(ctx, opts.App, opts.Full) }
		}
		st, err := start()
		if err != nil {
			return err
		}
		printPlan(opts, st)
		return nil
	}
	st, err := c.SetWeight(ctx, opts.App, opts.Weight, opts.Reason)
	if err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.Out, "%s: weight %d%% on new (phase %s)\n", st.App, st.Weight, st.Phase)
	printStoreNote(opts.IO.Err, st)
	return nil
}

func printPlan(opts *cutoverOptions, st admin.AppStatus) {
	defer printStoreNote(opts.IO.Err, st)
	if st.Plan == nil {
		fmt.Fprintf(opts.IO.Out, "%s: weight %d%% on new (phase %s)\n", st.App, st.Weight, st.Phase)
		return
	}
	p := st.Plan
	fmt.Fprintf(opts.IO.Out, "%s: plan %s at step %d/%d, weight %d%% on new; each step needs %s of pass\n",
		st.App, p.State, p.Step+1, len(p.Steps), st.Weight, p.StepMin)
}

// printStoreNote says on w that a write is in force on the instance only,
// the state store being down (the API answered 202).
func printStoreNote(w io.Writer, st admin.AppStatus) {
	if st.Store != nil && st.Store.Note != "" {
		fmt.Fprintf(w, "migrate: %s: %s\n", st.App, st.Store.Note)
	}
}
