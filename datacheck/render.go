package datacheck

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/migratekit/migrate/internal/report"
)

// Report formats, as `migrate compare report`'s (package internal/report).
const (
	FormatText     = report.FormatText
	FormatJSON     = report.FormatJSON
	FormatMarkdown = report.FormatMarkdown
	FormatJUnit    = report.FormatJUnit
)

// Formats lists the formats Write knows.
var Formats = report.Formats

// ErrUnknownFormat is returned by Write for a format it does not know.
var ErrUnknownFormat = report.ErrUnknownFormat

// Write renders r in format (one of Formats).
func Write(w io.Writer, format string, r Report) error {
	var err error
	switch format {
	case FormatText:
		err = writeText(report.TerminalSafe{W: w}, r)
	case FormatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		err = enc.Encode(r)
	case FormatMarkdown:
		err = writeMarkdown(report.TerminalSafe{W: w}, r)
	case FormatJUnit:
		err = writeJUnit(w, r)
	default:
		return fmt.Errorf("writing report: %w %q (want one of %s)", ErrUnknownFormat, format, strings.Join(Formats, ", "))
	}
	if err != nil {
		return fmt.Errorf("writing %s report: %w", format, err)
	}
	return nil
}

func writeText(w io.Writer, r Report) error {
	fmt.Fprintf(w, "data: %s (verdict %s), %s%s\n\n", r.Result, r.Verdict, fmtDuration(r.Duration), lagText(r.Lag))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tKEY\tROWS OLD\tROWS NEW\tMISSING\tEXTRA\tCHANGED\tLAGGING\tRESULT")
	for _, t := range r.Tables {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", t.Table, strings.Join(t.Key, ","),
			t.RowsOld, t.RowsNew, t.MissingCount, t.ExtraCount, t.ChangedCount, t.Lagging, t.Result)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, t := range r.Tables {
		if lines := detailLines(t); len(lines) > 0 {
			fmt.Fprintf(w, "\n%s:\n  %s\n", t.Table, strings.Join(lines, "\n  "))
		}
	}
	return nil
}

func fmtDuration(s Seconds) string { return fmt.Sprintf("checked in %.1fs", float64(s)) }

func lagText(lag *Seconds) string {
	if lag == nil {
		return ""
	}
	return fmt.Sprintf(", replication lag %.1fs", float64(*lag))
}

// detailLines are a table's keys that differ and its notes, one a line.
func detailLines(t TableReport) []string {
	var out []string
	for _, k := range t.Missing {
		out = append(out, "missing on new: "+keyText(k))
	}
	for _, k := range t.Extra {
		out = append(out, "extra on new:   "+keyText(k))
	}
	for _, c := range t.Changed {
		out = append(out, "changed:        "+keyText(c.Key)+" "+changedText(c))
	}
	if n := t.MissingCount + t.ExtraCount + t.ChangedCount - int64(len(t.Missing)+len(t.Extra)+len(t.Changed)); n > 0 {
		out = append(out, fmt.Sprintf("... and %d more", n))
	}
	for _, n := range t.Notes {
		out = append(out, "note: "+n)
	}
	return out
}

func keyText(k []any) string {
	b, _ := json.Marshal(k)
	return string(b)
}

// changedText names the differing columns, with their values when the
// report has them.
func changedText(c Changed) string {
	if len(c.Old) == 0 {
		return strings.Join(c.Columns, ", ")
	}
	parts := make([]string, len(c.Columns))
	for i, col := range c.Columns {
		parts[i] = fmt.Sprintf("%s: %s -> %s", col, valueText(c.Old[i]), valueText(c.New[i]))
	}
	return strings.Join(parts, "; ")
}

func valueText(v *string) string {
	if v == nil {
		return "NULL"
	}
	b, _ := json.Marshal(*v)
	return string(b)
}

func writeMarkdown(w io.Writer, r Report) error {
	fmt.Fprintf(w, "## Data check: %s\n\nVerdict **%s**, %s%s.\n\n", r.Result, r.Verdict, fmtDuration(r.Duration), lagText(r.Lag))
	fmt.Fprintln(w, "| table | key | rows old | rows new | missing | extra | changed | lagging | result |")
	fmt.Fprintln(w, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
	for _, t := range r.Tables {
		fmt.Fprintf(w, "| %s | %s | %d | %d | %d | %d | %d | %d | %s |\n", mdCell(t.Table), mdCell(strings.Join(t.Key, ", ")),
			t.RowsOld, t.RowsNew, t.MissingCount, t.ExtraCount, t.ChangedCount, t.Lagging, t.Result)
	}
	for _, t := range r.Tables {
		if lines := detailLines(t); len(lines) > 0 {
			fmt.Fprintf(w, "\n### %s\n\n", mdCell(t.Table))
			for _, l := range lines {
				fmt.Fprintf(w, "- `%s`\n", strings.ReplaceAll(l, "`", "'"))
			}
		}
	}
	return nil
}

func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

func writeJUnit(w io.Writer, r Report) error {
	secs := fmt.Sprintf("%.3f", float64(r.Duration))
	suite := report.Suite{Name: "datacheck", Time: secs, Timestamp: r.Started.UTC().Format("2006-01-02T15:04:05")}
	for _, t := range r.Tables {
		c := report.Case{Name: t.Table, Classname: "migrate.datacheck"}
		details := report.XMLChars(fmt.Sprintf("rows old %d, rows new %d\n%s", t.RowsOld, t.RowsNew, strings.Join(detailLines(t), "\n")))
		if t.Result == Differs {
			msg := fmt.Sprintf("%d missing on new, %d extra on new, %d changed", t.MissingCount, t.ExtraCount, t.ChangedCount)
			c.Failure = &report.Failure{Message: msg, Type: "differs", Text: details}
			suite.Failures++
		} else {
			c.SystemOut = &report.Text{Text: details}
		}
		suite.Cases = append(suite.Cases, c)
	}
	suite.Tests = len(suite.Cases)
	doc := report.Suites{Name: "migrate datacheck", Tests: suite.Tests, Failures: suite.Failures, Time: secs, Suites: []report.Suite{suite}}
	return report.WriteJUnit(w, doc)
}
