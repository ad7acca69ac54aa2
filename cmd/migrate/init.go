package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/migratekit/migrate/manifest"
)

type initOptions struct {
	*rootOptions
	App   string
	Old   string
	New   string
	Force bool
}

func newCmdInit(root *rootOptions) *cobra.Command {
	opts := &initOptions{rootOptions: root}
	cmd := &cobra.Command{
		Use:   "init APP --old URL --new URL",
		Short: "Write a starter manifest for an app",
		Long: `init writes a starter manifest (to --config, default migrate.yaml) for APP,
with its old and new stacks' base URLs. It never overwrites a file unless
--force is given. Edit the result, then check it with migrate validate.`,
		Example: `  migrate init shop --old http://10.0.0.5:3000 --new http://10.1.0.5:3000
  migrate --config deploy/shop.yaml init shop --old http://old:3000 --new http://new:3000`,
		Args: exactArgs(1, "one app name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.App = args[0]
			return initRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Old, "old", "", "base URL of the old stack (required)")
	cmd.Flags().StringVar(&opts.New, "new", "", "base URL of the new stack (required)")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "overwrite an existing manifest")
	_ = cmd.MarkFlagRequired("old")
	_ = cmd.MarkFlagRequired("new")
	return cmd
}

// initProblems reports the problems of the starter manifest by the
// argument or flag they come from: the file was not written, so a place
// in it would point nowhere.
func initProblems(opts *initOptions, err error) error {
	var probs manifest.Problems
	if !errors.As(err, &probs) {
		return err
	}
	app := manifest.AppPath(opts.App)
	lines := make([]string, len(probs))
	for i, p := range probs {
		from := "the manifest"
		switch p.Path {
		case app:
			from = "APP " + opts.App
		case app + ".old.backends[0]":
			from = "--old"
		case app + ".new.backends[0]":
			from = "--new"
		}
		lines[i] = from + ": " + p.Msg
	}
	return usageErrorf("nothing written to %s (bad arguments):\n%s", opts.Config, strings.Join(lines, "\n"))
}

func initRun(opts *initOptions) error {
	data := manifest.Starter(opts.App, opts.Old, opts.New)
	// The starter must pass the same checks as any manifest, so bad input
	// (an app name or URL) is reported before anything is written.
	if _, err := manifest.Parse(opts.Config, data); err != nil {
		return initProblems(opts, err)
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if opts.Force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
		// Opening a named pipe to write would wait for a reader.
		if info, err := os.Stat(opts.Config); err == nil {
			if err := manifest.CheckRegular(opts.Config, info); err != nil {
				return usageErrorf("%w; use --config to write elsewhere", err)
			}
		}
	}
	f, err := os.OpenFile(opts.Config, flags, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return usageErrorf("%s already exists; use --force to overwrite it or --config to write elsewhere", opts.Config)
	}
	if err != nil {
		return fmt.Errorf("writing manifest: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing manifest: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing manifest: %w", err)
	}
	fmt.Fprintf(opts.IO.Out, "wrote %s for app %s; check it with: migrate --config %s validate\n", opts.Config, opts.App, opts.Config)
	return nil
}
