package main

import (
	"encoding/json"
	"io"

	"github.com/spf13/cobra"

	"github.com/migratekit/migrate/admin"
)

type statusOptions struct {
	*rootOptions
	adminFlags
	App    string
	Format string
}

func newCmdStatus(root *rootOptions) *cobra.Command {
	opts := &statusOptions{rootOptions: root}
	cmd := &cobra.Command{
		Use:   "status APP",
		Short: "Show an app's weight, phase and per-side numbers from a running migrate",
		Long: `status asks the running migrate serve (its admin API) for APP's weight,
phase, backends and per-side requests, errors, error rate and latency, and
prints old and new side by side.`,
		Example: `  migrate status shop
  migrate status shop --format json
  migrate status shop --admin 127.0.0.1:9090`,
		Args: exactArgs(1, "one app name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.App = args[0]
			if err := checkFormat(opts.Format); err != nil {
				return err
			}
			c, err := opts.client(opts.adminFlags)
			if err != nil {
				return err
			}
			st, err := c.App(cmd.Context(), opts.App)
			if err != nil {
				return err
			}
			return printStatus(opts.IO.Out, opts.Format, st)
		},
	}
	opts.adminFlags.register(cmd)
	cmd.Flags().StringVar(&opts.Format, "format", "text", "output format: text or json")
	return cmd
}

func printStatus(w io.Writer, format string, st admin.AppStatus) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	return st.WriteText(w)
}
