package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync/atomic"

	"github.com/spf13/cobra"

	"github.com/migratekit/migrate/internal/logattrs"
	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/state"
)

type iostreams struct {
	In       io.Reader
	Out, Err io.Writer
}

// rootOptions are the global flags every command sees.
type rootOptions struct {
	IO        *iostreams
	Config    string
	DataDir   string
	LogFormat string

	// onHUP is what SIGHUP does while a long-running command runs (a
	// serving instance reloads); nil: it is logged and ignored.
	onHUP atomic.Pointer[func()]
}

func newCmdRoot(io *iostreams) *cobra.Command {
	opts := &rootOptions{IO: io}
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Move a live web app from its old stack to a new one, without downtime and without guessing",
		Long: `migrate fronts an app's old and new stacks with a load balancer that
splits clients between them by a sticky weight, with metrics for each side,
an admin API and health checks.`,
		Example: `  migrate init myapp --old http://10.0.0.5:3000 --new http://10.1.0.5:3000
  migrate validate
  migrate serve
  migrate cutover myapp --weight 25
  migrate status myapp`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			switch opts.LogFormat {
			case "text", "json":
				state.LogRedisTo(opts.logger())
				return nil
			}
			return usageErrorf("--log-format %q: use text or json", opts.LogFormat)
		},
	}
	cmd.SetOut(io.Out)
	cmd.SetErr(io.Err)
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &exitError{code: exitUsage, err: fmt.Errorf("%w; see %s --help", err, c.CommandPath())}
	})
	def := os.Getenv("MIGRATE_CONFIG")
	if def == "" {
		def = "migrate.yaml"
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&opts.Config, "config", def, "manifest file or directory of manifests (env MIGRATE_CONFIG)")
	pf.StringVar(&opts.DataDir, "data-dir", ".migrate", "directory for state kept across restarts")
	pf.StringVar(&opts.LogFormat, "log-format", "text", "log format: text or json")

	cmd.AddCommand(
		newCmdVersion(opts),
		newCmdDemo(opts),
		newCmdInit(opts),
		newCmdValidate(opts),
		newCmdServe(opts),
		newCmdReload(opts),
		newCmdShadow(opts),
		newCmdCompare(opts),
		newCmdStatus(opts),
		newCmdCutover(opts),
		newCmdRollback(opts),
		newCmdReplay(opts),
		newCmdDNSCheck(opts),
		newCmdFallback(opts),
		newCmdLogship(opts),
		newCmdLogs(opts),
		newCmdDashboard(opts), newCmdDashboards(opts),
		newCmdDatacheck(opts),
	)
	return cmd
}

// logger writes structured logs to stderr in the chosen format, each key
// once per record: packages log "app" on loggers already built With it.
func (o *rootOptions) logger() *slog.Logger {
	if o.LogFormat == "json" {
		return slog.New(logattrs.New(slog.NewJSONHandler(o.IO.Err, nil)))
	}
	return slog.New(logattrs.New(slog.NewTextHandler(o.IO.Err, nil)))
}

// loadManifest loads --config.
func (o *rootOptions) loadManifest() (*manifest.Manifest, error) {
	m, err := manifest.Load(o.Config)
	if err != nil {
		var probs manifest.Problems
		if errors.As(err, &probs) {
			return nil, err
		}
		return nil, &exitError{code: exitUsage, err: err}
	}
	return m, nil
}
