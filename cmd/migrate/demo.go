package main

import (
	"context"
	"fmt"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/migratekit/migrate/demo"
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
		Short: "Run the embedded demo: sample old and new stacks, the proxy, traffic and a cutover",
		Long: `demo starts two sample stacks of a small shop app on loopback (old, and a
new one with a price regression, reordered JSON keys, a slower search and a
cart that fails one request in fifty), puts migrate in front of them, sends traffic from a crowd of sticky clients, and
steps the weight through a cutover plan, printing each side's numbers as it
goes and a side-by-side summary at the end. Nothing to install first.`,
		Example: `  go run ./cmd/migrate demo
  migrate demo --duration 10s --plan 0,50,100
  migrate demo --listen 127.0.0.1:8080 --admin 127.0.0.1:9090 --duration 5m`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return demoRun(ctx, opts)
		},
	}
	f := cmd.Flags()
	f.DurationVar(&opts.Duration, "duration", 30*time.Second, "how long the demo runs")
	f.StringVar(&opts.Listen, "listen", "127.0.0.1:0", "proxy listen address")
	f.StringVar(&opts.Admin, "admin", "127.0.0.1:0", "admin API listen address")
	f.IntSliceVar(&opts.Plan, "plan", []int{0, 10, 50, 100}, "weights to step through, evenly over the duration")
	f.IntVar(&opts.Rate, "rate", 200, "requests per second")
	f.IntVar(&opts.Clients, "clients", 200, "distinct clients (at most 512)")
	f.BoolVar(&opts.Verbose, "verbose", false, "log what the proxy does")
	return cmd
}

func demoRun(ctx context.Context, opts *demoOptions) error {
	for _, w := range opts.Plan {
		if w < 0 || w > 100 {
			return usageErrorf("--plan: weight %d is out of range 0-100", w)
		}
	}
	if opts.Duration <= 0 {
		return usageErrorf("--duration must be positive")
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
