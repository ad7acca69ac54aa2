package compare

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// writeMarkdown renders the report as GitHub-flavoured Markdown: a summary
// table, then a section per endpoint with its fields, examples (folded),
// latency and status matrix.
func writeMarkdown(w io.Writer, r Report) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# Diff report: %s\n\n", mdText(r.App))
	fmt.Fprintf(bw, "Generated %s. %d endpoints (%d inferred from traffic), %d with differences, %d slower. Compared pairs by direction: %s.\n",
		r.Generated.UTC().Format(time.RFC3339), len(r.Endpoints), r.inferred(), r.withDiffs(), r.latencyRegressed(), mdText(r.mirroredLine()))
	if len(r.Endpoints) == 0 {
		fmt.Fprintln(bw, "\nNo pairs compared yet.")
		return bw.Flush()
	}
	fmt.Fprintln(bw, "\n| Endpoint | Direction | Mirrored | Diffs | Diff rate | Latency | Top fields |")
	fmt.Fprintln(bw, "| --- | --- | ---: | ---: | ---: | --- | --- |")
	for _, e := range r.Endpoints {
		var top []string
		for i, f := range e.Fields {
			if i == 3 {
				top = append(top, fmt.Sprintf("%d more", len(e.Fields)-i))
				break
			}
			noise := ""
			if f.Noise {
				noise = " (noise)"
			}
			top = append(top, fmt.Sprintf("%s %s%s", mdCell(f.Path), reportPercent(f.Rate), noise))
		}
		fmt.Fprintf(bw, "| %s | %s | %d | %d | %s | %s | %s |\n", mdCell(e.Endpoint), mdArrow(e.Direction), e.Requests, e.Diffs, reportPercent(e.DiffRate), latencyVerdict(e), strings.Join(top, ", "))
	}
	for _, e := range r.Endpoints {
		writeMarkdownEndpoint(bw, r, e)
	}
	return bw.Flush()
}

func writeMarkdownEndpoint(w io.Writer, r Report, e EndpointStats) {
	fmt.Fprintf(w, "\n## %s %s%s\n\n", mdCode(e.Endpoint), mdArrow(e.Direction), inferredNote(e))
	fmt.Fprintf(w, "Mirrored %d, diffs %d (%s)%s. Outcomes: %s.\n", e.Requests, e.Diffs, reportPercent(e.DiffRate), truncatedNote(e), mdText(reportCounts(e.Outcomes)))
	if len(e.Fields) > 0 {
		fmt.Fprintln(w, "\n| Field | Kind | Rate | Noise rate | Noise |")
		fmt.Fprintln(w, "| --- | --- | ---: | ---: | --- |")
	}
	for i, f := range e.Fields {
		if i == reportMaxFields {
			fmt.Fprintf(w, "| %d more | | | | |\n", len(e.Fields)-i)
			break
		}
		noise := ""
		if f.Noise {
			noise = "yes"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", mdCell(f.Path), f.Kind, reportPercent(f.Rate), reportPercent(f.NoiseRate), noise)
	}
	for i, f := range e.Fields {
		if s, ok := r.example(e, f.Path); ok && i < reportMaxFields {
			writeMarkdownExample(w, r, e.Direction, f.Path, s)
		}
	}
	if rows := latencyRows(e); rows != nil {
		fmt.Fprintln(w, "\n| Latency (ms) | p50 | p95 | p99 |")
		fmt.Fprintln(w, "| --- | ---: | ---: | ---: |")
		for _, r := range rows {
			format := "| %s | %.1f | %.1f | %.1f |\n"
			if r.side == "delta" {
				format = "| %s | %+.1f | %+.1f | %+.1f |\n"
			}
			fmt.Fprintf(w, format, r.side, r.p50, r.p95, r.p99)
		}
	}
	if note := latencyNote(e); note != "" {
		fmt.Fprintf(w, "\nLatency %s.\n", mdText(note))
	}
	if len(e.StatusMatrix) > 0 {
		fmt.Fprintf(w, "\n| Status (%s) | Pairs |\n", mdArrow(e.Direction))
		fmt.Fprintln(w, "| --- | ---: |")
		for _, k := range slices.Sorted(maps.Keys(e.StatusMatrix)) {
			fmt.Fprintf(w, "| %s | %d |\n", mdCell(k), e.StatusMatrix[k])
		}
	}
}

func writeMarkdownExample(w io.Writer, r Report, d Direction, field string, s Sample) {
	ps, cs := d.Sides()
	fmt.Fprintf(w, "\n<details><summary>Example of <code>%s</code> (#%d, %s)</summary>\n\n",
		html.EscapeString(field), s.ID, s.At.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "- Request: %s\n", mdCode(reportRequestLine(s.Request)))
	fmt.Fprintf(w, "- Primary (%s): %s; candidate (%s): %s\n", ps, mdText(reportAnswer(s.Primary)), cs, mdText(reportAnswer(s.Candidate)))
	for _, d := range exampleDiffs(s, field) {
		fmt.Fprintf(w, "- %s: %s → %s\n", mdCode(reportDiffPlace(d)), mdCode(d.Primary), mdCode(d.Candidate))
	}
	pc, cc := r.curls(d, s)
	curl := pc + "\n" + cc
	fence := mdFence(curl)
	fmt.Fprintf(w, "\nReproduce against the primary (%s), then the candidate (%s):\n\n%ssh\n%s\n%s\n\n</details>\n", ps, cs, fence, curl, fence)
}

// mdArrow renders a direction: old→new.
func mdArrow(d Direction) string {
	p, c := d.Sides()
	return p + "→" + c
}

// mdCode renders s as an inline code span: newlines as spaces, a backtick
// fence longer than any run inside.
func mdCode(s string) string {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r", " "), "\n", " ")
	fence := strings.Repeat("`", longestRun(s, '`')+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") || s == "" {
		s = " " + s + " "
	}
	return fence + s + fence
}

// mdCell is mdCode for a table cell, where a pipe must be escaped even in
// code.
func mdCell(s string) string {
	return strings.ReplaceAll(mdCode(s), "|", `\|`)
}

// mdText escapes the characters that would start Markdown or HTML markup in
// running text or a table cell.
func mdText(s string) string {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r", " "), "\n", " ")
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune("\\`*[]<>|~", c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// mdFence returns a code-block fence longer than any backtick run in s.
func mdFence(s string) string {
	return strings.Repeat("`", max(3, longestRun(s, '`')+1))
}

func longestRun(s string, c byte) int {
	best, cur := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			cur++
			best = max(best, cur)
		} else {
			cur = 0
		}
	}
	return best
}
