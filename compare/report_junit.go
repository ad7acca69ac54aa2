package compare

import (
	"fmt"
	"io"
	"strings"

	"github.com/migratekit/migrate/internal/report"
)

// The JUnit report: one testsuite per app, one testcase per endpoint and
// direction (the direction closes the class name:
// migrate.compare.APP.old_to_new), a failure when the endpoint has diffs
// or a latency regression (type "diff", or "latency" for a regression
// alone) and a skipped mark when nothing was compared. The shape is the one Jenkins, GitLab and GitHub test-report
// actions read (the Ant JUnit schema).
func writeJUnit(w io.Writer, r Report) error {
	suite := report.Suite{
		Name: r.App, Time: "0",
		Timestamp: r.Generated.UTC().Format("2006-01-02T15:04:05"),
		Cases:     make([]report.Case, 0, len(r.Endpoints)),
	}
	for _, e := range r.Endpoints {
		c := report.Case{Name: e.Endpoint, Classname: "migrate.compare." + r.App + "." + string(e.Direction.Norm()), Time: "0"}
		var b strings.Builder
		writeTextEndpoint(&b, r, e)
		details := report.XMLChars(b.String())
		switch {
		case e.Diffs > 0:
			c.Failure = &report.Failure{Message: junitMessage(e), Type: "diff", Text: details}
			suite.Failures++
		case e.Latency.Judgement.Verdict == LatencyRegression:
			c.Failure = &report.Failure{Message: "latency " + latencyNote(e), Type: "latency", Text: details}
			suite.Failures++
		case e.Requests == 0:
			c.Skipped = &report.Skipped{Message: "no pairs compared"}
			suite.Skipped++
		default:
			c.SystemOut = &report.Text{Text: details}
		}
		suite.Cases = append(suite.Cases, c)
	}
	suite.Tests = len(suite.Cases)
	doc := report.Suites{
		Name: "migrate compare " + r.App, Tests: suite.Tests, Failures: suite.Failures,
		Skipped: suite.Skipped, Time: "0", Suites: []report.Suite{suite},
	}
	return report.WriteJUnit(w, doc)
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
