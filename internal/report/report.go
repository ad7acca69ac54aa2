// Package report holds what the reports of migrate's checks share: the
// JUnit document that CI systems read (compare's diff report, datacheck's
// parity report) and the filters that keep a report's text safe to print
// (a captured body or a table name may hold control characters).
package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
)

// The formats of a report, the same for every check's.
const (
	FormatText     = "text"
	FormatJSON     = "json"
	FormatMarkdown = "markdown"
	FormatJUnit    = "junit"
)

// Formats lists the formats of a report.
var Formats = []string{FormatText, FormatJSON, FormatMarkdown, FormatJUnit}

// ErrUnknownFormat is the error of a format not in Formats.
var ErrUnknownFormat = errors.New("unknown report format")

// The JUnit document, in the shape Jenkins, GitLab and GitHub test-report
// actions read (the Ant JUnit schema).
type (
	// Suites is the document: <testsuites>.
	Suites struct {
		XMLName  xml.Name `xml:"testsuites"`
		Name     string   `xml:"name,attr"`
		Tests    int      `xml:"tests,attr"`
		Failures int      `xml:"failures,attr"`
		Errors   int      `xml:"errors,attr"`
		Skipped  int      `xml:"skipped,attr"`
		Time     string   `xml:"time,attr"`
		Suites   []Suite  `xml:"testsuite"`
	}
	// Suite is one <testsuite>.
	Suite struct {
		Name      string `xml:"name,attr"`
		Tests     int    `xml:"tests,attr"`
		Failures  int    `xml:"failures,attr"`
		Errors    int    `xml:"errors,attr"`
		Skipped   int    `xml:"skipped,attr"`
		Time      string `xml:"time,attr"`
		Timestamp string `xml:"timestamp,attr"`
		Cases     []Case `xml:"testcase"`
	}
	// Case is one <testcase>: passed, failed or skipped.
	Case struct {
		Name      string   `xml:"name,attr"`
		Classname string   `xml:"classname,attr"`
		Time      string   `xml:"time,attr,omitempty"`
		Failure   *Failure `xml:"failure,omitempty"`
		Skipped   *Skipped `xml:"skipped,omitempty"`
		SystemOut *Text    `xml:"system-out,omitempty"`
	}
	// Failure says why a case failed; Text is its details.
	Failure struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Text    string `xml:",cdata"`
	}
	// Text is a case's output.
	Text struct {
		Text string `xml:",cdata"`
	}
	// Skipped marks a case that checked nothing.
	Skipped struct {
		Message string `xml:"message,attr"`
	}
)

// WriteJUnit writes doc with its XML header, indented, ending in a newline.
func WriteJUnit(w io.Writer, doc Suites) error {
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// XMLChars replaces what XML 1.0 cannot carry (control characters, bad
// UTF-8) by U+FFFD: CDATA sections are not escaped.
func XMLChars(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r',
			r >= 0x20 && r <= 0xD7FF,
			r >= 0xE000 && r <= 0xFFFD,
			r >= 0x10000 && r <= 0x10FFFF:
			return r
		}
		return '\uFFFD'
	}, s)
}

// TerminalSafe is a writer that replaces control characters other than
// newline and tab (escape sequences a report's text could carry) by
// U+FFFD on their way to W.
type TerminalSafe struct{ W io.Writer }

func (t TerminalSafe) Write(p []byte) (int, error) {
	clean := bytes.Map(func(r rune) rune {
		if r < 0x20 && r != '\n' && r != '\t' || r >= 0x7f && r < 0xa0 {
			return '\uFFFD'
		}
		return r
	}, p)
	if _, err := t.W.Write(clean); err != nil {
		return 0, err
	}
	return len(p), nil
}
