package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/migratekit/migrate/demo"
	"github.com/migratekit/migrate/manifest"
)

type demoOptions struct {
	*rootOptions
	demo.Options
	Verbose bool
}

func newCmdDemo(root *rootOptions) *cobra.Command {
	opts := &demoOptions{rootOptions: root}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the embedded demo: sample old and new stacks, the proxy in shadow mode, traffic, the diff report",
		Long: `demo starts sample stacks of a small shop app on loopback: old, a second old
instance, and new, which has a price regression, reordered JSON keys, a
volatile timestamp, a slower search and a cart that fails one request in
fifty. It puts migrate in front of them in the shadow phase (every client
served by old, every safe request mirrored to new and diffed), sends traffic
from a crowd of sticky clients, and at the end (--duration, or Ctrl-C) prints
the diff report, which names the regression and not the reordered keys or the
timestamp, and old and new side by side. With --plan it also steps the
weight through a cutover. Nothing to install first.`,
		Example: `  go run ./cmd/migrate demo
  migrate demo --duration 30s
  migrate demo --duration 1m --plan 0,10,50,100
  migrate demo --listen 127.0.0.1:8080 --admin 127.0.0.1:9090`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := root.signalContext(cmd.Context())
			defer stop()
			return demoRun(ctx, opts)
		},
	}
	f := cmd.Flags()
	f.DurationVar(&opts.Duration, "duration", 0, "how long the demo runs (0: until Ctrl-C)")
	f.StringVar(&opts.Listen, "listen", "127.0.0.1:0", "proxy listen address")
	f.StringVar(&opts.Admin, "admin", "127.0.0.1:0", "admin API listen address")
	f.IntSliceVar(&opts.Plan, "plan", nil, "weights to step through, evenly over --duration (default: stay in the shadow phase)")
	f.IntVar(&opts.Rate, "rate", 200, fmt.Sprintf("requests per second (at most %d)", demo.MaxRate))
	f.IntVar(&opts.Clients, "clients", 200, fmt.Sprintf("distinct clients (at most %d)", demo.MaxClients))
	f.BoolVar(&opts.Verbose, "verbose", false, "log what the proxy does")
	return cmd
}

func demoRun(ctx context.Context, opts *demoOptions) error {
	for _, w := range opts.Plan {
		if w < 0 || w > 100 {
			return usageErrorf("--plan: weight %d is out of range 0-100", w)
		}
	}
	if opts.Clients < 1 || opts.Clients > demo.MaxClients {
		return usageErrorf("--clients %d: use 1 to %d", opts.Clients, demo.MaxClients)
	}
	if opts.Rate < 1 || opts.Rate > demo.MaxRate {
		return usageErrorf("--rate %d: use 1 to %d requests per second", opts.Rate, demo.MaxRate)
	}
	for flag, addr := range map[string]string{"--listen": opts.Listen, "--admin": opts.Admin} {
		if err := manifest.CheckListen(addr); err != nil {
			return usageErrorf("%s: %v", flag, err)
		}
	}
	if opts.Duration < 0 {
		return usageErrorf("--duration must not be negative")
	}
	if len(opts.Plan) > 0 && opts.Duration == 0 {
		return usageErrorf("--plan needs --duration to spread its steps over")
	}
	opts.Out = opts.IO.Out
	if opts.Verbose {
		opts.Logger = opts.logger()
	}
	sum, err := demo.Run(ctx, opts.Options)
	if err != nil {
		return err
	}
	if sum.Traffic.MovedBack > 0 {
		return checkFailed(fmt.Errorf("%d clients moved from new back to old while the weight only rose", sum.Traffic.MovedBack))
	}
	return nil
}
