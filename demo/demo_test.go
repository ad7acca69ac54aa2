package demo

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/migratekit/migrate/admin"
	"github.com/migratekit/migrate/compare"
	"github.com/migratekit/migrate/telemetry"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func endpoint(r compare.Report, name string) (compare.EndpointStats, bool) {
	for _, e := range r.Endpoints {
		if e.Endpoint == name {
			return e, true
		}
	}
	return compare.EndpointStats{}, false
}

// TestShadowFindsTheRegression runs the demo in the shadow phase: the
// report names the price regression, and neither the reordered keys nor the
// volatile timestamp as a regression.
func TestShadowFindsTheRegression(t *testing.T) {
	var out bytes.Buffer
	// 6s: about 180 pairs of /api/search, so that its latency verdict holds
	// on a loaded machine (go test -race ./... on 2 cores).
	sum, err := Run(context.Background(), Options{Duration: 6 * time.Second, Rate: 300, Out: &out})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	tests := []struct {
		endpoint       string
		wantRegression []string // nil: none
		slower         bool     // a latency regression
	}{
		{RegressedEndpoint, []string{RegressedField}, false},
		{"/api/products", nil, false}, // keys reordered: no difference
		{"/api/status", nil, false},   // volatile timestamp: noise
		{"/api/search", nil, true},    // slower, same answers
	}
	for _, tt := range tests {
		t.Run(tt.endpoint, func(t *testing.T) {
			e, ok := endpoint(sum.Report, tt.endpoint)
			if !ok || e.Requests == 0 {
				t.Fatalf("no mirrored requests for %s in the report", tt.endpoint)
			}
			if got := Regressions(e); !slices.Equal(got, tt.wantRegression) {
				t.Errorf("regressions = %v, want %v (fields %+v)", got, tt.wantRegression, e.Fields)
			}
			if got := e.Latency.Judgement.Verdict == compare.LatencyRegression; got != tt.slower {
				t.Errorf("latency regression %v, want %v (%+v)", got, tt.slower, e.Latency)
			}
		})
	}
	for _, e := range sum.Report.Endpoints { // the endpoints that are the same are not slower
		if e.Endpoint != "/api/search" && e.Latency.Judgement.Verdict == compare.LatencyRegression {
			t.Errorf("%s (%s): latency regression %+v, want none", e.Endpoint, e.Direction, e.Latency)
		}
	}
	if st, _ := endpoint(sum.Report, "/api/status"); st.Outcomes[compare.OutcomeNoise] == 0 {
		t.Errorf("/api/status outcomes %v: want the timestamp judged noise", st.Outcomes)
	}
	if co, _ := endpoint(sum.Report, "/api/checkout"); co.Outcomes[compare.OutcomeSkippedUnsafe] == 0 || co.Requests != 0 {
		t.Errorf("/api/checkout: %+v; want POSTs skipped as unsafe, none mirrored", co)
	}
	if sum.Status.Sides["new"].Requests != 0 {
		t.Errorf("new served %d requests in the shadow phase, want 0", sum.Status.Sides["new"].Requests)
	}
	// One word for the phase: the banner's is the status's.
	if sum.Status.Phase != admin.PhaseShadow || !strings.Contains(out.String(), "in the "+sum.Status.Phase+" phase") {
		t.Errorf("status phase %q, want %q as the banner says:\n%s", sum.Status.Phase, admin.PhaseShadow, out.String())
	}
	if !strings.Contains(out.String(), "regression on "+RegressedEndpoint+": "+RegressedField) {
		t.Errorf("output does not name the regression:\n%s", out.String())
	}
}

// TestPlanCutsOver steps a cutover plan: both sides serve, the weight ends
// at 100, and no client ever moves back from new to old.
func TestPlanCutsOver(t *testing.T) {
	var out bytes.Buffer
	sum, err := Run(context.Background(), Options{Duration: 3 * time.Second, Plan: []int{0, 50, 100}, Rate: 150, Out: &out})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	old, nw := sum.Status.Sides["old"], sum.Status.Sides["new"]
	if old.Requests == 0 || nw.Requests == 0 {
		t.Errorf("requests old %d new %d: both sides should have served", old.Requests, nw.Requests)
	}
	if sum.Status.Weight != 100 {
		t.Errorf("final weight %d, want 100", sum.Status.Weight)
	}
	if sum.Traffic.MovedBack != 0 {
		t.Errorf("%d clients moved back from new to old", sum.Traffic.MovedBack)
	}
	if sum.Traffic.Failed != 0 {
		t.Errorf("%d transport failures", sum.Traffic.Failed)
	}
	if !strings.Contains(out.String(), "weight -> 50% on new") {
		t.Errorf("output lacks the plan's steps:\n%s", out.String())
	}
}

// TestPrintStepShowsMirrored: in the shadow phase new serves nothing, so
// the progress line shows its answers to mirrored requests, 5xx included.
func TestPrintStepShowsMirrored(t *testing.T) {
	var st admin.AppStatus
	st.Sides = map[string]telemetry.SideStats{
		"old": {Requests: 997, P99Ms: 12.5},
		"new": {Mirrored: telemetry.MirroredStats{Requests: 950, Errors: 19, ErrorRate: 0.02, P99Ms: 14}},
	}
	var out bytes.Buffer
	printStep(&out, 5*time.Second, st)
	want := "| mirrored to new    950 req  2.00% 5xx p99  14.0 ms\n"
	if !strings.HasSuffix(out.String(), want) || strings.Contains(out.String(), "mirrored to old") {
		t.Errorf("printStep = %q, want it to end with %q and name no mirror to old", out.String(), want)
	}
}
