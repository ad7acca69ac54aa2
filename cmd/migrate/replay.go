package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/migratekit/migrate/compare"
	"github.com/migratekit/migrate/logship"
	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/replay"
	"github.com/migratekit/migrate/shadow"
)

type replayOptions struct {
	*rootOptions
	App            string
	Log            string
	Format         string
	NginxLogFormat string
	Rate           float64
	Concurrency    int
	AllowWrites    bool
	ReportFormat   string
	MaxDiffRate    string
	Progress       bool
}

func newCmdReplay(root *rootOptions) *cobra.Command {
	opts := &replayOptions{rootOptions: root}
	cmd := &cobra.Command{
		Use:   "replay APP --log FILE",
		Short: "Replay the safe requests of an access log against both sides and diff the answers",
		Long: `replay reads an access log (--log FILE, or - for stdin) and sends each logged
request to APP's old and new sides (and shadow.secondary) in parallel, then
diffs the two answers with the same engine, rules and sample store (in
--data-dir) as migrate shadow, and prints the diff report: a team can start
comparing before anything is in front of live traffic.

Only safe requests are replayed: GET and HEAD, when shadow.methods allows
them. A write opted in by a shadow route is replayed only with
--allow-writes, because it really writes on both stacks (and without its
body, which logs do not hold). Replayed requests keep the logged method,
path, query and Host (else the app's first host) and carry
User-Agent: migrate-replay and X-Migrate-Replay: 1. Lines that cannot be
parsed are counted and the first few named; they never stop the replay.

--format defaults to the app's logs.old format, else nginx_combined. With
--max-diff-rate it exits 1 when an endpoint's diff rate is above the rate.`,
		Example: `  migrate replay shop --log /var/log/nginx/shop.access.log
  migrate replay shop --log access.json --format json --rate 50 --max-diff-rate 1%
  zcat access.log.2.gz | migrate replay shop --log - --report-format markdown --progress`,
		Args: exactArgs(1, "one app name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.App = args[0]
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return replayRun(ctx, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Log, "log", "", "access log to replay; - reads stdin")
	f.StringVar(&opts.Format, "format", "", "log format: "+strings.Join(replayFormats(), ", ")+" (default: the app's logs.old format, else nginx_combined)")
	f.StringVar(&opts.NginxLogFormat, "nginx-log-format", "", "nginx log_format of the log, for --format nginx (default: the app's logs.old log_format)")
	f.Float64Var(&opts.Rate, "rate", 0, "most requests per second to each side; 0: as fast as --concurrency allows")
	f.IntVar(&opts.Concurrency, "concurrency", replay.DefaultConcurrency, "requests in flight")
	f.BoolVar(&opts.AllowWrites, "allow-writes", false, "also replay the writes that shadow routes opt in (they write on both stacks)")
	f.StringVar(&opts.ReportFormat, "report-format", compare.FormatText, "report format: "+strings.Join(compare.ReportFormats, ", "))
	f.StringVar(&opts.MaxDiffRate, "max-diff-rate", "", "exit 1 when an endpoint's diff rate is above this (2% or 0.02)")
	f.BoolVar(&opts.Progress, "progress", false, "print a progress line on stderr every few seconds")
	_ = cmd.MarkFlagRequired("log")
	return cmd
}

// replayFormats are the log formats that hold requests.
func replayFormats() []string {
	return slices.DeleteFunc(logship.Formats(), func(f string) bool { return f == "raw" })
}

func replayRun(ctx context.Context, opts *replayOptions) error {
	limit, err := opts.check()
	if err != nil {
		return err
	}
	m, err := opts.loadManifest()
	if err != nil {
		return err
	}
	app := m.Apps[opts.App]
	if app == nil {
		return usageErrorf("app %q is not in the manifest (apps: %s)", opts.App, strings.Join(m.AppNames(), ", "))
	}
	if _, err := replay.NewParser(app, opts.Format, opts.NginxLogFormat); err != nil {
		return usageErrorf("--format: %v; use one of %s", err, strings.Join(replayFormats(), ", "))
	}
	in, err := opts.openLog()
	if err != nil {
		return err
	}
	defer in.Close()
	store, err := compare.OpenStore(ctx, filepath.Join(opts.DataDir, compare.StoreFile), shadow.StoreOptions([]*manifest.App{app}))
	if err != nil {
		return fmt.Errorf("opening the sample store: %w", err)
	}
	defer store.Close()
	rep, err := opts.replay(ctx, app, in, store)
	if err != nil {
		return err
	}
	if err := compare.WriteReport(opts.IO.Out, opts.ReportFormat, rep); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	return overGate(rep, limit, opts.MaxDiffRate != "")
}

// check validates the flags and returns the --max-diff-rate limit.
func (o *replayOptions) check() (float64, error) {
	if o.Format != "" && !slices.Contains(replayFormats(), o.Format) {
		return 0, usageErrorf("--format %q: use one of %s", o.Format, strings.Join(replayFormats(), ", "))
	}
	if !slices.Contains(compare.ReportFormats, o.ReportFormat) {
		return 0, usageErrorf("--report-format %q: use one of %s", o.ReportFormat, strings.Join(compare.ReportFormats, ", "))
	}
	if o.Rate < 0 {
		return 0, usageErrorf("--rate %v: must not be negative", o.Rate)
	}
	if o.Concurrency < 1 {
		return 0, usageErrorf("--concurrency %d: must be at least 1", o.Concurrency)
	}
	if o.MaxDiffRate == "" {
		return 0, nil
	}
	limit, err := manifest.ParsePercent(o.MaxDiffRate)
	if err != nil {
		return 0, usageErrorf("--max-diff-rate: %v", err)
	}
	return float64(limit), nil
}

// openLog opens --log; a missing file is a usage error.
func (o *replayOptions) openLog() (io.ReadCloser, error) {
	if o.Log == "-" {
		return io.NopCloser(o.IO.In), nil
	}
	f, err := os.Open(o.Log)
	if err != nil {
		return nil, &exitError{code: exitUsage, err: fmt.Errorf("--log: %w", err)}
	}
	return f, nil
}

// replay runs the replay and logs its counts. An interrupted replay
// reports what it replayed.
func (o *replayOptions) replay(ctx context.Context, app *manifest.App, in io.Reader, store *compare.Store) (compare.Report, error) {
	log := o.logger()
	ro := replay.Options{
		App: app, Log: in, Format: o.Format, LogFormat: o.NginxLogFormat,
		Rate: o.Rate, Concurrency: o.Concurrency, AllowWrites: o.AllowWrites,
		Store: store, Logger: log,
	}
	if o.Progress {
		ro.Progress = o.IO.Err
	}
	rep, st, err := replay.Run(ctx, ro)
	switch {
	case err != nil && errors.Is(err, context.Canceled) && ctx.Err() != nil:
		log.Warn("replay interrupted: reporting what was replayed")
	case err != nil:
		return rep, err
	}
	log.Info("replayed", "app", app.Name, "lines", st.Lines, "replayed", st.Replayed,
		"differ", st.Outcomes[compare.OutcomeDiff], "skipped_unsafe", st.Skipped, "unparseable", st.Unparseable,
		"elapsed", st.Elapsed.Round(time.Millisecond))
	if st.Unparseable > 0 {
		log.Warn("unparseable lines", "count", st.Unparseable, "first", badLines(st.BadLines))
	}
	return rep, nil
}

func badLines(lines []replay.BadLine) string {
	parts := make([]string, len(lines))
	for i, l := range lines {
		parts[i] = fmt.Sprintf("%d (%s)", l.Line, l.Reason)
	}
	return strings.Join(parts, ", ")
}

// overGate fails, when a limit is set, if an endpoint's diff rate is
// above it.
func overGate(rep compare.Report, limit float64, set bool) error {
	if !set {
		return nil
	}
	over := rep.Over(limit)
	if len(over) == 0 {
		return nil
	}
	names := make([]string, len(over))
	for i, e := range over {
		names[i] = fmt.Sprintf("%s %.2f%%", e.Endpoint, e.DiffRate*100)
	}
	return checkFailed(fmt.Errorf("diff rate above %s on %d endpoint(s): %s", manifest.Percent(limit), len(over), strings.Join(names, ", ")))
}
