package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/migratekit/migrate/admin"
	"github.com/migratekit/migrate/logship"
)

func newCmdLogs(root *rootOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "logs",
		Short: "Read the logs both sides ship to the running migrate",
		Long: `logs reads the lines that migrate logship sends to the embedded sink of the
running migrate serve, which keeps the recent lines of both sides.`,
		Example: `  migrate logs tail shop`,
		Args:    exactArgs(0, "a subcommand (tail)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return usageErrorf("%s needs a subcommand: tail; see %s --help", cmd.CommandPath(), cmd.CommandPath())
		},
	}
	cmd.AddCommand(newCmdLogsTail(root))
	return cmd
}

type logsTailOptions struct {
	*rootOptions
	adminFlags
	App    string
	Side   string
	Grep   string
	Since  time.Duration
	Limit  int
	Follow bool
	Format string
}

func newCmdLogsTail(root *rootOptions) *cobra.Command {
	opts := &logsTailOptions{rootOptions: root}
	cmd := &cobra.Command{
		Use:   "tail APP",
		Short: "Follow the merged logs of APP's old and new sides",
		Long: `tail prints APP's recent log lines from both sides, then follows new ones
as they arrive, until interrupted (SIGINT or SIGTERM). Each line is
prefixed by its side and host, and on a terminal the two sides have their
own colour (not with NO_COLOR set, nor when the output is not a terminal).
--format json prints each line's event as one JSON object a line, with its
parsed fields.`,
		Example: `  migrate logs tail shop
  migrate logs tail shop --side new --grep ' 5[0-9][0-9] '
  migrate logs tail shop --since 10m --follow=false
  migrate logs tail shop --format json | jq .status`,
		Args: exactArgs(1, "one app name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.App = args[0]
			if err := opts.check(); err != nil {
				return err
			}
			c, err := opts.client(opts.adminFlags)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return logsTailRun(ctx, c, opts)
		},
	}
	opts.adminFlags.register(cmd)
	f := cmd.Flags()
	f.StringVar(&opts.Side, "side", "", "only this side: old or new (default both)")
	f.StringVar(&opts.Grep, "grep", "", "only lines matching this regular expression (Go syntax)")
	f.DurationVar(&opts.Since, "since", 0, "only lines whose event time is at most this old (e.g. 10m)")
	f.IntVar(&opts.Limit, "lines", 100, "recent lines to print before following")
	f.BoolVar(&opts.Follow, "follow", true, "keep printing new lines as they arrive")
	f.StringVar(&opts.Format, "format", "text", "output format: text or json")
	return cmd
}

// check reports bad flags as usage errors, before reaching the server.
func (o *logsTailOptions) check() error {
	if err := checkFormat(o.Format); err != nil {
		return err
	}
	if o.Side != "" && o.Side != "old" && o.Side != "new" {
		return usageErrorf("--side %q: use old or new (or leave it out for both)", o.Side)
	}
	if _, err := regexp.Compile(o.Grep); err != nil {
		return usageErrorf("--grep %q is not a regular expression: %v", o.Grep, err)
	}
	if o.Since < 0 {
		return usageErrorf("--since %s: use a positive duration such as 10m", o.Since)
	}
	if o.Limit < 1 || o.Limit > logship.MaxQueryLimit {
		return usageErrorf("--lines %d: use a number from 1 to %d", o.Limit, logship.MaxQueryLimit)
	}
	return nil
}

func logsTailRun(ctx context.Context, c *admin.Client, opts *logsTailOptions) error {
	p := &linePrinter{w: opts.IO.Out, json: opts.Format == "json", color: useColor(opts.IO.Out)}
	q := admin.LogsQuery{Side: opts.Side, Grep: opts.Grep, Since: opts.Since, Limit: opts.Limit, Follow: opts.Follow}
	q.Recent = func(n int) {
		if n > 0 {
			return
		}
		msg := "no lines of %s (none shipped, or none matching)\n"
		if opts.Follow {
			msg = "no lines of %s yet (none shipped, or none matching); waiting for new ones from migrate logship (Ctrl-C stops)\n"
		}
		fmt.Fprintf(opts.IO.Err, msg, opts.App)
	}
	err := c.Logs(ctx, opts.App, q, p.print)
	if admin.IsNotFound(err) {
		return usageErrorf("logs of %s: %w", opts.App, err)
	}
	return err
}

// useColor says whether w is a terminal and NO_COLOR is unset.
func useColor(w io.Writer) bool {
	_, off := os.LookupEnv("NO_COLOR")
	return !off && isTerminal(w)
}

// linePrinter prints the events of a log stream.
type linePrinter struct {
	w     io.Writer
	json  bool
	color bool
}

// ANSI colours of the sides' prefixes.
const (
	colorOld   = "\x1b[33m" // yellow
	colorNew   = "\x1b[36m" // cyan
	colorReset = "\x1b[0m"
)

func (p *linePrinter) print(line []byte) error {
	if p.json {
		_, err := fmt.Fprintf(p.w, "%s\n", line)
		return err
	}
	ev, err := logship.DecodeEventJSON(line)
	if err != nil {
		return fmt.Errorf("reading a line of the log stream: %w", err)
	}
	prefix := fmt.Sprintf("%-3s %s", ev.Side, ev.Host)
	if p.color {
		c := colorOld
		if ev.Side == "new" {
			c = colorNew
		}
		prefix = c + prefix + colorReset
	}
	_, err = fmt.Fprintf(p.w, "%s | %s\n", prefix, ev.Record.Raw)
	return err
}
