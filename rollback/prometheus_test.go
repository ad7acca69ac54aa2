package rollback

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jonboulle/clockwork"

	"github.com/migratekit/migrate/manifest"
)

// fakeProm answers the parts of the Prometheus HTTP API the source uses,
// from canned answers keyed by the query.
type fakeProm struct {
	t       *testing.T
	answers map[string]fakeAnswer
	known   []string // metric names it stores
	at      string   // the time every query must be asked at
}

type fakeAnswer struct {
	status int
	body   string
}

func (f *fakeProm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/api/v1/query":
		if got := r.FormValue("time"); got != f.at {
			f.t.Errorf("query time = %q, want %q", got, f.at)
		}
		a, ok := f.answers[r.FormValue("query")]
		if !ok {
			a = vector() // no series
		}
		w.WriteHeader(a.status)
		fmt.Fprint(w, a.body)
	case "/api/v1/label/__name__/values":
		fmt.Fprintf(w, `{"status":"success","data":[%s]}`, f.names(r.FormValue("match[]")))
	default:
		http.NotFound(w, r)
	}
}

// names are the known names a {__name__="x"} or {__name__=~"p.+"} matches.
func (f *fakeProm) names(match string) string {
	var out []string
	for _, n := range f.known {
		exact := match == `{__name__="`+n+`"}`
		prefix := strings.HasPrefix(match, `{__name__=~"`) && strings.HasPrefix(n, strings.TrimSuffix(strings.TrimPrefix(match, `{__name__=~"`), `.+"}`))
		if exact || prefix {
			out = append(out, `"`+n+`"`)
		}
	}
	return strings.Join(out, ",")
}

func ok(data string) fakeAnswer {
	return fakeAnswer{200, `{"status":"success","data":` + data + `}`}
}

// vector is an instant vector with one series per value.
func vector(values ...string) fakeAnswer {
	var series []string
	for i, v := range values {
		series = append(series, fmt.Sprintf(`{"metric":{"i":"%d"},"value":[1700000000,%q]}`, i, v))
	}
	return ok(`{"resultType":"vector","result":[` + strings.Join(series, ",") + `]}`)
}

var testPromCfg = manifest.PromSource{
	Errors:  `e{app="{{.App}}",side="{{.Side}}"}[{{.Window}}]`,
	Total:   `t{app="{{.App}}",side="{{.Side}}"}[{{.Window}}]`,
	P99:     `p{app="{{.App}}",side="{{.Side}}"}[{{.Window}}]`,
	Timeout: manifest.Duration(5 * time.Second),
}

var testPromTime = time.Date(2025, 1, 2, 3, 4, 5, 678e6, time.UTC)

// newFakeSource starts a fake Prometheus with answers and a source on it.
func newFakeSource(t *testing.T, answers map[string]fakeAnswer, known ...string) *PromSource {
	t.Helper()
	f := &fakeProm{t: t, answers: answers, known: known, at: "1735787045.678"}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	cfg := testPromCfg
	cfg.URL = srv.URL
	p, err := NewPromSource(cfg, PromOptions{HTTP: srv.Client(), Clock: clockwork.NewFakeClockAt(testPromTime)})
	if err != nil {
		t.Fatalf("NewPromSource: %v", err)
	}
	return p
}

// sideAnswers are the answers for one side's errors, total and p99.
func sideAnswers(side string, errs, total, p99 fakeAnswer) map[string]fakeAnswer {
	q := func(m string) string { return m + `{app="shop",side="` + side + `"}[30s]` }
	return map[string]fakeAnswer{q("e"): errs, q("t"): total, q("p"): p99}
}

func merge(ms ...map[string]fakeAnswer) map[string]fakeAnswer {
	out := map[string]fakeAnswer{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func TestPromSourceSample(t *testing.T) {
	healthyOld := sideAnswers("old", vector("2"), vector("199.6"), vector("0.25"))
	tests := []struct {
		name    string
		new     map[string]fakeAnswer
		want    SideSample
		wantErr []string // substrings of the error; nil: no error
		noData  bool     // the error wraps ErrNoData
	}{
		{
			name: "vector values",
			new:  sideAnswers("new", vector("10"), vector("100"), vector("0.5")),
			want: SideSample{Requests: 100, Errors: 10, P99: 500 * time.Millisecond},
		},
		{
			name: "scalar values",
			new:  sideAnswers("new", ok(`{"resultType":"scalar","result":[1700000000,"3"]}`), vector("50"), vector("0.1")),
			want: SideSample{Requests: 50, Errors: 3, P99: 100 * time.Millisecond},
		},
		{
			name: "p99 NaN is unknown",
			new:  sideAnswers("new", vector("0"), vector("0"), vector("NaN")),
			want: SideSample{},
		},
		{
			name: "p99 without data is unknown",
			new:  sideAnswers("new", vector("1"), vector("40"), vector()),
			want: SideSample{Requests: 40, Errors: 1},
		},
		{
			name: "p99 beyond the largest bucket",
			new:  sideAnswers("new", vector("1"), vector("40"), vector("+Inf")),
			want: SideSample{Requests: 40, Errors: 1, P99: time.Duration(math.MaxInt64)},
		},
		{
			name: "extrapolated errors above total are capped",
			new:  sideAnswers("new", vector("10.6"), vector("10.4"), vector("0.1")),
			want: SideSample{Requests: 10, Errors: 10, P99: 100 * time.Millisecond},
		},
		{
			name:    "total without data",
			new:     sideAnswers("new", vector("0"), vector(), vector("0.1")),
			wantErr: []string{"total of side new", "no data", `t{app="shop",side="new"}[30s]`},
			noData:  true,
		},
		{
			name:    "errors NaN",
			new:     sideAnswers("new", vector("NaN"), vector("10"), vector("0.1")),
			wantErr: []string{"errors of side new", "NaN is not a count", `e{app="shop",side="new"}[30s]`},
		},
		{
			name:    "total negative",
			new:     sideAnswers("new", vector("0"), vector("-3"), vector("0.1")),
			wantErr: []string{"total of side new", "-3 is negative"},
		},
		{
			name:    "several series",
			new:     sideAnswers("new", vector("1", "2"), vector("10"), vector("0.1")),
			wantErr: []string{"errors of side new", "2 series where one is needed"},
		},
		{
			name:    "range vector",
			new:     sideAnswers("new", vector("1"), ok(`{"resultType":"matrix","result":[]}`), vector("0.1")),
			wantErr: []string{"total of side new", `type "matrix"`},
		},
		{
			name: "bad PromQL",
			new: sideAnswers("new", vector("1"), vector("10"),
				fakeAnswer{400, `{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected \"}\""}`}),
			wantErr: []string{"p99 of side new", "HTTP 400, bad_data: 1:5: parse error", `p{app="shop",side="new"}[30s]`},
		},
		{
			name:    "HTTP error without the API's answer",
			new:     sideAnswers("new", fakeAnswer{502, "<html>bad gateway</html>"}, vector("10"), vector("0.1")),
			wantErr: []string{"errors of side new", "HTTP 502: <html>bad gateway</html>"},
		},
		{
			name:    "success status that is not the API",
			new:     sideAnswers("new", vector("1"), fakeAnswer{200, "hello"}, vector("0.1")),
			wantErr: []string{"total of side new", "not the JSON of its API"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newFakeSource(t, merge(healthyOld, tt.new))
			got, err := p.Sample(t.Context(), "shop", 30*time.Second)
			if tt.wantErr != nil {
				checkErr(t, err, tt.wantErr)
				if gotNoData := errors.Is(err, ErrNoData); gotNoData != tt.noData {
					t.Errorf("errors.Is(err, ErrNoData) = %v, want %v", gotNoData, tt.noData)
				}
				return
			}
			if err != nil {
				t.Fatalf("Sample: %v", err)
			}
			want := Sample{
				At: testPromTime, Window: 30 * time.Second,
				Old: SideSample{Requests: 200, Errors: 2, P99: 250 * time.Millisecond},
				New: tt.want,
			}
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("Sample (-got +want):\n%s", diff)
			}
		})
	}
}

// checkErr fails unless err contains every substring of want.
func checkErr(t *testing.T, err error, want []string) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want one containing %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("err = %q, want it to contain %q", err, w)
		}
	}
}

func TestPromSourceBadQueryIsAPIError(t *testing.T) {
	bad := fakeAnswer{400, `{"status":"error","errorType":"bad_data","error":"parse error"}`}
	p := newFakeSource(t, merge(sideAnswers("old", bad, vector("1"), vector("1")), sideAnswers("new", bad, vector("1"), vector("1"))))
	_, err := p.Sample(t.Context(), "shop", 30*time.Second)
	var ae *APIError
	if !errors.As(err, &ae) {
		t.Fatalf("Sample error %v is not an *APIError", err)
	}
	got := []any{ae.Status, ae.Type, ae.Message, ae.BadQuery()}
	want := []any{400, "bad_data", "parse error", true}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("APIError (-got +want):\n%s", diff)
	}
}

func TestPromSourceUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	cfg := testPromCfg
	cfg.URL = srv.URL
	p, err := NewPromSource(cfg, PromOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Sample(context.Background(), "shop", time.Minute)
	checkErr(t, err, []string{"querying prometheus for", "calling prometheus at http://127.0.0.1:", "connection refused", "[60s]"})
}

func TestNewPromSource(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*manifest.PromSource)
		wantErr string
	}{
		{"valid", func(*manifest.PromSource) {}, ""},
		{"bad URL", func(c *manifest.PromSource) { c.URL = "127.0.0.1:9090" }, `parsing prometheus url "127.0.0.1:9090"`},
		{"unclosed action", func(c *manifest.PromSource) { c.Total = `t{app="{{.App"}` }, "parsing prometheus query total: template: total:1:"},
		{"unknown field", func(c *manifest.PromSource) { c.Errors = `e{app="{{.Application}}"}` }, "parsing prometheus query errors: template: errors:1"},
		{"empty", func(c *manifest.PromSource) { c.P99 = " " }, "parsing prometheus query p99: empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testPromCfg
			cfg.URL = "http://127.0.0.1:9090/prom"
			tt.edit(&cfg)
			_, err := NewPromSource(cfg, PromOptions{})
			got := ""
			if err != nil {
				got = err.Error()
			}
			if tt.wantErr == "" && got != "" || !strings.Contains(got, tt.wantErr) {
				t.Errorf("NewPromSource error = %q, want %q", got, tt.wantErr)
			}
		})
	}
}

func TestPromDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{30 * time.Second, "30s"},
		{5 * time.Minute, "300s"},
		{1500 * time.Millisecond, "1500ms"},
		{time.Microsecond, "1ms"},
		{0, "1ms"},
	}
	for _, tt := range tests {
		t.Run(tt.in.String(), func(t *testing.T) {
			if got := promDuration(tt.in); got != tt.want {
				t.Errorf("promDuration(%s) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestMetricNames(t *testing.T) {
	tests := []struct {
		name, query string
		want        []string
	}{
		{"default total", `sum(increase(migrate_proxy_requests_total{app="shop",side="new"}[30s]))`, []string{"migrate_proxy_requests_total"}},
		{"range without matchers", `rate(http_requests_total[5m])`, []string{"http_requests_total"}},
		{"p99", `histogram_quantile(0.99, sum by (le) (rate(x_bucket{app="a"}[1m])))`, []string{"x_bucket"}},
		{"space before brace, colon", `sum(job:errors:rate5m {a="b"}) / sum(job:errors:rate5m{a="c"})`, []string{"job:errors:rate5m"}},
		{"names in strings are not metrics", `sum(a{path="b{c}[d]", x='e{'})`, []string{"a"}},
		{"bare name is not found", `sum(up) or vector(0)`, nil},
		{"number with exponent", `1e3 * b{}`, []string{"b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(metricNames(tt.query), tt.want); diff != "" {
				t.Errorf("metricNames(%q) (-got +want):\n%s", tt.query, diff)
			}
		})
	}
}

func TestPromSourceCheck(t *testing.T) {
	all := func(a fakeAnswer) map[string]fakeAnswer {
		return merge(sideAnswers("old", a, a, a), sideAnswers("new", a, a, a))
	}
	bad := fakeAnswer{400, `{"status":"error","errorType":"bad_data","error":"1:3: parse error: unexpected end of input"}`}
	warned := fakeAnswer{200, `{"status":"success","warnings":["too many samples"],"data":{"resultType":"scalar","result":[1,"1"]}}`}
	tests := []struct {
		name         string
		answers      map[string]fakeAnswer
		known        []string
		wantWarnings []string // substrings, one per warning
		wantErrs     []string // substrings, one per joined error
	}{
		{name: "every query answers", answers: all(vector("1")), known: []string{"e", "t", "p"}},
		{
			name:     "bad PromQL, once per query",
			answers:  merge(all(vector("1")), sideAnswers("old", bad, vector("1"), vector("1"))),
			known:    []string{"e", "t", "p"},
			wantErrs: []string{"errors of side old: prometheus answered HTTP 400, bad_data: 1:3: parse error"},
		},
		{
			name:         "no data yet for known metrics",
			answers:      merge(all(vector("1")), sideAnswers("new", vector(), vector(), vector("1"))),
			known:        []string{"e", "t", "p"},
			wantWarnings: []string{"errors of side new has no data yet", "total of side new has no data yet"},
		},
		{
			name:     "unknown metric",
			answers:  merge(all(vector("1")), sideAnswers("old", vector("1"), vector(), vector("1"))),
			known:    []string{"e", "p"},
			wantErrs: []string{"total of side old: unknown metric t: prometheus has no series of it"},
		},
		{
			name:         "server warnings",
			answers:      all(warned),
			known:        []string{"e", "t", "p"},
			wantWarnings: slices.Repeat([]string{"prometheus warns about"}, 6),
		},
		{
			name:     "a count that is not a number",
			answers:  merge(all(vector("1")), sideAnswers("new", vector("1"), vector("+Inf"), vector("1"))),
			known:    []string{"e", "t", "p"},
			wantErrs: []string{"total of side new: +Inf is not a count"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newFakeSource(t, tt.answers, tt.known...)
			warnings, err := p.Check(t.Context(), "shop", 30*time.Second)
			matchAll(t, "warning", warnings, tt.wantWarnings)
			matchAll(t, "error", joined(err), tt.wantErrs)
		})
	}
}

// TestPromSourceCheckOwnMetrics: migrate's own metrics missing are an
// error only once Prometheus has some migrate metric (it scrapes migrate,
// so the name is wrong); before that they are not scraped yet.
func TestPromSourceCheckOwnMetrics(t *testing.T) {
	cfg := manifest.PromSource{
		Errors: `migrate_errs{app="{{.App}}",side="{{.Side}}"}`,
		Total:  `migrate_total{app="{{.App}}",side="{{.Side}}"}`,
		P99:    `scalar(1)`,
	}
	tests := []struct {
		name         string
		known        []string
		wantWarnings []string
		wantErrs     []string
	}{
		{
			name:         "not scraped yet",
			wantWarnings: slices.Repeat([]string{"has no data yet; query: migrate_", "prometheus has no migrate metric yet"}, 4),
		},
		{
			name:     "misspelt",
			known:    []string{"migrate_proxy_requests_total"},
			wantErrs: []string{"errors of side old: unknown metric migrate_errs", "total of side old: unknown metric migrate_total"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scalar := ok(`{"resultType":"scalar","result":[1,"1"]}`)
			f := &fakeProm{t: t, known: tt.known, at: "1735787045.678", answers: map[string]fakeAnswer{"scalar(1)": scalar}}
			srv := httptest.NewServer(f)
			defer srv.Close()
			cfg.URL = srv.URL
			p, err := NewPromSource(cfg, PromOptions{Clock: clockwork.NewFakeClockAt(testPromTime)})
			if err != nil {
				t.Fatal(err)
			}
			warnings, err := p.Check(t.Context(), "shop", 30*time.Second)
			matchAll(t, "warning", warnings, pairUp(tt.wantWarnings))
			matchAll(t, "error", joined(err), tt.wantErrs)
		})
	}
}

// pairUp joins pairs of substrings for matchAll: "a\x00b" matches an item
// containing a and b.
func pairUp(ss []string) []string {
	var out []string
	for i := 0; i+1 < len(ss); i += 2 {
		out = append(out, ss[i]+"\x00"+ss[i+1])
	}
	return out
}

// joined splits a joined error into its messages.
func joined(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

// matchAll fails unless got has one item per want, in order, each
// containing its want's substrings (separated by NUL).
func matchAll(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d %ss %q, want %d matching %q", len(got), what, got, len(want), want)
		return
	}
	for i := range got {
		for _, w := range strings.Split(want[i], "\x00") {
			if !strings.Contains(got[i], w) {
				t.Errorf("%s %d = %q, want it to contain %q", what, i, got[i], w)
			}
		}
	}
}

// FuzzMetricNames: the scanner never panics and finds only identifiers of
// the query.
func FuzzMetricNames(f *testing.F) {
	f.Add(`sum(increase(migrate_proxy_requests_total{app="shop",code_class="5xx"}[30s]))`)
	f.Add(`histogram_quantile(0.99, sum by (le) (rate(x_bucket{a='b\'c'}[1m]))) or vector(0)`)
	f.Add("a{b=`c{`}[5m:1m] offset 1m")
	f.Fuzz(func(t *testing.T, q string) {
		for _, name := range metricNames(q) {
			if !strings.Contains(q, name) || name == "" || !isIdentStart(name[0]) {
				t.Errorf("metricNames(%q) found %q", q, name)
			}
		}
	})
}

// FuzzQueryAnswer: no answer of a server makes the decoding panic, and a
// value is only returned without an error.
func FuzzQueryAnswer(f *testing.F) {
	f.Add(200, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"2"]}]}}`)
	f.Add(200, `{"status":"success","data":{"resultType":"scalar","result":[1,"NaN"]}}`)
	f.Add(400, `{"status":"error","errorType":"bad_data","error":"parse error"}`)
	f.Add(200, `{"status":"success","data":{"resultType":"vector","result":[{"value":[1,2]}]}}`)
	f.Add(502, `<html>`)
	f.Fuzz(func(t *testing.T, status int, body string) {
		data, _, err := decodeEnvelope(status, []byte(body))
		if err != nil {
			return
		}
		if v, err := singleValue(data); err != nil && v != 0 {
			t.Errorf("singleValue = %v with error %v", v, err)
		}
	})
}
