package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

type validateOptions struct {
	*rootOptions
	Format string
}

func newCmdValidate(root *rootOptions) *cobra.Command {
	opts := &validateOptions{rootOptions: root}
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check the manifest and report every problem at once",
		Long: `validate loads the manifest (--config, a file or a directory of files) and
reports every problem it finds, each with file:line:col and the key path.
It exits 0 when the manifest is valid and 2 when it is not.`,
		Example: `  migrate validate
  migrate --config deploy/ validate --format json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return validateRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Format, "format", "text", "output format: text or json")
	return cmd
}

func validateRun(opts *validateOptions) error {
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
		return enc.Encode(map[string]any{"valid": true, "files": m.Files, "apps": names})
	}
	fmt.Fprintf(opts.IO.Out, "%s: valid, %d app(s): %s\n", strings.Join(m.Files, ", "), len(names), strings.Join(names, ", "))
	return nil
}

func checkFormat(f string) error {
	if f != "text" && f != "json" {
		return usageErrorf("--format %q: use text or json", f)
	}
	return nil
}
