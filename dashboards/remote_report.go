package dashboards

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/migratekit/migrate/compare"
)

// remoteReport is the JSON diff report as the admin API serves it
// (compare's JSON format): the parts the diff view shows.
type remoteReport struct {
	App       string    `json:"app"`
	Generated time.Time `json:"generated"`
	Endpoints []struct {
		compare.EndpointStats
		Fields []struct {
			compare.FieldStats
			Example *struct {
				ID      int64     `json:"id"`
				At      time.Time `json:"at"`
				Request struct {
					Method  string      `json:"method"`
					Path    string      `json:"path"`
					Query   string      `json:"query"`
					Headers http.Header `json:"headers"`
				} `json:"request"`
				Primary   remoteAnswer `json:"primary"`
				Candidate remoteAnswer `json:"candidate"`
				Diffs     []struct {
					Kind      string `json:"kind"`
					Path      string `json:"path"`
					Field     string `json:"field"`
					Primary   string `json:"primary"`
					Candidate string `json:"candidate"`
				} `json:"diffs"`
				Curl struct {
					Primary   string `json:"primary"`
					Candidate string `json:"candidate"`
				} `json:"curl"`
			} `json:"example"`
		} `json:"fields"`
	} `json:"endpoints"`
}

type remoteAnswer struct {
	Status    int     `json:"status"`
	LatencyMs float64 `json:"latency_ms"`
	Error     string  `json:"error"`
}

func (a remoteAnswer) view() AnswerView {
	return AnswerView{Status: a.Status, LatencyMs: a.LatencyMs, Error: a.Error}
}

// decodeReport turns the admin API's JSON diff report into a view.
func decodeReport(raw []byte) (DiffView, error) {
	var rr remoteReport
	if err := json.Unmarshal(raw, &rr); err != nil {
		return DiffView{}, err
	}
	v := DiffView{App: rr.App, Generated: rr.Generated, Endpoints: []EndpointView{}}
	for _, e := range rr.Endpoints {
		stats := e.EndpointStats
		ev := EndpointView{Fields: []FieldView{}}
		for _, f := range e.Fields {
			stats.Fields = append(stats.Fields, f.FieldStats)
			fv := FieldView{FieldStats: f.FieldStats}
			if x := f.Example; x != nil {
				fv.Example = &ExampleView{
					ID: x.ID, At: x.At, Method: x.Request.Method, Path: x.Request.Path, Query: x.Request.Query,
					Old: x.Primary.view(), New: x.Candidate.view(), Diffs: []DiffPathView{},
					CurlOld: x.Curl.Primary, CurlNew: x.Curl.Candidate,
				}
				if stats.Direction.Norm() == compare.DirectionNewToOld {
					ex := fv.Example
					ex.Old, ex.New, ex.CurlOld, ex.CurlNew = ex.New, ex.Old, ex.CurlNew, ex.CurlOld
				}
				for _, d := range x.Diffs {
					fv.Example.Diffs = append(fv.Example.Diffs, diffPathView(stats.Direction, d.Kind, d.Path, d.Field, d.Primary, d.Candidate))
				}
			}
			ev.Fields = append(ev.Fields, fv)
		}
		ev.EndpointRow = endpointRow(stats)
		v.Endpoints = append(v.Endpoints, ev)
	}
	sortEndpoints(v.Endpoints)
	return v, nil
}
