package compare

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// The JUnit report: one testsuite per app, one testcase per endpoint and
// direction (the direction closes the class name:
// migrate.compare.APP.old_to_new), a failure when the endpoint has diffs
// or a latency regression (type "diff", or "latency" for a regression
// alone) and a skipped mark when nothing was compared. The shape is the one Jenkins, GitLab and GitHub test-report
// actions read (the Ant JUnit schema).
type (
	junitSuites struct {
		XMLName  xml.Name     `xml:"testsuites"`
		Name     string       `xml:"name,attr"`
		Tests    int          `xml:"tests,attr"`
		Failures int          `xml:"failures,attr"`
		Errors   int          `xml:"errors,attr"`
		Skipped  int          `xml:"skipped,attr"`
		Time     string       `xml:"time,attr"`
		Suites   []junitSuite `xml:"testsuite"`
	}
	junitSuite struct {
		Name      string      `xml:"name,attr"`
		Tests     int         `xml:"tests,attr"`
		Failures  int         `xml:"failures,attr"`
		Errors    int         `xml:"errors,attr"`
		Skipped   int         `xml:"skipped,attr"`
		Time      string      `xml:"time,attr"`
		Timestamp string      `xml:"timestamp,attr"`
		Cases     []junitCase `xml:"testcase"`
	}
	junitCase struct {
		Name      string        `xml:"name,attr"`
		Classname string        `xml:"classname,attr"`
		Time      string        `xml:"time,attr"`
		Failure   *junitFailure `xml:"failure,omitempty"`
		Skipped   *junitSkipped `xml:"skipped,omitempty"`
		SystemOut *junitText    `xml:"system-out,omitempty"`
	}
	junitFailure struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Text    string `xml:",cdata"`
	}
	junitText struct {
		Text string `xml:",cdata"`
	}
	junitSkipped struct {
		Message string `xml:"message,attr"`
	}
)

func writeJUnit(w io.Writer, r Report) error {
	suite := junitSuite{
		Name: r.App, Time: "0",
		Timestamp: r.Generated.UTC().Format("2006-01-02T15:04:05"),
		Cases:     make([]junitCase, 0, len(r.Endpoints)),
	}
	for _, e := range r.Endpoints {
		c := junitCase{Name: e.Endpoint, Classname: "migrate.compare." + r.App + "." + string(e.Direction.Norm()), Time: "0"}
		var b strings.Builder
		writeTextEndpoint(&b, r, e)
		details := xmlChars(b.String())
		switch {
		case e.Diffs > 0:
			c.Failure = &junitFailure{Message: junitMessage(e), Type: "diff", Text: details}
			suite.Failures++
		case e.Latency.Judgement.Verdict == LatencyRegression:
			c.Failure = &junitFailure{Message: "latency " + latencyNote(e), Type: "latency", Text: details}
			suite.Failures++
		case e.Requests == 0:
			c.Skipped = &junitSkipped{Message: "no pairs compared"}
			suite.Skipped++
		default:
			c.SystemOut = &junitText{Text: details}
		}
		suite.Cases = append(suite.Cases, c)
	}
	suite.Tests = len(suite.Cases)
	doc := junitSuites{
		Name: "migrate compare " + r.App, Tests: suite.Tests, Failures: suite.Failures,
		Skipped: suite.Skipped, Time: "0", Suites: []junitSuite{suite},
	}
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

// xmlChars replaces what XML 1.0 cannot carry (control characters, bad
// UTF-8) by U+FFFD: CDATA sections are not escaped.
func xmlChars(s string) string {
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

// junitMessage is a failure's one-line summary: the diff rate and the top
// fields.
func junitMessage(e EndpointStats) string {
	msg := fmt.Sprintf("diff rate %s (%d of %d pairs, %s)", reportPercent(e.DiffRate), e.Diffs, e.Requests, e.Direction.Arrow())
	if len(e.Fields) > 0 {
		msg += ": " + reportTopFields(e, 3)
	}
	if e.Latency.Judgement.Verdict == LatencyRegression {
		msg += "; latency " + latencyNote(e)
	}
	return msg
}
