package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

type validateOptions struct {
	*rootOptions
	Format       string
	CheckSources bool
}

func newCmdValidate(root *rootOptions) *cobra.Command {
	opts := &validateOptions{rootOptions: root}
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check the manifest and report every problem at once",
		Long: `validate loads the manifest (--config, a file or a directory of files) and
reports every problem it finds, each with file:line:col and the key path.
It exits 0 when the manifest is valid and 2 when it is not.

With --check-sources it also runs every query of each app whose
rollback.source is prometheus once, against its server, and reports what
cannot work (an unreachable server, bad PromQL, an unknown metric) on
stderr, exiting 1 if any. migrate serve does not need its sources to start:
it reports a source that does not answer and keeps retrying.`,
		Example: `  migrate validate
  migrate --config deploy/ validate --format json
  migrate validate --check-sources`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return validateRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Format, "format", "text", "output format: text or json")
	cmd.Flags().BoolVar(&opts.CheckSources, "check-sources", false, "also query each app's prometheus rollback source once")
	return cmd
}

func validateRun(ctx context.Context, opts *validateOptions) error {
	if err := checkFormat(opts.Format); err != nil {
		return err
	}
	m, err := opts.loadManifest()
	if err != nil {
		return err
	}
	names := m.AppNames()
	if opts.Format == "json" {
		enc := json.NewEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"valid": true, "files": m.Files, "apps": names}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(opts.IO.Out, "%s: valid, %d app(s): %s\n", strings.Join(m.Files, ", "), len(names), strings.Join(names, ", "))
	}
	if opts.CheckSources {
		return checkSources(ctx, m, opts.IO.Err)
	}
	return nil
}

func checkFormat(f string) error {
	if f != "text" && f != "json" {
		return usageErrorf("--format %q: use text or json", f)
	}
	return nil
}
