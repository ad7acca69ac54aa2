package main

import (
	"context"
	"fmt"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/spf13/cobra"

	"github.com/migratekit/migrate/admin"
)

// defaultDeployTimeout bounds the wait for a new backend's first passing
// check, as Argo Rollouts' progressDeadlineSeconds bounds a rollout step.
const defaultDeployTimeout = 2 * time.Minute

type deployOptions struct {
	*rootOptions
	adminFlags
	App      string
	Side     string
	Replace  []string
	With     []string
	Parallel int
	Timeout  time.Duration
	Reason   string
	Format   string

	clock clockwork.Clock
}

func newCmdDeploy(root *rootOptions) *cobra.Command {
	opts := &deployOptions{rootOptions: root, clock: clockwork.NewRealClock()}
	cmd := &cobra.Command{
		Use:   "deploy APP --side old|new --replace OLD_URL --with NEW_URL [--replace ... --with ...]",
		Short: "Replace backends of a running migrate one by one, without dropping a request",
		Long: `deploy replaces backends of APP's --side on the running migrate serve,
through its admin API. For each --replace OLD --with NEW pair it:

  1. adds NEW to the side (it gets no request yet),
  2. waits until NEW passes its first health check and is in rotation
     (at most --timeout),
  3. drains OLD: no new request goes to it, and those in flight finish
     (at most the manifest's drain),
  4. removes OLD.

Several pairs make a rolling deploy: one pair at a time, or --parallel N
at once. It stops at the first failure: no pair starts after it (pairs
already under way finish), and it says what state each pair is in:
untouched, NEW added but not in rotation, NEW in rotation with OLD
serving, OLD draining or drained, or done. Exit 1 when a NEW backend did
not pass its check within --timeout, 3 for another failure (the API's
answer is shown), 2 for bad arguments or pairs that do not match the
running backends (nothing is changed then).

On stdout: a line per step as it happens, then the summary; with
--format json, the summary alone as JSON (steps on stderr). Ctrl-C stops
it between steps, with the same summary.`,
		Example: `  migrate deploy shop --side new --replace http://10.1.0.5:3000 --with http://10.1.0.7:3000
  migrate deploy shop --side new \
    --replace http://10.1.0.5:3000 --with http://10.1.0.8:3000 \
    --replace http://10.1.0.6:3000 --with http://10.1.0.9:3000 --parallel 2 --format json`,
		Args: exactArgs(1, "one app name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.App = args[0]
			if err := opts.check(); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return deployRun(ctx, opts)
		},
	}
	opts.adminFlags.register(cmd)
	f := cmd.Flags()
	f.StringVar(&opts.Side, "side", "", "the side whose backends are replaced: old or new")
	f.StringArrayVar(&opts.Replace, "replace", nil, "a backend URL to replace (repeat, each with its --with)")
	f.StringArrayVar(&opts.With, "with", nil, "the backend URL that replaces the --replace in the same position")
	f.IntVar(&opts.Parallel, "parallel", 1, "pairs replaced at once")
	f.DurationVar(&opts.Timeout, "timeout", defaultDeployTimeout, "longest wait for a new backend's first passing check")
	f.StringVar(&opts.Reason, "reason", "", "why, recorded in the events (default: deploy OLD -> NEW)")
	f.StringVar(&opts.Format, "format", "text", "output format: text or json")
	return cmd
}

// check refuses arguments that do not make a deploy.
func (o *deployOptions) check() error {
	switch {
	case o.Side != admin.SideOld && o.Side != admin.SideNew:
		return usageErrorf("deploy needs --side old or --side new (got %q)", o.Side)
	case len(o.Replace) == 0:
		return usageErrorf("deploy needs at least one --replace OLD_URL --with NEW_URL pair")
	case len(o.Replace) != len(o.With):
		return usageErrorf("deploy takes --replace and --with in pairs: %d --replace, %d --with", len(o.Replace), len(o.With))
	case o.Parallel < 1:
		return usageErrorf("--parallel %d: at least 1", o.Parallel)
	case o.Timeout <= 0:
		return usageErrorf("--timeout must be positive, not %s", o.Timeout)
	}
	if err := checkFormat(o.Format); err != nil {
		return err
	}
	all := append(slices.Clone(o.Replace), o.With...)
	for i, u := range all {
		if err := admin.CheckBackendURL(u); err != nil {
			return usageErrorf("%s: %v", pairFlag(i, len(o.Replace)), err)
		}
		if slices.Index(all, u) != i {
			return usageErrorf("%s: %s is given twice", pairFlag(i, len(o.Replace)), u)
		}
	}
	return nil
}

// pairFlag names the flag of the i-th URL of Replace then With.
func pairFlag(i, n int) string {
	if i < n {
		return fmt.Sprintf("--replace #%d", i+1)
	}
	return fmt.Sprintf("--with #%d", i-n+1)
}

// checkPairs refuses pairs that do not match the running backends: each
// OLD must be on the side, no NEW anywhere in the app.
func (o *deployOptions) checkPairs(list []admin.Backend) error {
	for i, old := range o.Replace {
		if b, ok := findBackend(list, old); !ok || b.Side != o.Side {
			return usageErrorf("--replace %s: not a backend of %s's %s side (nothing changed); migrate backends list %s shows them", old, o.App, o.Side, o.App)
		}
		if b, ok := findBackend(list, o.With[i]); ok {
			return usageErrorf("--with %s: already a backend of %s's %s side (nothing changed)", o.With[i], o.App, b.Side)
		}
	}
	return nil
}

func deployRun(ctx context.Context, o *deployOptions) error {
	c, err := o.client(o.adminFlags)
	if err != nil {
		return err
	}
	list, err := c.Backends(ctx, o.App)
	if err != nil {
		return err
	}
	if err := o.checkPairs(list); err != nil {
		return err
	}
	d := newDeployer(o, c)
	d.run(ctx)
	return d.finish()
}

// deployFailed is the error of a deploy that stopped; the summary said
// what state each pair is in.
func deployFailed(p *deployPair) error {
	err := fmt.Errorf("deploy stopped: pair %d (%s -> %s) failed %s: %s", p.Index, p.Old, p.New, p.FailedStep, p.Error)
	if p.timedOut {
		return checkFailed(err)
	}
	return &exitError{code: exitRuntime, err: err}
}
