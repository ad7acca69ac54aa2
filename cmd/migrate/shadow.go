package main

import (
	"github.com/spf13/cobra"
)

func newCmdShadow(root *rootOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "shadow APP",
		Short: "Serve APP from old and mirror sampled requests to new, diffing every pair",
		Long: `shadow runs APP in the shadow phase: every client is served by the old side,
whatever the saved weight, and a copy of each sampled request (shadow.sample,
sticky by client; safe methods only unless a route opts in) goes to the new
side in parallel, off the request path. The two answers are compared and the
differences counted per endpoint and field; see them with
migrate compare report APP while it runs. The client never waits for the
mirror.

The saved weight is left as it is: with a shared state store (Redis) the
other instances keep serving it, and this one does not follow their
changes. A weight set, a plan started or a rollback taken through this
instance's admin API ends its shadow phase: it then serves and follows the
saved weight like migrate serve.`,
		Example: `  migrate shadow shop
  migrate compare report shop --format markdown`,
		Args: exactArgs(1, "one app name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := root.signalContext(cmd.Context())
			defer stop()
			return runInstance(ctx, root, args, true, "")
		},
	}
}
