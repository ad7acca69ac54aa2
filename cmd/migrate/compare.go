package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/migratekit/migrate/compare"
	"github.com/migratekit/migrate/manifest"
)

func newCmdCompare(root *rootOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "compare",
		Short: "Reports of the diffs between the old and new sides",
		Example: `  migrate compare report shop
  migrate compare report shop --format junit --max-diff-rate 1% > diffs.xml`,
	}
	cmd.AddCommand(newCmdCompareReport(root))
	return cmd
}

type reportOptions struct {
	*rootOptions
	adminFlags
	App         string
	Format      string
	MaxDiffRate string
}

func newCmdCompareReport(root *rootOptions) *cobra.Command {
	opts := &reportOptions{rootOptions: root}
	cmd := &cobra.Command{
		Use:   "report APP",
		Short: "Print the diff report of a shadowed app from a running migrate",
		Long: `report prints APP's diff report, per endpoint: the mirrored count, the diff
rate, the top differing fields with their rate and an example each (with curl
lines that replay it against either side), the latency of both sides and the
status matrix. With --max-diff-rate it exits 1 when any endpoint's diff rate
is above the rate: a gate for CI.`,
		Example: `  migrate compare report shop
  migrate compare report shop --format json | jq '.endpoints[0]'
  migrate compare report shop --format junit --max-diff-rate 0.5% > report.xml`,
		Args: exactArgs(1, "one app name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.App = args[0]
			return reportRun(cmd, opts)
		},
	}
	opts.adminFlags.register(cmd)
	cmd.Flags().StringVar(&opts.Format, "format", "text", "report format: "+strings.Join(compare.ReportFormats, ", "))
	cmd.Flags().StringVar(&opts.MaxDiffRate, "max-diff-rate", "", "exit 1 when an endpoint's diff rate is above this (2% or 0.02)")
	return cmd
}

func reportRun(cmd *cobra.Command, opts *reportOptions) error {
	if !slices.Contains(compare.ReportFormats, opts.Format) {
		return usageErrorf("--format %q: use one of %s", opts.Format, strings.Join(compare.ReportFormats, ", "))
	}
	var limit manifest.Percent
	if opts.MaxDiffRate != "" {
		var err error
		if limit, err = manifest.ParsePercent(opts.MaxDiffRate); err != nil {
			return usageErrorf("--max-diff-rate: %v", err)
		}
	}
	c, err := opts.client(opts.adminFlags)
	if err != nil {
		return err
	}
	out, err := c.Diffs(cmd.Context(), opts.App, opts.Format)
	if err != nil {
		return err
	}
	if _, err := opts.IO.Out.Write(out); err != nil {
		return err
	}
	if opts.MaxDiffRate == "" {
		return nil
	}
	js := out
	if opts.Format != compare.FormatJSON {
		if js, err = c.Diffs(cmd.Context(), opts.App, compare.FormatJSON); err != nil {
			return err
		}
	}
	return gate(js, float64(limit))
}

// gate fails when an endpoint of the JSON report is over limit in either
// direction; each is named with its direction, since an endpoint has a row
// per direction.
func gate(js []byte, limit float64) error {
	var rep struct {
		Endpoints []struct {
			Endpoint  string  `json:"endpoint"`
			Direction string  `json:"direction"`
			DiffRate  float64 `json:"diff_rate"`
		} `json:"endpoints"`
	}
	if err := json.Unmarshal(js, &rep); err != nil {
		return fmt.Errorf("reading the JSON report: %w", err)
	}
	var over []string
	for _, e := range rep.Endpoints {
		if e.DiffRate > limit {
			over = append(over, fmt.Sprintf("%s (%s) %.2f%%", e.Endpoint, e.Direction, e.DiffRate*100))
		}
	}
	if len(over) > 0 {
		return checkFailed(fmt.Errorf("diff rate above %s on %d endpoint(s): %s", manifest.Percent(limit), len(over), strings.Join(over, ", ")))
	}
	return nil
}
