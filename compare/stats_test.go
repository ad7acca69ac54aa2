package compare

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestStats(t *testing.T) {
	e := newTestEngine(t, Config{})
	pair := func(path string, status int, body string) Pair {
		return Pair{App: "shop", Request: Request{Method: "GET", Path: path},
			Primary: resp(200, `{"a":1,"b":2}`), Candidate: resp(status, body)}
	}
	for range 6 {
		e.Compare(pair("/users/1", 200, `{"b":2,"a":1}`))
	}
	for range 3 {
		e.Compare(pair("/users/2", 200, `{"a":5,"b":2}`))
	}
	e.Compare(pair("/users/3", 500, `{"a":5,"b":3}`))
	e.Compare(Pair{App: "shop", Request: Request{Method: "GET", Path: "/users/4"},
		Primary: resp(200, "{}"), Candidate: Response{Err: errors.New("refused")}})
	e.Record("shop", "", "/users/:id", "POST", OutcomeSkippedUnsafe)
	e.Compare(pair("/health", 200, `{"a":1,"b":2}`))

	got := e.Stats("shop")
	ms := func(d time.Duration) float64 { return latencyHistMidpoint(d) }
	want := []EndpointStats{
		{
			Endpoint: "/health", Direction: DirectionOldToNew, Requests: 1, Diffs: 0, DiffRate: 0,
			Outcomes: map[Outcome]uint64{OutcomeMatch: 1}, Fields: []FieldStats{},
			Latency: LatencyStats{Primary: Quantiles{ms(10e6), ms(10e6), ms(10e6)}, Candidate: Quantiles{ms(10e6), ms(10e6), ms(10e6)},
				Judgement: insufficientLatency},
			StatusMatrix: map[string]uint64{"2xx->2xx": 1},
		},
		{
			Endpoint: "/users/:id", Inferred: true, Direction: DirectionOldToNew, Requests: 10, Diffs: 4, DiffRate: 0.4,
			Outcomes: map[Outcome]uint64{OutcomeMatch: 6, OutcomeDiff: 4, OutcomeShadowError: 1, OutcomeSkippedUnsafe: 1},
			Fields: []FieldStats{
				{Path: "/a", Kind: KindJSON, Count: 4, Rate: 0.4},
				{Path: "/b", Kind: KindJSON, Count: 1, Rate: 0.1},
				{Path: "status", Kind: KindStatus, Count: 1, Rate: 0.1},
			},
			Latency: LatencyStats{Primary: Quantiles{ms(10e6), ms(10e6), ms(10e6)}, Candidate: Quantiles{ms(10e6), ms(10e6), ms(10e6)},
				Judgement: insufficientLatency},
			StatusMatrix: map[string]uint64{"2xx->2xx": 9, "2xx->5xx": 1, "2xx->none": 1},
		},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("Stats mismatch (-got +want):\n%s", diff)
	}
	if got, want := e.Apps(), []string{"shop"}; !cmp.Equal(got, want) {
		t.Errorf("Apps = %q, want %q", got, want)
	}
	if got := e.Stats("blog"); got != nil {
		t.Errorf("Stats of an unknown app = %+v, want nil", got)
	}
}

// latencyHistMidpoint is the value a histogram reports for d.
func latencyHistMidpoint(d time.Duration) float64 {
	var h latencyHist
	h.add(d)
	return h.quantile(0.5)
}

func TestStatsBounds(t *testing.T) {
	e := newTestEngine(t, Config{MaxEndpoints: 3, MaxFields: 2})
	var endpoints []string
	for i := range 5 {
		res := e.Compare(Pair{App: "shop", Request: Request{Method: "GET", Path: fmt.Sprintf("/e%c/1", 'a'+i)},
			Primary: resp(200, `{"a":1,"b":1,"c":1,"d":1}`), Candidate: resp(200, `{"a":2,"b":2,"c":2,"d":2}`)})
		endpoints = append(endpoints, res.Endpoint)
	}
	if want := []string{"/ea/:id", "/eb/:id", "/ec/:id", Other, Other}; !cmp.Equal(endpoints, want) {
		t.Errorf("Result endpoints = %q, want %q", endpoints, want)
	}
	if got := e.Record("shop", "", "/ez/:id", "GET", OutcomeDropped).Endpoint; got != Other {
		t.Errorf("Record endpoint = %q, want %q", got, Other)
	}
	stats := e.Stats("shop")
	if len(stats) != 4 {
		t.Fatalf("Stats = %d endpoints, want 4 (3 and other)", len(stats))
	}
	for _, s := range stats {
		var paths []string
		for _, f := range s.Fields {
			paths = append(paths, f.Path)
		}
		if want := []string{"/a", "/b", Other}; !cmp.Equal(paths, want) {
			t.Errorf("%s: fields = %q, want %q", s.Endpoint, paths, want)
		}
	}
	if got := stats[3].Outcomes; got[OutcomeDiff] != 2 || got[OutcomeDropped] != 1 {
		t.Errorf("other's outcomes = %v, want 2 diff and 1 dropped", got)
	}
}

func TestLatencyQuantiles(t *testing.T) {
	var h latencyHist
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Millisecond)
	}
	h.add(time.Hour) // past the last bucket
	got := h.quantiles()
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"p50", got.P50Ms, 500}, {"p95", got.P95Ms, 950}, {"p99", got.P99Ms, 990}} {
		if math.Abs(c.got-c.want)/c.want > 0.05 {
			t.Errorf("%s = %.1fms, want %.0fms ± 5%%", c.name, c.got, c.want)
		}
	}
	var empty latencyHist
	if got := empty.quantiles(); got != (Quantiles{}) {
		t.Errorf("quantiles of nothing = %+v, want zeros", got)
	}
}

func TestStatusClass(t *testing.T) {
	for code, want := range map[int]string{0: "none", 101: "1xx", 204: "2xx", 304: "3xx", 404: "4xx", 503: "5xx", 999: "other"} {
		if got := statusClass(code); got != want {
			t.Errorf("statusClass(%d) = %q, want %q", code, got, want)
		}
	}
}

// insufficientLatency is the latency judgement of an endpoint with too few
// pairs, under the default margin.
var insufficientLatency = LatencyJudgement{
	Verdict: LatencyInsufficient, MarginRelative: 0.2, MarginAbsoluteMs: 5,
	P50: QuantileJudgement{Verdict: LatencyInsufficient}, P99: QuantileJudgement{Verdict: LatencyInsufficient},
}
