package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/migratekit/migrate/admin"
	"github.com/migratekit/migrate/dashboards"
)

type dashboardOptions struct {
	*rootOptions
	adminFlags
	App    string
	Listen string
}

func newCmdDashboard(root *rootOptions) *cobra.Command {
	opts := &dashboardOptions{rootOptions: root}
	cmd := &cobra.Command{
		Use:   "dashboard APP",
		Short: "Serve the side-by-side web dashboard of APP from a running migrate's admin API",
		Long: `dashboard serves, on a local address, the web dashboard of APP as the
running migrate (serve, shadow, demo, fallback) shows it at /dashboard/ on
its admin listener: old and new side by side on shared axes, the cutover,
the events and the diffs, updated every second. It reads the instance's
admin API (status, /metrics, diffs, events), so it works from another
machine with the admin token, and passes the page's actions (set weight,
roll back, start the plan) to it. It runs until Ctrl-C.

The instance's own dashboard also shows the bodies of the diff examples;
this one shows what the admin API serves: the differing fields and values
and the curl lines.`,
		Example: `  migrate dashboard shop
  migrate dashboard shop --admin 10.0.0.5:9090 --listen 127.0.0.1:8099`,
		Args: exactArgs(1, "one app name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.App = args[0]
			ctx, stop := root.signalContext(cmd.Context())
			defer stop()
			return dashboardRun(ctx, opts)
		},
	}
	opts.adminFlags.register(cmd)
	cmd.Flags().StringVar(&opts.Listen, "listen", "127.0.0.1:0", "address the dashboard listens on")
	return cmd
}

func dashboardRun(ctx context.Context, opts *dashboardOptions) error {
	c, err := opts.client(opts.adminFlags)
	if err != nil {
		return err
	}
	if _, err := c.App(ctx, opts.App); admin.IsNotFound(err) {
		return usageErrorf("app %q is not served by the migrate at %s", opts.App, c.BaseURL)
	} else if err != nil {
		return err
	}
	remote := &dashboards.Remote{BaseURL: c.BaseURL, Token: c.Token, App: opts.App}
	d, err := dashboards.New(dashboards.Options{Source: remote, Logger: opts.logger()})
	if err != nil {
		return err
	}
	h, err := remote.Handler(d)
	if err != nil {
		return usageErrorf("--admin: %v", err)
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return usageErrorf("--listen %s: %v", opts.Listen, err)
	}
	fmt.Fprintf(opts.IO.Out, "dashboard of %s: http://%s%s (reading %s; Ctrl-C stops it)\n", opts.App, ln.Addr(), dashboards.Prefix, c.BaseURL)
	// It reads the instance with the token and passes the page's calls
	// on: the admin listener's Host check guards it too.
	return serveDashboard(ctx, d, admin.Guard(h, ln.Addr(), listenHost(opts.Listen)), ln)
}

// serveDashboard runs the dashboard and its HTTP server until ctx ends.
func serveDashboard(ctx context.Context, d *dashboards.Dashboard, h http.Handler, ln net.Listener) error {
	srv := admin.NewHTTPServer(h)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return d.Run(gctx) })
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serving the dashboard: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(gctx), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	return g.Wait()
}

type grafanaOptions struct {
	*rootOptions
	dashboards.GrafanaOptions
	Output string
}

func newCmdDashboards(root *rootOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dashboards",
		Short: "Export the side-by-side dashboards for other tools",
		Long: `dashboards exports the side-by-side dashboards for other tools; grafana
writes a Grafana dashboard. The web dashboard itself is served by every
running migrate at /dashboard/ (and by migrate dashboard).`,
		Example: `  migrate dashboards grafana shop > shop-dashboard.json`,
		Args:    exactArgs(0, "a subcommand (grafana)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return usageErrorf("%s needs a subcommand: grafana; see --help", cmd.CommandPath())
		},
	}
	cmd.AddCommand(newCmdGrafana(root))
	return cmd
}

func newCmdGrafana(root *rootOptions) *cobra.Command {
	opts := &grafanaOptions{rootOptions: root}
	cmd := &cobra.Command{
		Use:   "grafana APP",
		Short: "Write a Grafana dashboard with APP's old and new stacks side by side",
		Long: `grafana writes a Grafana dashboard (JSON, to import) built on migrate's
Prometheus series: for each panel of the web dashboard (requests/s, 5xx
error rate, latency p50/p95/p99, answers by status class) the old stack on
the left and the new one on the right on the same axes, then the weight on
new and the shadow diff rates. It has a datasource variable (default
--datasource) and an app variable (default APP), and annotates the weight
changes and rollbacks. It needs no running migrate.`,
		Example: `  migrate dashboards grafana shop > shop-dashboard.json
  migrate dashboards grafana shop --datasource "Mimir EU" --output shop.json`,
		Args: exactArgs(1, "one app name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.App = args[0]
			out, err := dashboards.Grafana(opts.GrafanaOptions)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			if opts.Output == "" || opts.Output == "-" {
				_, err = opts.IO.Out.Write(out)
				return err
			}
			if err := os.WriteFile(opts.Output, out, 0o644); err != nil {
				return fmt.Errorf("writing %s: %w", opts.Output, err)
			}
			fmt.Fprintf(opts.IO.Err, "wrote %s\n", opts.Output)
			return nil
		},
	}
	cmd.Flags().StringVar(&opts.Datasource, "datasource", dashboards.DefaultDatasource, "name of the Prometheus data source in Grafana")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "", "file to write (default: stdout)")
	return cmd
}
