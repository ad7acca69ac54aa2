package datacheck

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func goldenReport() Report {
	v1, v2 := "a@example.com", "z@example.com"
	r := Report{
		Started:  time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Duration: 1.25,
		Tables: []TableReport{
			{Table: "users", Key: []string{"id"}, RowsOld: 5, RowsNew: 5,
				Missing: [][]any{{json.Number("42")}}, Extra: [][]any{{json.Number("900001")}},
				Changed:      []Changed{{Key: []any{json.Number("17")}, Columns: []string{"email"}, Old: []*string{&v1}, New: []*string{&v2}}},
				MissingCount: 1, ExtraCount: 1, ChangedCount: 1, Notes: []string{"column nick is only on new"}},
			{Table: "acct|\x1b[31m", Key: []string{"tenant", "id"}, RowsOld: 3, RowsNew: 3, Lagging: 2},
		},
	}
	r.finish()
	return r
}

// TestWriteGolden renders one report in every format against
// testdata/report.*; go test -update rewrites them.
func TestWriteGolden(t *testing.T) {
	t.Parallel()
	for _, f := range Formats {
		t.Run(f, func(t *testing.T) {
			var b bytes.Buffer
			if err := Write(&b, f, goldenReport()); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "report."+f)
			if *update {
				os.MkdirAll("testdata", 0o755)
				if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(string(want), b.String()); d != "" {
				t.Errorf("%s (-want +got):\n%s", path, d)
			}
		})
	}
}

// TestJSONShape: the JSON report has the keys and shapes, and the
// values only when asked for.
func TestJSONShape(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	r := goldenReport()
	r.Tables[0].Changed[0].Old, r.Tables[0].Changed[0].New = nil, nil
	if err := Write(&b, FormatJSON, r); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Result string `json:"result"`
		Tables []struct {
			Table   string           `json:"table"`
			Key     []string         `json:"key"`
			RowsOld int              `json:"rows_old"`
			RowsNew int              `json:"rows_new"`
			Missing [][]any          `json:"missing"`
			Extra   [][]any          `json:"extra"`
			Changed []map[string]any `json:"changed"`
			Result  string           `json:"result"`
		} `json:"tables"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	u := got.Tables[0]
	if got.Result != "differs" || u.Result != "differs" || got.Tables[1].Result != "in_sync" {
		t.Errorf("results %s %s %s", got.Result, u.Result, got.Tables[1].Result)
	}
	if d := cmp.Diff([]map[string]any{{"key": []any{17.0}, "columns": []any{"email"}}}, u.Changed); d != "" {
		t.Errorf("changed (-want +got):\n%s", d)
	}
	if !cmp.Equal(u.Missing, [][]any{{42.0}}) || !cmp.Equal(u.Extra, [][]any{{900001.0}}) || len(got.Tables[1].Missing) != 0 || got.Tables[1].Missing == nil {
		t.Errorf("missing %v extra %v; in-sync table's missing %v", u.Missing, u.Extra, got.Tables[1].Missing)
	}
}
