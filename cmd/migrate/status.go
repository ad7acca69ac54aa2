package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/migratekit/migrate/admin"
)

type statusOptions struct {
	*rootOptions
	adminFlags
	App      string
	Format   string
	Watch    bool
	Interval time.Duration
	Count    int
}

func newCmdStatus(root *rootOptions) *cobra.Command {
	opts := &statusOptions{rootOptions: root}
	cmd := &cobra.Command{
		Use:   "status APP",
		Short: "Show an app's weight, phase and per-side numbers from a running migrate",
		Long: `status asks the running migrate serve (its admin API) for APP's weight,
phase, backends and per-side requests, errors, error rate and latency, and
prints old and new side by side.

With --watch it asks again every --interval: on a terminal the numbers are
redrawn in place, with each side's requests per second since the previous
refresh; piped, the refreshes follow each other; with --format json each
refresh is one JSON object on its own line. A failed refresh is shown and
the watch goes on, until Ctrl-C or --count refreshes.`,
		Example: `  migrate status shop
  migrate status shop --format json
  migrate status shop --watch
  migrate status shop --watch --interval 5s --format json --count 12
  migrate status shop --admin 127.0.0.1:9090`,
		Args: exactArgs(1, "one app name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.App = args[0]
			if err := checkFormat(opts.Format); err != nil {
				return err
			}
			if opts.Interval <= 0 {
				return usageErrorf("--interval must be positive, not %s", opts.Interval)
			}
			if opts.Count < 0 {
				return usageErrorf("--count must not be negative")
			}
			c, err := opts.client(opts.adminFlags)
			if err != nil {
				return err
			}
			if opts.Watch {
				ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
				defer stop()
				return watchStatus(ctx, opts, c)
			}
			st, err := c.App(cmd.Context(), opts.App)
			if err != nil {
				return err
			}
			return printStatus(opts.IO.Out, opts.Format, st)
		},
	}
	opts.adminFlags.register(cmd)
	f := cmd.Flags()
	f.StringVar(&opts.Format, "format", "text", "output format: text or json")
	f.BoolVarP(&opts.Watch, "watch", "w", false, "refresh every --interval until Ctrl-C")
	f.DurationVar(&opts.Interval, "interval", 2*time.Second, "time between refreshes with --watch")
	f.IntVar(&opts.Count, "count", 0, "with --watch, stop after this many refreshes (0: until Ctrl-C)")
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

// watchStatus refreshes until ctx ends or --count refreshes. An app the
// instance does not serve ends the watch; any other failed refresh is
// shown and the watch goes on.
func watchStatus(ctx context.Context, opts *statusOptions, c *admin.Client) error {
	screen := &admin.Screen{W: opts.IO.Out, TTY: writesToTerminal(opts.IO.Out)}
	enc := json.NewEncoder(opts.IO.Out)
	t := time.NewTicker(opts.Interval)
	defer t.Stop()
	for n := 1; ; n++ {
		st, err := c.App(ctx, opts.App)
		switch {
		case ctx.Err() != nil:
			return nil
		case admin.IsNotFound(err):
			return err
		case err != nil && opts.Format == "json":
			opts.logger().Warn("refreshing status", "app", opts.App, "err", err)
		case err != nil:
			err = screen.DrawError(err, time.Now())
		case opts.Format == "json":
			err = enc.Encode(st)
		default:
			err = screen.Draw(st, time.Now())
		}
		if err != nil {
			return err
		}
		if opts.Count > 0 && n >= opts.Count {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// writesToTerminal reports whether w is a character device (a terminal).
func writesToTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
