package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

type cutoverOptions struct {
	*rootOptions
	adminFlags
	App    string
	Weight int
	Reason string
}

func newCmdCutover(root *rootOptions) *cobra.Command {
	opts := &cutoverOptions{rootOptions: root}
	cmd := &cobra.Command{
		Use:   "cutover APP --weight N",
		Short: "Set the share of clients (0-100) a running migrate sends to the new side",
		Long: `cutover sets APP's weight on the running migrate serve through its admin API:
the share of clients, 0 to 100, sent to the new side. Clients are sticky:
raising the weight only moves clients from old to new, lowering it only moves
them back. It takes effect on the next request and is kept across restarts.
The admin token is read from the variable named by admin.token_env
(default MIGRATE_ADMIN_TOKEN).`,
		Example: `  migrate cutover shop --weight 5
  migrate cutover shop --weight 100 --reason "new stack verified"
  MIGRATE_ADMIN_TOKEN=s3cret migrate cutover shop --weight 0 --admin 127.0.0.1:9090`,
		Args: exactArgs(1, "one app name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.App = args[0]
			if !cmd.Flags().Changed("weight") {
				return usageErrorf("cutover needs --weight N (0-100)")
			}
			if opts.Weight < 0 || opts.Weight > 100 {
				return usageErrorf("--weight %d is out of range 0-100", opts.Weight)
			}
			c, err := opts.client(opts.adminFlags)
			if err != nil {
				return err
			}
			st, err := c.SetWeight(cmd.Context(), opts.App, opts.Weight, opts.Reason)
			if err != nil {
				return err
			}
			fmt.Fprintf(opts.IO.Out, "%s: weight %d%% on new (phase %s)\n", st.App, st.Weight, st.Phase)
			return nil
		},
	}
	opts.adminFlags.register(cmd)
	cmd.Flags().IntVar(&opts.Weight, "weight", 0, "share of clients on the new side, 0-100")
	cmd.Flags().StringVar(&opts.Reason, "reason", "", "why, recorded in the log")
	return cmd
}
