package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/migratekit/migrate/manifest"
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
		if opts.Format == "json" {
			return validateJSONError(opts, err)
		}
		return err
	}
	names := m.AppNames()
	if opts.Format == "json" {
		if err := writeValidateJSON(opts.IO.Out, validateResult{Valid: true, Files: m.Files, Apps: names, Problems: manifest.Problems{}}); err != nil {
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

// validateResult is validate's JSON answer.
type validateResult struct {
	Valid    bool              `json:"valid"`
	Files    []string          `json:"files,omitempty"`
	Apps     []string          `json:"apps,omitempty"`
	Problems manifest.Problems `json:"problems"`
}

func writeValidateJSON(w io.Writer, r validateResult) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("writing the result: %w", err)
	}
	return nil
}

// validateJSONError prints the problems of a manifest that did not load
// as JSON on stdout (one that could not be read is one problem about its
// path) and returns the exit error, its message short: the list is on
// stdout.
func validateJSONError(opts *validateOptions, err error) error {
	var probs manifest.Problems
	if !errors.As(err, &probs) {
		probs = manifest.Problems{{File: opts.Config, Msg: err.Error()}}
	}
	if werr := writeValidateJSON(opts.IO.Out, validateResult{Problems: probs}); werr != nil {
		return werr
	}
	return &exitError{code: exitUsage, err: fmt.Errorf("%s: %d problem(s), listed on stdout", opts.Config, len(probs))}
}

func checkFormat(f string) error {
	if f != "text" && f != "json" {
		return usageErrorf("--format %q: use text or json", f)
	}
	return nil
}
