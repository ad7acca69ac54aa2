package compare

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/migratekit/migrate/internal/report"
)

var reportTime = time.Date(2025, 3, 1, 12, 30, 0, 0, time.UTC)

// sampleReport is a report with an endpoint of each kind: regressed (in
// both directions: served by old and mirrored to new, and the other way
// round), only noise, nothing compared, clean, and one whose name and
// example need escaping in every format. Endpoints are out of order on
// purpose.
func sampleReport() Report {
	priceExample := Sample{
		ID: 42, App: "bobbarker", Endpoint: "/users/:id", Field: "/items/*/price", At: reportTime.Add(-time.Minute), Outcome: OutcomeDiff,
		Request: Request{Method: "GET", Path: "/users/7", RawQuery: "expand=items", Host: "bobbarker.example.com",
			Header: http.Header{"Accept": {"application/json"}, "Authorization": {Redacted}}},
		Primary:   Response{Status: 200, Latency: 12 * time.Millisecond},
		Candidate: Response{Status: 200, Latency: 15500 * time.Microsecond},
		Diffs: []Difference{
			{Kind: KindJSON, Path: "/items/0/price", Field: "/items/*/price", Primary: "9.99", Candidate: "10.99"},
			{Kind: KindJSON, Path: "/items/1/price", Field: "/items/*/price", Primary: "5", Candidate: `"5"`},
			{Kind: KindHeader, Path: "X-Cache", Field: "X-Cache", Primary: "HIT", Candidate: "MISS"},
		},
	}
	cacheExample := priceExample
	cacheExample.ID, cacheExample.Field = 43, "X-Cache"
	reverseExample := priceExample
	reverseExample.ID, reverseExample.Direction = 44, DirectionNewToOld
	reverseExample.Primary, reverseExample.Candidate = Response{Status: 500, Latency: 2 * time.Millisecond}, Response{Status: 200, Latency: 11 * time.Millisecond}
	reverseExample.Diffs = []Difference{{Kind: KindStatus, Field: "status", Primary: "500", Candidate: "200"}}
	reverseExample.Field = "status"
	weirdExample := Sample{
		ID: 7, App: "bobbarker", Endpoint: "/search|`q`<b>", Field: "body", At: reportTime.Add(-2 * time.Minute), Outcome: OutcomeDiff,
		Request: Request{Method: "POST", Path: "/search", Body: []byte(`{"q":"it's <b>&</b>"}`),
			Header: http.Header{"Content-Type": {"application/json"}}},
		Primary:   Response{Status: 200, Latency: 3 * time.Millisecond},
		Candidate: Response{Latency: 5 * time.Second, Timeout: true, Err: errors.New("context deadline exceeded")},
		Diffs: []Difference{
			{Kind: KindBody, Field: "body", Primary: "line one\n<b>bold</b> | pipe", Candidate: "line one\n``tick`` ]]> end \x01"},
		},
	}
	return Report{
		App: "bobbarker", Generated: reportTime, OldURL: "http://10.0.0.5:3000",
		Endpoints: []EndpointStats{
			{Endpoint: "/health", Outcomes: map[Outcome]uint64{OutcomeSkippedUnsafe: 5}},
			{
				Endpoint: "/giveaways/:id/entries", Requests: 300, Inferred: true,
				Outcomes: map[Outcome]uint64{OutcomeMatch: 0, OutcomeNoise: 300},
				Fields:   []FieldStats{{Path: "/meta/generated_at", Kind: KindJSON, Count: 300, Rate: 1, NoiseRate: 1, Noise: true}},
				Latency: LatencyStats{Primary: Quantiles{P50Ms: 8, P95Ms: 20, P99Ms: 31.25},
					Candidate: Quantiles{P50Ms: 9, P95Ms: 22, P99Ms: 40}},
				StatusMatrix: map[string]uint64{"2xx->2xx": 300},
			},
			{
				Endpoint: "/users/:id", Requests: 1200, Diffs: 36, DiffRate: 0.03, Truncated: 3,
				Outcomes: map[Outcome]uint64{OutcomeMatch: 1100, OutcomeDiff: 36, OutcomeNoise: 64, OutcomeShadowError: 2},
				Fields: []FieldStats{
					{Path: "X-Cache", Kind: KindHeader, Count: 64, Rate: 64.0 / 1200, NoiseRate: 0.05, Noise: true},
					{Path: "/items/*/price", Kind: KindJSON, Count: 36, Rate: 0.03},
					{Path: "status", Kind: KindStatus, Count: 10, Rate: 10.0 / 1200},
				},
				Latency: LatencyStats{Primary: Quantiles{P50Ms: 12, P95Ms: 30, P99Ms: 45},
					Candidate: Quantiles{P50Ms: 14.5, P95Ms: 33, P99Ms: 120},
					Judgement: LatencyJudgement{Verdict: LatencyOK, MarginRelative: 0.2, MarginAbsoluteMs: 5,
						P50: QuantileJudgement{Verdict: LatencyOK, Paired: true, DeltaLowerMs: 1.9, PrimaryUpperMs: 12.7},
						P99: QuantileJudgement{Verdict: LatencyInsufficient}}},
				StatusMatrix: map[string]uint64{"2xx->2xx": 1188, "2xx->5xx": 10, "2xx->none": 2},
			},
			{
				Endpoint: "/users/:id", Direction: DirectionNewToOld, Requests: 400, Diffs: 20, DiffRate: 0.05,
				Outcomes: map[Outcome]uint64{OutcomeMatch: 380, OutcomeDiff: 20},
				Fields:   []FieldStats{{Path: "status", Kind: KindStatus, Count: 20, Rate: 0.05}},
				Latency: LatencyStats{Primary: Quantiles{P50Ms: 2, P95Ms: 4, P99Ms: 9},
					Candidate: Quantiles{P50Ms: 11, P95Ms: 25, P99Ms: 40}},
				StatusMatrix: map[string]uint64{"2xx->2xx": 380, "5xx->2xx": 20},
			},
			{Endpoint: "/clean", Requests: 50, Outcomes: map[Outcome]uint64{OutcomeMatch: 50}, StatusMatrix: map[string]uint64{"2xx->2xx": 50},
				Latency: LatencyStats{Primary: Quantiles{P50Ms: 7.5, P95Ms: 9, P99Ms: 11}, Candidate: Quantiles{P50Ms: 22.6, P95Ms: 25, P99Ms: 30},
					Judgement: LatencyJudgement{Verdict: LatencyRegression, MarginRelative: 0.2, MarginAbsoluteMs: 5,
						P50: QuantileJudgement{Verdict: LatencyRegression, Paired: true, DeltaLowerMs: 13.8, PrimaryUpperMs: 8},
						P99: QuantileJudgement{Verdict: LatencyOK, PrimaryUpperMs: 12, CandidateLowerMs: 14.5}}}},
			{
				Endpoint: "/search|`q`<b>", Requests: 2, Diffs: 1, DiffRate: 0.5,
				Outcomes: map[Outcome]uint64{OutcomeMatch: 1, OutcomeDiff: 1, OutcomeShadowTimeout: 1},
				Fields:   []FieldStats{{Path: "body", Kind: KindBody, Count: 1, Rate: 0.5}},
			},
		},
		Examples: Examples{
			DirectionOldToNew: {
				"/users/:id":     {"/items/*/price": priceExample, "X-Cache": cacheExample},
				"/search|`q`<b>": {"body": weirdExample},
				"/gone":          {"x": priceExample},
			},
			DirectionNewToOld: {"/users/:id": {"status": reverseExample}},
		},
	}
}

func TestWriteReportGolden(t *testing.T) {
	reports := []struct {
		name string
		r    Report
	}{
		{"full", sampleReport()},
		{"empty", Report{App: "quiet", Generated: reportTime}},
	}
	ext := map[string]string{FormatText: "txt", FormatJSON: "json", FormatMarkdown: "md", FormatJUnit: "xml"}
	for _, rep := range reports {
		for _, format := range ReportFormats {
			t.Run(rep.name+"/"+format, func(t *testing.T) {
				var buf bytes.Buffer
				if err := WriteReport(&buf, format, rep.r); err != nil {
					t.Fatal(err)
				}
				golden := filepath.Join("testdata", "report", rep.name+"."+ext[format]+".golden")
				if *update {
					if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("reading golden file (run with -update to create it): %v", err)
				}
				if diff := cmp.Diff(buf.String(), string(want)); diff != "" {
					t.Errorf("%s differs from %s (-got +want):\n%s", format, golden, diff)
				}
			})
		}
	}
}

func TestWriteReportIsDeterministicAndPure(t *testing.T) {
	r := sampleReport()
	before := sampleReport()
	for _, format := range ReportFormats {
		var a, b bytes.Buffer
		if err := WriteReport(&a, format, r); err != nil {
			t.Fatal(err)
		}
		if err := WriteReport(&b, format, r); err != nil {
			t.Fatal(err)
		}
		if a.String() != b.String() {
			t.Errorf("%s report differs between two runs", format)
		}
	}
	if diff := cmp.Diff(r, before, cmpErrText); diff != "" {
		t.Errorf("WriteReport modified its input (-after +before):\n%s", diff)
	}
}

func TestWriteReportUnknownFormat(t *testing.T) {
	var buf bytes.Buffer
	err := WriteReport(&buf, "yaml", sampleReport())
	if !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("WriteReport(yaml) error = %v, want ErrUnknownFormat", err)
	}
	if buf.Len() != 0 {
		t.Errorf("WriteReport(yaml) wrote %q", buf.String())
	}
}

func TestReportOver(t *testing.T) {
	tests := []struct {
		name string
		max  float64
		want []string
	}{
		{"zero: any diff", 0, []string{"/search|`q`<b> old->new", "/users/:id new->old", "/users/:id old->new"}},
		{"between", 0.1, []string{"/search|`q`<b> old->new"}},
		{"equal is not over", 0.03, []string{"/search|`q`<b> old->new", "/users/:id new->old"}},
		{"above all", 0.5, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range sampleReport().Over(tt.max) {
				got = append(got, e.Endpoint+" "+e.Direction.Arrow())
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("Over(%v) mismatch (-got +want):\n%s", tt.max, diff)
			}
		})
	}
}

// TestJSONReportContract checks the keys the CLI contract promises,
// reading the report as a CI script would.
func TestJSONReportContract(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteReport(&buf, FormatJSON, sampleReport()); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		App       string    `json:"app"`
		Generated time.Time `json:"generated"`
		Endpoints []struct {
			Endpoint  *string  `json:"endpoint"`
			Direction *string  `json:"direction"`
			Requests  *uint64  `json:"requests"`
			Diffs     *uint64  `json:"diffs"`
			DiffRate  *float64 `json:"diff_rate"`
			Fields    []struct {
				Path    *string         `json:"path"`
				Rate    *float64        `json:"rate"`
				Example json.RawMessage `json:"example"`
			} `json:"fields"`
		} `json:"endpoints"`
	}
	dec := json.NewDecoder(&buf)
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.App != "bobbarker" || !doc.Generated.Equal(reportTime) || len(doc.Endpoints) != 6 {
		t.Fatalf("report header = %q %v with %d endpoints", doc.App, doc.Generated, len(doc.Endpoints))
	}
	for _, e := range doc.Endpoints {
		if e.Endpoint == nil || e.Direction == nil || e.Requests == nil || e.Diffs == nil || e.DiffRate == nil || e.Fields == nil {
			t.Errorf("endpoint lacks a required key: %+v", e)
		}
		for _, f := range e.Fields {
			if f.Path == nil || f.Rate == nil {
				t.Errorf("field of %s lacks path or rate", *e.Endpoint)
			}
		}
	}
	if got := string(doc.Endpoints[2].Fields[0].Example); !strings.Contains(got, `"curl"`) {
		t.Errorf("/users/:id's /items/*/price field has no example with curl lines: %s", got)
	}
	var dirs []string
	for _, e := range doc.Endpoints {
		dirs = append(dirs, *e.Endpoint+" "+*e.Direction)
	}
	want := []string{"/search|`q`<b> old_to_new", "/users/:id new_to_old", "/users/:id old_to_new", "/clean old_to_new",
		"/giveaways/:id/entries old_to_new", "/health old_to_new"}
	if diff := cmp.Diff(dirs, want); diff != "" {
		t.Errorf("endpoints and directions (-got +want):\n%s", diff)
	}
	// The example of a pair served by new sends its primary curl to new.
	var curl struct {
		Curl struct{ Primary, Candidate string } `json:"curl"`
	}
	if err := json.Unmarshal(doc.Endpoints[1].Fields[0].Example, &curl); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(curl.Curl.Primary, "$NEW_URL") || !strings.Contains(curl.Curl.Candidate, "http://10.0.0.5:3000") {
		t.Errorf("new->old example's curl lines = %+v, want the primary on new and the candidate on old", curl.Curl)
	}
}

// TestJUnitReportParses reads the JUnit report back the way CI parsers do
// and checks the counts and the failures.
func TestJUnitReportParses(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteReport(&buf, FormatJUnit, sampleReport()); err != nil {
		t.Fatal(err)
	}
	var doc report.Suites
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("JUnit report is not XML: %v", err)
	}
	type tc struct {
		Name, Failure string
		Skipped       bool
	}
	var got []tc
	for _, s := range doc.Suites {
		for _, c := range s.Cases {
			x := tc{Name: c.Classname + " " + c.Name, Skipped: c.Skipped != nil}
			if c.Failure != nil {
				x.Failure = c.Failure.Message
			}
			got = append(got, x)
		}
	}
	want := []tc{
		{Name: "migrate.compare.bobbarker.old_to_new /search|`q`<b>", Failure: "diff rate 50.00% (1 of 2 pairs, old->new): body 50.00%"},
		{Name: "migrate.compare.bobbarker.new_to_old /users/:id", Failure: "diff rate 5.00% (20 of 400 pairs, new->old): status 5.00%"},
		{Name: "migrate.compare.bobbarker.old_to_new /users/:id", Failure: "diff rate 3.00% (36 of 1200 pairs, old->new): /items/*/price 3.00%, status 0.83%, X-Cache 5.33% (noise)"},
		{Name: "migrate.compare.bobbarker.old_to_new /clean", Failure: "latency regression: p50 regression, new-old at least 13.8ms over the pairs, old at most 8.0ms; p99 ok, new at least 14.5ms against old at most 12.0ms (95% bounds, margin +20% and +5ms)"},
		{Name: "migrate.compare.bobbarker.old_to_new /giveaways/:id/entries"},
		{Name: "migrate.compare.bobbarker.old_to_new /health", Skipped: true},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("test cases mismatch (-got +want):\n%s", diff)
	}
	counts := []int{doc.Tests, doc.Failures, doc.Skipped, doc.Suites[0].Tests, doc.Suites[0].Failures, doc.Suites[0].Skipped}
	if diff := cmp.Diff(counts, []int{6, 4, 1, 6, 4, 1}); diff != "" {
		t.Errorf("tests, failures, skipped of testsuites and testsuite (-got +want):\n%s", diff)
	}
}
