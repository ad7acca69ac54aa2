package compare

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/migratekit/migrate/internal/report"
)

// Report formats (package internal/report's, shared with datacheck).
const (
	FormatText     = report.FormatText
	FormatJSON     = report.FormatJSON
	FormatMarkdown = report.FormatMarkdown
	FormatJUnit    = report.FormatJUnit
)

// ReportFormats lists the formats WriteReport knows.
var ReportFormats = report.Formats

// ErrUnknownFormat is returned by WriteReport for a format it does not know.
var ErrUnknownFormat = report.ErrUnknownFormat

// Report is the diff report of one app (`migrate compare report`).
type Report struct {
	App       string
	Generated time.Time
	// Endpoints are the app's endpoint statistics, one per endpoint and
	// direction, in any order.
	Endpoints []EndpointStats
	// Examples holds one example per direction, endpoint and field (see
	// Store.LatestExamples).
	Examples Examples
	// OldURL and NewURL are the bases of the examples' curl lines, the
	// primary's and the candidate's by the example's direction; empty
	// means the shell variables $OLD_URL and $NEW_URL.
	OldURL, NewURL string
}

// reportMaxFields is how many fields the text and Markdown reports list per
// endpoint (JSON lists all).
const reportMaxFields = 10

// reportDiffsPerExample is how many of an example's differences in its
// field a report shows.
const reportDiffsPerExample = 3

// WriteReport renders r in format (one of ReportFormats). The output
// depends only on r: endpoints worst first (highest diff rate, then by
// name, old_to_new before new_to_old), fields judged real before noise and
// highest rate first, maps in key order. Every endpoint is labelled with
// its direction.
func WriteReport(w io.Writer, format string, r Report) error {
	r = r.sorted()
	var err error
	switch format {
	case FormatText:
		err = writeText(report.TerminalSafe{W: w}, r)
	case FormatJSON:
		err = writeJSON(w, r)
	case FormatMarkdown:
		err = writeMarkdown(report.TerminalSafe{W: w}, r)
	case FormatJUnit:
		err = writeJUnit(w, r)
	default:
		return fmt.Errorf("writing report: %w %q (want one of %s)", ErrUnknownFormat, format, strings.Join(ReportFormats, ", "))
	}
	if err != nil {
		return fmt.Errorf("writing %s report: %w", format, err)
	}
	return nil
}

// Over returns the endpoints whose diff rate is above maxDiffRate (a
// fraction), worst first: the CI gate of `--max-diff-rate`.
func (r Report) Over(maxDiffRate float64) []EndpointStats {
	var out []EndpointStats
	for _, e := range r.sorted().Endpoints {
		if e.DiffRate > maxDiffRate {
			out = append(out, e)
		}
	}
	return out
}

// sorted returns a copy of r in report order; r is not modified.
func (r Report) sorted() Report {
	r.Endpoints = slices.Clone(r.Endpoints)
	for i := range r.Endpoints {
		r.Endpoints[i].Direction = r.Endpoints[i].Direction.Norm()
	}
	slices.SortStableFunc(r.Endpoints, func(a, b EndpointStats) int {
		return cmp.Or(cmp.Compare(b.DiffRate, a.DiffRate), strings.Compare(a.Endpoint, b.Endpoint),
			cmp.Compare(dirIndex(a.Direction), dirIndex(b.Direction)))
	})
	for i := range r.Endpoints {
		f := slices.Clone(r.Endpoints[i].Fields)
		slices.SortStableFunc(f, func(a, b FieldStats) int {
			return cmp.Or(compareBool(a.Noise, b.Noise), cmp.Compare(b.Rate, a.Rate), strings.Compare(a.Path, b.Path))
		})
		r.Endpoints[i].Fields = f
	}
	if r.OldURL == "" {
		r.OldURL = "$OLD_URL"
	}
	if r.NewURL == "" {
		r.NewURL = "$NEW_URL"
	}
	return r
}

// urls returns the curl bases of the primary and the candidate of
// direction d.
func (r Report) urls(d Direction) (primary, candidate string) {
	if d.Norm() == DirectionNewToOld {
		return r.NewURL, r.OldURL
	}
	return r.OldURL, r.NewURL
}

// curls returns the curl lines that send s, an example in direction d,
// again to its primary and to its candidate.
func (r Report) curls(d Direction, s Sample) (primary, candidate string) {
	p, c := r.urls(d)
	return CurlCommand(s.Request, p), CurlCommand(s.Request, c)
}

// mirrored sums the compared pairs of each direction.
func (r Report) mirrored() [2]uint64 {
	var n [2]uint64
	for _, e := range r.Endpoints {
		n[dirIndex(e.Direction)] += e.Requests
	}
	return n
}

// mirroredLine says how many pairs each direction compared: after the
// cutover, new->old shows that the clients on new are mirrored too.
func (r Report) mirroredLine() string {
	n := r.mirrored()
	return fmt.Sprintf("%s %d, %s %d", DirectionOldToNew.Arrow(), n[0], DirectionNewToOld.Arrow(), n[1])
}

// compareBool orders false before true.
func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// example returns the example of an endpoint's field.
func (r Report) example(e EndpointStats, field string) (Sample, bool) {
	return r.Examples.Get(e.Direction, e.Endpoint, field)
}

// exampleDiffs returns the first differences of a sample in its field.
func exampleDiffs(s Sample, field string) []Difference {
	var out []Difference
	for _, d := range s.Diffs {
		if d.Field == field && len(out) < reportDiffsPerExample {
			out = append(out, d)
		}
	}
	return out
}

// withDiffs counts the endpoints with at least one diff.
func (r Report) withDiffs() int {
	n := 0
	for _, e := range r.Endpoints {
		if e.Diffs > 0 {
			n++
		}
	}
	return n
}

func reportPercent(rate float64) string {
	return fmt.Sprintf("%.2f%%", rate*100)
}

// reportMillis renders a latency to a tenth of a millisecond: 15.5ms, 5s.
func reportMillis(d time.Duration) string {
	return d.Round(100 * time.Microsecond).String()
}

// latencyRow is one row of a latency comparison, in milliseconds.
type latencyRow struct {
	side          string
	p50, p95, p99 float64
}

// latencyRows returns the primary, candidate and delta (candidate minus
// primary) rows of an endpoint, the first two named by their sides, or
// nothing when the endpoint has no latencies.
func latencyRows(e EndpointStats) []latencyRow {
	l := e.Latency
	if l.Primary == (Quantiles{}) && l.Candidate == (Quantiles{}) {
		return nil
	}
	p, c := l.Primary, l.Candidate
	ps, cs := e.Direction.Sides()
	return []latencyRow{
		{ps, p.P50Ms, p.P95Ms, p.P99Ms},
		{cs, c.P50Ms, c.P95Ms, c.P99Ms},
		{"delta", c.P50Ms - p.P50Ms, c.P95Ms - p.P95Ms, c.P99Ms - p.P99Ms},
	}
}

// latencyVerdict is an endpoint's latency verdict in a summary table: "-"
// when it was not judged.
func latencyVerdict(e EndpointStats) string {
	return cmp.Or(e.Latency.Judgement.Verdict, "-")
}

// latencyNote says an endpoint's latency verdict in one line, with the
// bounds of each quantile judged and the margin: "regression: p50 new at
// least 30.1ms against old at most 8.2ms; p99 insufficient (95% bounds,
// margin +20% and +5ms)". It is empty when the endpoint was not judged.
func latencyNote(e EndpointStats) string {
	j := e.Latency.Judgement
	if j.Verdict == "" {
		return ""
	}
	ps, cs := e.Direction.Sides()
	var parts []string
	for _, q := range []struct {
		name string
		j    QuantileJudgement
	}{{"p50", j.P50}, {"p99", j.P99}} {
		if q.j.Verdict == LatencyInsufficient || q.j.Verdict == "" {
			parts = append(parts, q.name+" insufficient")
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %s, %s", q.name, q.j.Verdict, q.j.Bounds(ps, cs)))
	}
	return fmt.Sprintf("%s: %s (%.0f%% bounds, margin +%.0f%% and +%gms)", j.Verdict, strings.Join(parts, "; "),
		LatencyConfidence*100, j.MarginRelative*100, j.MarginAbsoluteMs)
}

// latencyRegressed counts the endpoints whose latency is a regression.
func (r Report) latencyRegressed() int {
	n := 0
	for _, e := range r.Endpoints {
		if e.Latency.Judgement.Verdict == LatencyRegression {
			n++
		}
	}
	return n
}

// inferred counts the endpoints whose template was inferred from traffic.
func (r Report) inferred() int {
	n := 0
	for _, e := range r.Endpoints {
		if e.Inferred {
			n++
		}
	}
	return n
}

// inferredNote marks an inferred endpoint after its direction.
func inferredNote(e EndpointStats) string {
	if e.Inferred {
		return ", inferred from traffic"
	}
	return ""
}

// truncatedNote mentions the pairs whose bodies were not compared.
func truncatedNote(e EndpointStats) string {
	if e.Truncated == 0 {
		return ""
	}
	return fmt.Sprintf(", bodies not compared in %d (over the capture limit)", e.Truncated)
}

// fieldName is a field's path, marked when it is noise.
func fieldName(f FieldStats) string {
	if f.Noise {
		return f.Path + " (noise)"
	}
	return f.Path
}

// reportAnswer describes a side's answer in a few words.
func reportAnswer(resp Response) string {
	switch {
	case resp.Timeout:
		return "timeout after " + reportMillis(resp.Latency)
	case resp.Err != nil:
		return "error: " + resp.Err.Error()
	}
	return fmt.Sprintf("%d in %s", resp.Status, reportMillis(resp.Latency))
}

// reportRequestLine is "METHOD /path?query".
func reportRequestLine(req Request) string {
	line := cmp.Or(req.Method, "GET") + " " + cmp.Or(req.Path, "/")
	if req.RawQuery != "" {
		line += "?" + req.RawQuery
	}
	return line
}

// reportDiffPlace names where a difference is: its path, else its field.
func reportDiffPlace(d Difference) string {
	return cmp.Or(d.Path, d.Field)
}

// reportCounts renders a count map as "k1 n1, k2 n2" in key order.
func reportCounts[K ~string](m map[K]uint64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// reportTopFields names an endpoint's first fields with their rates.
func reportTopFields(e EndpointStats, n int) string {
	var parts []string
	for i, f := range e.Fields {
		if i == n {
			parts = append(parts, fmt.Sprintf("and %d more", len(e.Fields)-n))
			break
		}
		noise := ""
		if f.Noise {
			noise = " (noise)"
		}
		parts = append(parts, fmt.Sprintf("%s %s%s", f.Path, reportPercent(f.Rate), noise))
	}
	return strings.Join(parts, ", ")
}
