package compare

import (
	"encoding/json"
	"io"
	"net/http"
	"time"
)

// The JSON report: EndpointStats (each with its direction) and FieldStats
// as the admin API serves them, each field with its example when the store
// has one (its primary and candidate are the sides the direction names).
type (
	jsonReport struct {
		App       string         `json:"app"`
		Generated time.Time      `json:"generated"`
		Endpoints []jsonEndpoint `json:"endpoints"`
	}
	jsonEndpoint struct {
		EndpointStats
		Fields []jsonField `json:"fields"`
	}
	jsonField struct {
		FieldStats
		Example *jsonExample `json:"example,omitempty"`
	}
	jsonExample struct {
		ID        int64        `json:"id"`
		At        time.Time    `json:"at"`
		Request   jsonRequest  `json:"request"`
		Primary   jsonAnswer   `json:"primary"`
		Candidate jsonAnswer   `json:"candidate"`
		Diffs     []storedDiff `json:"diffs"`
		Curl      jsonCurl     `json:"curl"`
	}
	jsonRequest struct {
		Method  string      `json:"method"`
		Host    string      `json:"host,omitempty"`
		Path    string      `json:"path"`
		Query   string      `json:"query,omitempty"`
		Headers http.Header `json:"headers,omitempty"`
	}
	jsonAnswer struct {
		Status    int     `json:"status"`
		LatencyMs float64 `json:"latency_ms"`
		Error     string  `json:"error,omitempty"`
		Timeout   bool    `json:"timeout,omitempty"`
	}
	jsonCurl struct {
		Primary   string `json:"primary"`
		Candidate string `json:"candidate"`
	}
)

func writeJSON(w io.Writer, r Report) error {
	out := jsonReport{App: r.App, Generated: r.Generated.UTC(), Endpoints: make([]jsonEndpoint, 0, len(r.Endpoints))}
	for _, e := range r.Endpoints {
		je := jsonEndpoint{EndpointStats: e, Fields: make([]jsonField, 0, len(e.Fields))}
		if je.Outcomes == nil {
			je.Outcomes = map[Outcome]uint64{}
		}
		if je.StatusMatrix == nil {
			je.StatusMatrix = map[string]uint64{}
		}
		for _, f := range e.Fields {
			jf := jsonField{FieldStats: f}
			if s, ok := r.example(e, f.Path); ok {
				jf.Example = newJSONExample(r, e.Direction, s, f.Path)
			}
			je.Fields = append(je.Fields, jf)
		}
		out.Endpoints = append(out.Endpoints, je)
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func newJSONExample(r Report, d Direction, s Sample, field string) *jsonExample {
	req := s.Request
	pc, cc := r.curls(d, s)
	ex := &jsonExample{
		ID: s.ID, At: s.At.UTC(),
		Request:   jsonRequest{Method: req.Method, Host: req.Host, Path: req.Path, Query: req.RawQuery, Headers: req.Header},
		Primary:   newJSONAnswer(s.Primary),
		Candidate: newJSONAnswer(s.Candidate),
		Diffs:     []storedDiff{},
		Curl:      jsonCurl{Primary: pc, Candidate: cc},
	}
	for _, d := range exampleDiffs(s, field) {
		ex.Diffs = append(ex.Diffs, storedDiff{Kind: d.Kind, Path: d.Path, Field: d.Field, Primary: d.Primary, Candidate: d.Candidate})
	}
	return ex
}

func newJSONAnswer(resp Response) jsonAnswer {
	a := jsonAnswer{Status: resp.Status, LatencyMs: float64(resp.Latency) / float64(time.Millisecond), Timeout: resp.Timeout}
	if resp.Err != nil {
		a.Error = resp.Err.Error()
	}
	return a
}
