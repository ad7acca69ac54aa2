package dashboards

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/migratekit/migrate/compare"
)

// DiffView is an app's diff report as the diff table and the diff detail
// show it: per endpoint, its fields and the newest example of each.
type DiffView struct {
	App       string         `json:"app"`
	Generated time.Time      `json:"generated"`
	Endpoints []EndpointView `json:"endpoints"`
}

// EndpointView is one endpoint of a DiffView.
type EndpointView struct {
	EndpointRow
	Fields []FieldView `json:"field_stats"`
}

// FieldView is one differing field with its example.
type FieldView struct {
	compare.FieldStats
	Example *ExampleView `json:"example,omitempty"`
}

// ExampleView is one stored exchange, redacted by the sample store. Its
// answers are by side, whichever served the client (the endpoint's
// direction says which).
type ExampleView struct {
	ID        int64          `json:"id"`
	At        time.Time      `json:"at"`
	Method    string         `json:"method"`
	Path      string         `json:"path"`
	Query     string         `json:"query,omitempty"`
	Old       AnswerView     `json:"old"`
	New       AnswerView     `json:"new"`
	Diffs     []DiffPathView `json:"diffs"`
	CurlOld   string         `json:"curl_old"`
	CurlNew   string         `json:"curl_new"`
	HasBodies bool           `json:"has_bodies"` // false from a remote admin API, which does not serve bodies
}

// AnswerView is one side's answer in an example.
type AnswerView struct {
	Status    int         `json:"status"`
	LatencyMs float64     `json:"latency_ms"`
	Header    http.Header `json:"header,omitempty"`
	Body      string      `json:"body,omitempty"`
	Truncated bool        `json:"truncated,omitempty"`
	Error     string      `json:"error,omitempty"`
}

// DiffPathView is one difference: where, and the two values by side.
type DiffPathView struct {
	Kind  string `json:"kind"`
	Path  string `json:"path"`
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// maxViewBody caps each body a view carries.
const maxViewBody = 64 << 10

// NewDiffView builds the view of r, worst endpoint first.
func NewDiffView(r compare.Report) DiffView {
	v := DiffView{App: r.App, Generated: r.Generated, Endpoints: []EndpointView{}}
	for _, e := range r.Endpoints {
		ev := EndpointView{EndpointRow: endpointRow(e), Fields: []FieldView{}}
		for _, f := range e.Fields {
			fv := FieldView{FieldStats: f}
			if s, ok := r.Examples.Get(e.Direction, e.Endpoint, f.Path); ok {
				fv.Example = exampleView(r, e.Direction, s)
			}
			ev.Fields = append(ev.Fields, fv)
		}
		v.Endpoints = append(v.Endpoints, ev)
	}
	sortEndpoints(v.Endpoints)
	return v
}

// Rows is the diff table of v.
func (v DiffView) Rows() []EndpointRow {
	out := make([]EndpointRow, 0, len(v.Endpoints))
	for _, e := range v.Endpoints {
		out = append(out, e.EndpointRow)
	}
	return out
}

func sortEndpoints(es []EndpointView) {
	slices.SortStableFunc(es, func(a, b EndpointView) int {
		// old_to_new before new_to_old: the reverse of their text order.
		return cmp.Or(cmp.Compare(b.DiffRate, a.DiffRate), cmp.Compare(a.Endpoint, b.Endpoint),
			cmp.Compare(b.Direction.Norm(), a.Direction.Norm()))
	})
}

// topFields is how many fields a row of the diff table names.
const topFields = 3

func endpointRow(e compare.EndpointStats) EndpointRow {
	row := EndpointRow{Endpoint: e.Endpoint, Direction: e.Direction.Norm(), Requests: e.Requests, Diffs: e.Diffs, DiffRate: e.DiffRate, Fields: []string{}}
	fields := slices.Clone(e.Fields)
	slices.SortStableFunc(fields, func(a, b compare.FieldStats) int { return cmp.Compare(b.Rate, a.Rate) })
	for _, f := range fields {
		if !f.Noise && f.Count > 0 && len(row.Fields) < topFields {
			row.Fields = append(row.Fields, f.Path)
		}
	}
	return row
}

// exampleView shows s, an example in direction dir, by side.
func exampleView(r compare.Report, dir compare.Direction, s compare.Sample) *ExampleView {
	oldA, newA := s.Primary, s.Candidate
	if dir.Norm() == compare.DirectionNewToOld {
		oldA, newA = newA, oldA
	}
	ex := &ExampleView{
		ID: s.ID, At: s.At.UTC(), Method: s.Request.Method, Path: s.Request.Path, Query: s.Request.RawQuery,
		Old: answerView(oldA), New: answerView(newA), Diffs: []DiffPathView{},
		CurlOld: compare.CurlCommand(s.Request, r.OldURL), CurlNew: compare.CurlCommand(s.Request, r.NewURL),
		HasBodies: true,
	}
	for _, d := range s.Diffs {
		ex.Diffs = append(ex.Diffs, diffPathView(dir, string(d.Kind), d.Path, d.Field, d.Primary, d.Candidate))
	}
	return ex
}

// diffPathView is a difference of a pair in direction dir, by side.
func diffPathView(dir compare.Direction, kind, path, field, primary, candidate string) DiffPathView {
	v := DiffPathView{Kind: kind, Path: path, Field: field, Old: primary, New: candidate}
	if dir.Norm() == compare.DirectionNewToOld {
		v.Old, v.New = candidate, primary
	}
	return v
}

func answerView(resp compare.Response) AnswerView {
	a := AnswerView{Status: resp.Status, LatencyMs: float64(resp.Latency) / float64(time.Millisecond), Header: resp.Header, Truncated: resp.Truncated}
	body := resp.Body
	if len(body) > maxViewBody {
		body, a.Truncated = body[:maxViewBody], true
	}
	if utf8.Valid(body) {
		a.Body = string(body)
	} else {
		a.Body = "(binary body, " + strconv.Itoa(len(resp.Body)) + " bytes)"
	}
	if resp.Err != nil {
		a.Error = resp.Err.Error()
	}
	return a
}
