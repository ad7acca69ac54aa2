package compare

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// writeText renders the plain-text report: a summary table, then a
// section per endpoint.
func writeText(w io.Writer, r Report) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "Diff report: %s\n", r.App)
	fmt.Fprintf(bw, "Generated: %s\n", r.Generated.UTC().Format(time.RFC3339))
	fmt.Fprintf(bw, "Endpoints: %d (%d inferred from traffic), with differences: %d, slower: %d\n", len(r.Endpoints), r.inferred(), r.withDiffs(), r.latencyRegressed())
	fmt.Fprintf(bw, "Compared pairs by direction: %s\n\n", r.mirroredLine())
	if len(r.Endpoints) == 0 {
		fmt.Fprintln(bw, "No pairs compared yet.")
		return bw.Flush()
	}
	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ENDPOINT\tDIRECTION\tMIRRORED\tDIFFS\tDIFF RATE\tLATENCY\tTOP FIELD")
	for _, e := range r.Endpoints {
		top := "-"
		if len(e.Fields) > 0 {
			top = fieldName(e.Fields[0])
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\n", e.Endpoint, e.Direction.Arrow(), e.Requests, e.Diffs, reportPercent(e.DiffRate), latencyVerdict(e), top)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, e := range r.Endpoints {
		fmt.Fprintln(bw)
		writeTextEndpoint(bw, r, e)
	}
	return bw.Flush()
}

// writeTextEndpoint renders one endpoint's section; the JUnit report
// reuses it as a test case's details.
func writeTextEndpoint(w io.Writer, r Report, e EndpointStats) {
	fmt.Fprintf(w, "%s (%s%s)\n", e.Endpoint, e.Direction.Arrow(), inferredNote(e))
	fmt.Fprintf(w, "  mirrored %d, diffs %d (%s)%s\n", e.Requests, e.Diffs, reportPercent(e.DiffRate), truncatedNote(e))
	fmt.Fprintf(w, "  outcomes: %s\n", reportCounts(e.Outcomes))
	if len(e.Fields) > 0 {
		fmt.Fprintln(w, "  fields:")
	}
	for i, f := range e.Fields {
		if i == reportMaxFields {
			fmt.Fprintf(w, "    and %d more\n", len(e.Fields)-i)
			break
		}
		writeTextField(w, r, e, f)
	}
	writeTextLatency(w, e)
	fmt.Fprintf(w, "  status (%s): %s\n", e.Direction.Arrow(), reportCounts(e.StatusMatrix))
}

func writeTextField(w io.Writer, r Report, e EndpointStats, f FieldStats) {
	noise := ""
	if f.Noise {
		noise = fmt.Sprintf("  noise (noise rate %s)", reportPercent(f.NoiseRate))
	} else if f.NoiseRate > 0 {
		noise = fmt.Sprintf("  (noise rate %s)", reportPercent(f.NoiseRate))
	}
	fmt.Fprintf(w, "    %7s  %-6s  %s%s\n", reportPercent(f.Rate), f.Kind, f.Path, noise)
	s, ok := r.example(e, f.Path)
	if !ok {
		return
	}
	fmt.Fprintf(w, "      example #%d at %s: %s\n", s.ID, s.At.UTC().Format(time.RFC3339), reportRequestLine(s.Request))
	ps, cs := e.Direction.Sides()
	fmt.Fprintf(w, "        %s (primary) %s, %s (candidate) %s\n", ps, reportAnswer(s.Primary), cs, reportAnswer(s.Candidate))
	for _, d := range exampleDiffs(s, f.Path) {
		writeTextDiff(w, d)
	}
	pc, cc := r.curls(e.Direction, s)
	fmt.Fprintf(w, "        %s: %s\n", ps, pc)
	fmt.Fprintf(w, "        %s: %s\n", cs, cc)
}

// writeTextDiff renders a difference on one line, or as two indented
// blocks when a value spans lines (a text body excerpt).
func writeTextDiff(w io.Writer, d Difference) {
	if !strings.Contains(d.Primary+d.Candidate, "\n") {
		fmt.Fprintf(w, "        %s: %s -> %s\n", reportDiffPlace(d), d.Primary, d.Candidate)
		return
	}
	fmt.Fprintf(w, "        %s:\n", reportDiffPlace(d))
	for _, side := range []struct{ name, v string }{{"primary", d.Primary}, {"candidate", d.Candidate}} {
		fmt.Fprintf(w, "          %s:\n", side.name)
		for _, line := range strings.Split(strings.TrimRight(side.v, "\n"), "\n") {
			fmt.Fprintf(w, "            %s\n", line)
		}
	}
}

func writeTextLatency(w io.Writer, e EndpointStats) {
	rows := latencyRows(e)
	if rows == nil {
		return
	}
	fmt.Fprintf(w, "  latency (ms)  %8s  %8s  %8s\n", "p50", "p95", "p99")
	for _, r := range rows {
		format := "    %-10s  %8.1f  %8.1f  %8.1f\n"
		if r.side == "delta" {
			format = "    %-10s  %+8.1f  %+8.1f  %+8.1f\n"
		}
		fmt.Fprintf(w, format, r.side, r.p50, r.p95, r.p99)
	}
	if note := latencyNote(e); note != "" {
		fmt.Fprintf(w, "  latency %s\n", note)
	}
}
