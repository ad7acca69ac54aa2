package main

import (
	"bytes"
	"context"
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/migratekit/migrate/fallback"
)

type fallbackOptions struct {
	*rootOptions
	App string
	ID  string
}

func newCmdFallback(root *rootOptions) *cobra.Command {
	opts := &fallbackOptions{rootOptions: root}
	cmd := &cobra.Command{
		Use:   "fallback APP",
		Short: "Run APP's fallback on the old host: forward stragglers to the new stack and count them",
		Long: `fallback runs on the old host once DNS points at the new stack. Every
request that still arrives there (stale DNS caches) is forwarded to the new
side (fallback.backends, default new.backends) through the load-balancing
core: Host kept, X-Forwarded-For and -Proto set, websockets passed, and for
an https backend fallback.server_name sent as SNI and its certificate
verified against fallback.ca (default the system's roots).

A loop guard adds X-Migrate-Fallback with this fallback's id (--id, default
a hash of the host name and the app) to forwarded requests, and answers 508
to a request that already carries it.

It counts who still arrives (requests per minute, distinct clients over the
last hour, without storing addresses) on the admin API at admin.listen:
/metrics, /healthz and GET /api/v1/apps/APP/fallback, which dnscheck watch
(and the dashboard of migrate serve, with fallback.admin) reads to say when
the old host can be retired (arrivals under fallback.retire_below for
fallback.retire_after). The web dashboard at /dashboard/ on the same
listener shows the new side as the fallback forwards to it and the
stragglers. SIGTERM or SIGINT drain
in-flight requests (up to defaults.drain) before exiting 0.

For old hosts that run nginx, "migrate fallback nginx APP" renders the same
fallback as an nginx server block.`,
		Example: `  migrate fallback shop
  migrate fallback shop --id oldhost-1 --log-format json
  migrate fallback nginx shop > /etc/nginx/conf.d/shop-fallback.conf`,
		Args: exactArgs(1, "one app name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.App = args[0]
			ctx, stop := root.signalContext(cmd.Context())
			defer stop()
			return fallbackRun(ctx, opts)
		},
	}
	cmd.Flags().StringVar(&opts.ID, "id", "", "loop guard id sent in X-Migrate-Fallback (default: a hash of the host name and the app)")
	cmd.AddCommand(newCmdFallbackNginx(root))
	return cmd
}

func fallbackRun(ctx context.Context, opts *fallbackOptions) error {
	m, err := opts.loadManifest()
	if err != nil {
		return err
	}
	log := opts.logger()
	inst, err := fallback.NewInstance(fallback.InstanceOptions{
		Manifest: m, App: opts.App, ID: opts.ID, Token: os.Getenv(m.Global.Admin.TokenEnv), Logger: log,
	})
	if errors.Is(err, fallback.ErrUnknownApp) || errors.Is(err, fallback.ErrConfig) {
		return &exitError{code: exitUsage, err: err}
	}
	if err != nil {
		return err
	}
	if err := inst.Run(ctx); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

type fallbackNginxOptions struct {
	*rootOptions
	App string
	ID  string
}

func newCmdFallbackNginx(root *rootOptions) *cobra.Command {
	opts := &fallbackNginxOptions{rootOptions: root}
	cmd := &cobra.Command{
		Use:   "nginx APP",
		Short: "Render APP's fallback as an nginx server block",
		Long: `nginx prints APP's fallback as nginx configuration for the http {} context,
for old hosts that run nginx: a server block on fallback.listen for the
app's hosts (TLS with fallback.tls or the app's tls), proxy_pass to the new
side (an upstream block when it has several backends) with the Host kept,
X-Forwarded-For/-Proto/-Host, websocket upgrade headers, for https backends
proxy_ssl_server_name, proxy_ssl_name and proxy_ssl_verify against
fallback.ca (default the system's bundle), the loop guard (508 for a request
that carries this fallback's id, --id), and its own access log
(fallback.access_log) in a format logship parses, for counting stragglers.

Check it with nginx -t before reloading nginx.`,
		Example: `  migrate fallback nginx shop > /etc/nginx/conf.d/shop-fallback.conf && nginx -t && nginx -s reload
  migrate --config prod/ fallback nginx shop --id oldhost-1`,
		Args: exactArgs(1, "one app name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.App = args[0]
			return fallbackNginxRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.ID, "id", "", "loop guard id (default: a hash of this host's name and the app, as migrate fallback uses)")
	return cmd
}

func fallbackNginxRun(opts *fallbackNginxOptions) error {
	m, err := opts.loadManifest()
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := fallback.RenderNginx(&buf, m, opts.App, opts.ID); err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	_, err = buf.WriteTo(opts.IO.Out)
	return err
}
