package dashboards

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/migratekit/migrate/telemetry"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestGrafanaGolden(t *testing.T) {
	tests := []struct {
		name string
		opts GrafanaOptions
	}{
		{"grafana-shop", GrafanaOptions{App: "shop"}},
		{"grafana-bobbarker-datasource", GrafanaOptions{App: "bobbarker", Datasource: "Mimir EU"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Grafana(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tt.name+".json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(got), string(want)); diff != "" {
				t.Errorf("%s differs (-got +want; go test -update rewrites it):\n%s", path, diff)
			}
		})
	}
}

// grafanaPanel is the part of a panel's JSON the structure test reads.
type grafanaPanel struct {
	Type    string `json:"type"`
	Title   string `json:"title"`
	GridPos struct {
		X, Y, W int
	} `json:"gridPos"`
	FieldConfig struct {
		Defaults struct {
			Unit string   `json:"unit"`
			Min  *float64 `json:"min"`
			Max  *float64 `json:"max"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Transformations []grafanaTransformation `json:"transformations"`
}

type grafanaTransformation struct {
	ID      string                `json:"id"`
	Options grafanaConfigFromData `json:"options"`
}

type grafanaConfigFromData struct {
	ConfigRefID string           `json:"configRefId"`
	Mappings    []grafanaMapping `json:"mappings"`
}

type grafanaMapping struct {
	FieldName  string `json:"fieldName"`
	HandlerKey string `json:"handlerKey"`
	ReducerID  string `json:"reducerId"`
}

// grafanaModel is the part of the dashboard JSON the structure test reads.
type grafanaModel struct {
	SchemaVersion int            `json:"schemaVersion"`
	Panels        []grafanaPanel `json:"panels"`
	Templating    struct {
		List []struct {
			Name    string `json:"name"`
			Current struct {
				Value any `json:"value"`
			} `json:"current"`
		} `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []struct {
			Name string `json:"name"`
			Expr string `json:"expr"`
		} `json:"list"`
	} `json:"annotations"`
}

// TestGrafanaPairs checks what the golden file cannot say at a glance:
// each side's panel is paired, old left and new right at the same height,
// with the same unit and minimum, each drawing its own side, and both
// taking their max from the same shared-axis query, the largest value of
// either side (TestGrafanaQueriesOnPrometheus checks its value).
func TestGrafanaPairs(t *testing.T) {
	raw, err := Grafana(GrafanaOptions{App: "shop", Datasource: "prom"})
	if err != nil {
		t.Fatal(err)
	}
	var m grafanaModel
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m.SchemaVersion < 39 {
		t.Errorf("schemaVersion %d: want a current one", m.SchemaVersion)
	}
	byTitle := map[string]int{}
	for i, p := range m.Panels {
		byTitle[p.Title] = i
	}
	for _, sp := range sidePanels {
		t.Run(sp.Title, func(t *testing.T) {
			oi, ok1 := byTitle[sp.Title+" · old"]
			ni, ok2 := byTitle[sp.Title+" · new"]
			if !ok1 || !ok2 {
				t.Fatalf("no pair for %s", sp.Title)
			}
			o, n := m.Panels[oi], m.Panels[ni]
			if o.GridPos.Y != n.GridPos.Y || o.GridPos.X >= n.GridPos.X || o.GridPos.W != n.GridPos.W {
				t.Errorf("old at %+v, new at %+v: want old left of new on one line", o.GridPos, n.GridPos)
			}
			if o.FieldConfig.Defaults.Unit != n.FieldConfig.Defaults.Unit || o.FieldConfig.Defaults.Min == nil || n.FieldConfig.Defaults.Min == nil ||
				*o.FieldConfig.Defaults.Min != *n.FieldConfig.Defaults.Min {
				t.Errorf("axes differ: old %+v, new %+v", o.FieldConfig.Defaults, n.FieldConfig.Defaults)
			}
			oldAxis, newAxis := checkSidePanel(t, o, "old", len(sp.Queries)), checkSidePanel(t, n, "new", len(sp.Queries))
			if oldAxis != newAxis || !strings.Contains(oldAxis, `side="old"`) || !strings.Contains(oldAxis, `side="new"`) {
				t.Errorf("shared axis queries differ or miss a side:\nold %s\nnew %s", oldAxis, newAxis)
			}
		})
	}
	vars := map[string]any{}
	for _, v := range m.Templating.List {
		vars[v.Name] = v.Current.Value
	}
	if diff := cmp.Diff(vars, map[string]any{"app": "shop", "datasource": "prom"}); diff != "" {
		t.Errorf("variables (-got +want):\n%s", diff)
	}
	if len(m.Annotations.List) < len(annotations) {
		t.Errorf("annotations %+v", m.Annotations.List)
	}
}

func TestGrafanaRefusesABadApp(t *testing.T) {
	for _, app := range []string{"", "a b", `x"}`, "$app"} {
		if _, err := Grafana(GrafanaOptions{App: app}); err == nil || !strings.Contains(err.Error(), "is not an app name") {
			t.Errorf("app %q: err %v", app, err)
		}
	}
}

// checkSidePanel checks that p draws queries series of side only, plus
// the shared-axis query that its transformation turns into its max, and
// returns that query.
func checkSidePanel(t *testing.T, p grafanaPanel, side string, queries int) (axis string) {
	t.Helper()
	own := 0
	for _, tg := range p.Targets {
		switch {
		case tg.RefID == axisRef:
			axis = tg.Expr
		case strings.Contains(tg.Expr, `side="`+side+`"`) && !strings.Contains(tg.Expr, `side="`+otherSide(side)+`"`):
			own++
		default:
			t.Errorf("%s panel: target %s %s is on the wrong side", side, tg.RefID, tg.Expr)
		}
	}
	if own != queries || axis == "" {
		t.Errorf("%s panel: %d own targets (want %d), axis query %q", side, own, queries, axis)
	}
	var tr []grafanaTransformation
	for _, x := range p.Transformations {
		if x.ID == "configFromData" {
			tr = append(tr, x)
		}
	}
	want := []grafanaTransformation{{ID: "configFromData", Options: grafanaConfigFromData{
		ConfigRefID: axisRef,
		Mappings:    []grafanaMapping{{FieldName: axisLegend, HandlerKey: "max", ReducerID: "max"}},
	}}}
	if diff := cmp.Diff(tr, want); diff != "" {
		t.Errorf("%s panel: shared max transformation (-got +want):\n%s", side, diff)
	}
	return axis
}

func otherSide(side string) string {
	if side == "old" {
		return "new"
	}
	return "old"
}

var seriesName = regexp.MustCompile(`migrate_[a-z_]+`)

// TestGrafanaSeriesExist: every series the Grafana dashboard reads is one
// package telemetry registers (a registry refuses a second collector of
// the same name), so a renamed series breaks this test, not a user's
// dashboard.
func TestGrafanaSeriesExist(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := telemetry.New(reg); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, q := range GrafanaQueries() {
		for _, name := range seriesName.FindAllString(q.Expr, -1) {
			name = strings.TrimSuffix(name, "_bucket")
			if seen[name] {
				continue
			}
			seen[name] = true
			probe := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: "probe"})
			if err := reg.Register(probe); err == nil {
				t.Errorf("%s (panel %s) is not a series package telemetry registers", name, q.Panel)
			}
		}
	}
	if len(seen) < 8 {
		t.Errorf("only %d series names found in the queries: %v", len(seen), seen)
	}
}
