package dashboards

import (
	"bytes"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/migratekit/migrate/compare"
)

// TestDiffViewByDirection: an endpoint served by both sides has a row per
// direction, and an example shows each side's answer in that side's
// column whichever served the client, from the report itself and from the
// admin API's JSON (a remote dashboard).
func TestDiffViewByDirection(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sample := func(id int64, dir compare.Direction, primary, candidate int) compare.Sample {
		return compare.Sample{ID: id, Direction: dir, Endpoint: "/a", Field: "status", At: at,
			Request:   compare.Request{Method: "GET", Path: "/a"},
			Primary:   compare.Response{Status: primary},
			Candidate: compare.Response{Status: candidate},
			Diffs:     []compare.Difference{{Kind: compare.KindStatus, Field: "status", Primary: strconv.Itoa(primary), Candidate: strconv.Itoa(candidate)}}}
	}
	fields := []compare.FieldStats{{Path: "status", Kind: compare.KindStatus, Count: 1, Rate: 0.5}}
	r := compare.Report{
		App: "shop", Generated: at, OldURL: "http://old", NewURL: "http://new",
		Endpoints: []compare.EndpointStats{
			{Endpoint: "/a", Direction: compare.DirectionNewToOld, Requests: 2, Diffs: 1, DiffRate: 0.5, Fields: fields},
			{Endpoint: "/a", Direction: compare.DirectionOldToNew, Requests: 2, Diffs: 1, DiffRate: 0.5, Fields: fields},
		},
		Examples: compare.Examples{
			compare.DirectionOldToNew: {"/a": {"status": sample(1, compare.DirectionOldToNew, 200, 500)}},
			compare.DirectionNewToOld: {"/a": {"status": sample(2, compare.DirectionNewToOld, 500, 200)}},
		},
	}
	var js bytes.Buffer
	if err := compare.WriteReport(&js, compare.FormatJSON, r); err != nil {
		t.Fatal(err)
	}
	remote, err := decodeReport(js.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Direction        compare.Direction
		Old, New         int
		DiffOld, DiffNew string
		CurlOld          string
	}
	want := []row{
		{compare.DirectionOldToNew, 200, 500, "200", "500", "curl -i http://old/a"},
		{compare.DirectionNewToOld, 200, 500, "200", "500", "curl -i http://old/a"},
	}
	for name, v := range map[string]DiffView{"local": NewDiffView(r), "remote": remote} {
		var got []row
		for _, e := range v.Endpoints {
			ex := e.Fields[0].Example
			got = append(got, row{e.Direction, ex.Old.Status, ex.New.Status, ex.Diffs[0].Old, ex.Diffs[0].New, ex.CurlOld})
		}
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("%s view by direction (-got +want):\n%s", name, diff)
		}
	}
}
