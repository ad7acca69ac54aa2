package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRunCutsOver runs the whole demo briefly: both sides serve, the weight
// ends at 100, no client ever moves back from new to old, and the summary
// is printed.
func TestRunCutsOver(t *testing.T) {
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
	for _, want := range []string{"weight -> 50% on new", "summary", "p99"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
