package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/migratekit/migrate/admin"
	"github.com/migratekit/migrate/telemetry"
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
	fmt.Fprintf(w, "%s  weight %d%% on new  phase %s\n\n", st.App, st.Weight, st.Phase)
	old, nw := st.Sides[telemetry.SideOld], st.Sides[telemetry.SideNew]
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\told\tnew\t\n")
	fmt.Fprintf(tw, "requests\t%d\t%d\t\n", old.Requests, nw.Requests)
	fmt.Fprintf(tw, "errors (5xx)\t%d\t%d\t\n", old.Errors, nw.Errors)
	fmt.Fprintf(tw, "error rate\t%.2f%%\t%.2f%%\t\n", old.ErrorRate*100, nw.ErrorRate*100)
	fmt.Fprintf(tw, "p50\t%.1f ms\t%.1f ms\t\n", old.P50Ms, nw.P50Ms)
	fmt.Fprintf(tw, "p99\t%.1f ms\t%.1f ms\t\n", old.P99Ms, nw.P99Ms)
	fmt.Fprintf(tw, "backends up\t%s\t%s\t\n", upCount(st.Backends, telemetry.SideOld), upCount(st.Backends, telemetry.SideNew))
	return tw.Flush()
}

func upCount(bs []admin.Backend, side string) string {
	up, all := 0, 0
	for _, b := range bs {
		if b.Side != side {
			continue
		}
		all++
		if b.Healthy {
			up++
		}
	}
	return fmt.Sprintf("%d/%d", up, all)
}
