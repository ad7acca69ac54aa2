package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/migratekit/migrate/compare"
	"github.com/migratekit/migrate/manifest"
)

func newCmdCompare(root *rootOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "compare",
		Short: "Reports of the diffs between the old and new sides",
		Example: `  migrate compare report shop
  migrate compare report shop --format junit --max-diff-rate 1% > diffs.xml
  migrate compare report shop --max-latency-increase 20%+5ms`,
	}
	cmd.AddCommand(newCmdCompareReport(root))
	return cmd
}

type reportOptions struct {
	*rootOptions
	adminFlags
	App                string
	Format             string
	MaxDiffRate        string
	MaxLatencyIncrease string
}

func newCmdCompareReport(root *rootOptions) *cobra.Command {
	opts := &reportOptions{rootOptions: root}
	cmd := &cobra.Command{
		Use:   "report APP",
		Short: "Print the diff report of a shadowed app from a running migrate",
		Long: `report prints APP's diff report, per endpoint: the mirrored count, the diff
rate, the top differing fields with their rate and an example each (with curl
lines that replay it against either side), the latency of both sides and the
status matrix. An endpoint's latency is a regression when the mirrored side's
p50 or p99 is worse by more than shadow.latency.relative (default 20%) and
shadow.latency.absolute (default 5ms), judged on 95% confidence bounds
(insufficient with too few pairs). With --max-diff-rate it exits 1 when any
endpoint's diff rate is above the rate, with --max-latency-increase when any
endpoint's bounds show it slower by more than that margin (20%+5ms, 20% or
5ms: a part left out is 0): gates for CI.`,
		Example: `  migrate compare report shop
  migrate compare report shop --format json | jq '.endpoints[0]'
  migrate compare report shop --format junit --max-diff-rate 0.5% > report.xml
  migrate compare report shop --max-latency-increase 20%+5ms`,
		Args: exactArgs(1, "one app name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.App = args[0]
			return reportRun(cmd, opts)
		},
	}
	opts.adminFlags.register(cmd)
	cmd.Flags().StringVar(&opts.Format, "format", "text", "report format: "+strings.Join(compare.ReportFormats, ", "))
	cmd.Flags().StringVar(&opts.MaxDiffRate, "max-diff-rate", "", "exit 1 when an endpoint's diff rate is above this (2% or 0.02)")
	cmd.Flags().StringVar(&opts.MaxLatencyIncrease, "max-latency-increase", "", "exit 1 when an endpoint's p50 or p99 is confidently worse by more than this (20%+5ms)")
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
	var margin compare.LatencyMargin
	if opts.MaxLatencyIncrease != "" {
		var err error
		if margin, err = parseLatencyMargin(opts.MaxLatencyIncrease); err != nil {
			return usageErrorf("--max-latency-increase: %v", err)
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
	if opts.MaxDiffRate == "" && opts.MaxLatencyIncrease == "" {
		return nil
	}
	js := out
	if opts.Format != compare.FormatJSON {
		if js, err = c.Diffs(cmd.Context(), opts.App, compare.FormatJSON); err != nil {
			return err
		}
	}
	var errs []error
	if opts.MaxDiffRate != "" {
		errs = append(errs, gate(js, float64(limit)))
	}
	if opts.MaxLatencyIncrease != "" {
		errs = append(errs, gateLatency(js, margin))
	}
	if err := errors.Join(errs...); err != nil {
		return checkFailed(err)
	}
	return nil
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
		return fmt.Errorf("diff rate above %s on %d endpoint(s): %s", manifest.Percent(limit), len(over), strings.Join(over, ", "))
	}
	return nil
}

// parseLatencyMargin reads "20%+5ms", "20%", "5ms" or "0.2+5ms": a
// relative part (a percentage or a fraction) and an absolute part (a
// duration), either left out as 0.
func parseLatencyMargin(s string) (compare.LatencyMargin, error) {
	var m compare.LatencyMargin
	for part := range strings.SplitSeq(s, "+") {
		part = strings.TrimSpace(part)
		if d, err := time.ParseDuration(part); err == nil && d >= 0 && part != "0" {
			m.Absolute = d
			continue
		}
		f, err := manifest.ParsePercentOrRatio(part)
		if err != nil {
			return m, fmt.Errorf("%q is not a margin such as 20%%+5ms (a percentage, a duration or both)", s)
		}
		m.Relative = f
	}
	return m, nil
}

// gateLatency fails when an endpoint of the JSON report has bounds that
// show it slower than margin at p50 or p99; each is named with its
// direction and the quantile.
func gateLatency(js []byte, margin compare.LatencyMargin) error {
	var rep struct {
		Endpoints []compare.EndpointStats `json:"endpoints"`
	}
	if err := json.Unmarshal(js, &rep); err != nil {
		return fmt.Errorf("reading the JSON report: %w", err)
	}
	var over []string
	for _, e := range rep.Endpoints {
		j := e.Latency.Judgement
		for _, q := range []struct {
			name string
			j    compare.QuantileJudgement
		}{{"p50", j.P50}, {"p99", j.P99}} {
			if q.j.Exceeds(margin) {
				ps, cs := e.Direction.Sides()
				over = append(over, fmt.Sprintf("%s (%s) %s: %s", e.Endpoint, e.Direction, q.name, q.j.Bounds(ps, cs)))
			}
		}
	}
	if len(over) > 0 {
		return fmt.Errorf("latency increase above %s on %d endpoint quantile(s): %s", marginString(margin), len(over), strings.Join(over, ", "))
	}
	return nil
}

func marginString(m compare.LatencyMargin) string {
	return fmt.Sprintf("+%s and +%s", manifest.Percent(m.Relative), m.Absolute)
}
