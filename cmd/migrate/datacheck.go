package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/migratekit/migrate/datacheck"
)

type datacheckOptions struct {
	*rootOptions
	App        string
	Old, New   string
	Tables     []string
	Format     string
	ShowValues bool
	Watch      bool
	Settle     time.Duration
	Interval   time.Duration
	ChunkRows  int64
	Parallel   int
	settleSet  bool
	chunksSet  bool
}

func newCmdDatacheck(root *rootOptions) *cobra.Command {
	opts := &datacheckOptions{rootOptions: root}
	cmd := &cobra.Command{
		Use:   "datacheck [APP] [--old DSN --new DSN]",
		Short: "Compare the old and new databases row by row",
		Long: `datacheck compares the tables of the old and new databases (APP's data:
section, or --old and --new): each side computes every chunk's row count and
checksum in its own database; chunks that differ are cut again down to a few
rows, which are compared column by column. It prints, per table, the rows on
each side and the keys missing on new, extra on new or changed (with the
columns; values only with --show-values). DSNs are postgres:// or mysql://
URLs. Exit 0 in sync, 1 differs, 2 usage or manifest, 3 a database failed.

With --watch it checks again every --interval until interrupted, and a row
that differs is checked again after --settle before it counts: rows in flight
through replication are lagging, not diverged.`,
		Example: `  migrate datacheck shop
  migrate datacheck --old postgres://app@old-db/shop --new postgres://app@new-db/shop --table users
  migrate datacheck shop --format json | jq '.tables[] | select(.result == "differs")'
  migrate datacheck shop --watch --settle 10s`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.App = args[0]
			}
			opts.settleSet = cmd.Flags().Changed("settle")
			opts.chunksSet = cmd.Flags().Changed("chunk-rows")
			ctx, stop := opts.signalContext(cmd.Context())
			defer stop()
			return datacheckRun(ctx, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Old, "old", "", "the old database's DSN (instead of APP's data.old)")
	f.StringVar(&opts.New, "new", "", "the new database's DSN (instead of APP's data.new)")
	f.StringSliceVar(&opts.Tables, "table", nil, "a table to compare, OLD or OLD:NEW for another name on new (repeatable; default APP's tables, else every table)")
	f.StringVar(&opts.Format, "format", "text", "report format: "+strings.Join(datacheck.Formats, ", "))
	f.BoolVar(&opts.ShowValues, "show-values", false, "print the differing values (redacted by default)")
	f.BoolVar(&opts.Watch, "watch", false, "check again every --interval until interrupted, settling differences")
	f.DurationVar(&opts.Settle, "settle", 5*time.Second, "how long a differing row may take to converge before it counts (with --watch, or when set)")
	f.DurationVar(&opts.Interval, "interval", time.Minute, "the pause between two checks of --watch")
	f.Int64Var(&opts.ChunkRows, "chunk-rows", 100000, "rows per checksummed chunk")
	f.IntVar(&opts.Parallel, "parallel", 2, "chunks checksummed at once on each side")
	return cmd
}

func datacheckRun(ctx context.Context, opts *datacheckOptions) error {
	if !slices.Contains(datacheck.Formats, opts.Format) {
		return usageErrorf("--format %q: use one of %s", opts.Format, strings.Join(datacheck.Formats, ", "))
	}
	copts, oldDSN, newDSN, err := datacheckSetup(opts)
	if err != nil {
		return err
	}
	old, err := datacheck.Open(oldDSN)
	if err != nil {
		return usageErrorf("--old: %v", err)
	}
	nw, err := datacheck.Open(newDSN)
	if err != nil {
		old.Close()
		return usageErrorf("--new: %v", err)
	}
	chk := datacheck.New(old, nw, copts)
	defer chk.Close()
	if !opts.Watch {
		return datacheckOnce(ctx, opts, chk)
	}
	return datacheckWatch(ctx, opts, chk)
}

// datacheckSetup builds the checker's options and finds the DSNs: APP's
// data: section, then the flags over it.
func datacheckSetup(opts *datacheckOptions) (datacheck.Options, string, string, error) {
	var copts datacheck.Options
	oldDSN, newDSN := opts.Old, opts.New
	if opts.App != "" {
		m, err := opts.loadManifest()
		if err != nil {
			return copts, "", "", err
		}
		a, ok := m.Apps[opts.App]
		switch {
		case !ok:
			return copts, "", "", usageErrorf("no app %q in %s", opts.App, opts.Config)
		case a.Data == nil:
			return copts, "", "", usageErrorf("apps.%s.data: no data: section; add one or give --old and --new", opts.App)
		}
		copts = datacheck.OptionsFor(a.Data)
		if oldDSN == "" || newDSN == "" {
			o, n, err := datacheck.DSNsFor(a.Data, os.Getenv)
			if err != nil {
				return copts, "", "", usageErrorf("apps.%s.%v", opts.App, err)
			}
			oldDSN, newDSN = cmpOr(oldDSN, o), cmpOr(newDSN, n)
		}
		if !opts.settleSet {
			opts.Settle = a.Data.Settle.D()
		}
	}
	if oldDSN == "" || newDSN == "" {
		return copts, "", "", usageErrorf("datacheck needs APP (with a data: section) or both --old and --new")
	}
	if len(opts.Tables) > 0 {
		copts.Tables = tablesFlag(opts.Tables, copts.Tables)
	}
	copts.ShowValues, copts.Parallel, copts.Logger = opts.ShowValues, opts.Parallel, opts.logger()
	if opts.chunksSet || copts.ChunkRows == 0 {
		copts.ChunkRows = opts.ChunkRows
	}
	if opts.Watch || opts.settleSet {
		copts.Settle = opts.Settle
	} else {
		copts.Settle = 0
	}
	return copts, oldDSN, newDSN, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// tablesFlag turns --table values into tables, keeping the manifest's
// settings of a table it names.
func tablesFlag(flags []string, known []datacheck.Table) []datacheck.Table {
	var out []datacheck.Table
	for _, f := range flags {
		name, newName, _ := strings.Cut(f, ":")
		t := datacheck.Table{Name: name, New: newName}
		if i := slices.IndexFunc(known, func(k datacheck.Table) bool { return k.Name == name }); i >= 0 {
			t = known[i]
			if newName != "" {
				t.New = newName
			}
		}
		out = append(out, t)
	}
	return out
}

// datacheckOnce runs one check and prints its report: exit 1 when the
// databases differ.
func datacheckOnce(ctx context.Context, opts *datacheckOptions, chk *datacheck.Checker) error {
	rep, err := runWithProgress(ctx, opts, chk)
	if err != nil {
		return datacheckError(err)
	}
	if err := datacheck.Write(opts.IO.Out, opts.Format, rep); err != nil {
		return err
	}
	return datacheckExit(rep)
}

// datacheckWatch checks every --interval until interrupted, printing each
// report; the exit code is the last report's.
func datacheckWatch(ctx context.Context, opts *datacheckOptions, chk *datacheck.Checker) error {
	var last *datacheck.Report
	for {
		rep, err := runWithProgress(ctx, opts, chk)
		if ctx.Err() != nil {
			break
		}
		if err != nil {
			return datacheckError(err)
		}
		last = &rep
		if err := datacheck.Write(opts.IO.Out, opts.Format, rep); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
		case <-time.After(opts.Interval):
			continue
		}
		break
	}
	if last == nil {
		return &exitError{code: exitRuntime, err: errors.New("datacheck --watch: interrupted before the first check ended")}
	}
	return datacheckExit(*last)
}

// runWithProgress runs one check, with a progress bar on stderr when it
// is a terminal.
func runWithProgress(ctx context.Context, opts *datacheckOptions, chk *datacheck.Checker) (datacheck.Report, error) {
	f, ok := opts.IO.Err.(*os.File)
	if !ok || !isatty.IsTerminal(f.Fd()) {
		return chk.Run(ctx)
	}
	bar := &datacheck.ProgressBar{W: f, Now: time.Now}
	defer bar.Done()
	return chk.RunWithProgress(ctx, bar.Update)
}

func datacheckExit(rep datacheck.Report) error {
	if rep.Result == datacheck.InSync {
		return nil
	}
	var n int
	for _, t := range rep.Tables {
		if t.Result != datacheck.InSync {
			n++
		}
	}
	return checkFailed(fmt.Errorf("the databases differ in %d table(s) (verdict %s)", n, rep.Verdict))
}

// datacheckError gives a table that cannot be compared as it is (no key,
// a missing table or column) the usage exit code; a database that fails
// is a runtime failure.
func datacheckError(err error) error {
	if errors.Is(err, datacheck.ErrNoKey) || errors.Is(err, datacheck.ErrSchema) {
		return &exitError{code: exitUsage, err: err}
	}
	return err
}
