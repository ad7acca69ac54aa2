package serve

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/migratekit/migrate/compare"
	"github.com/migratekit/migrate/telemetry"
)

// TestServeMirrorsBothWays runs an app with the default shadow section
// through a real instance, with clients on old, on both sides and on new,
// and after `migrate shadow` was raised to weight 50: every client is
// mirrored to the other side of the one that served it, the diff report
// has the pairs of each direction, and the status JSON carries each side's
// mirrored answers apart from its served requests. New answers 503: in
// the shadow phase those 5xx are all it gives, and they must show.
func TestServeMirrorsBothWays(t *testing.T) {
	tests := []struct {
		name      string
		shadow    bool // started as `migrate shadow`
		weight    int
		wantPairs map[compare.Direction]bool
	}{
		{"weight 0", false, 0, map[compare.Direction]bool{compare.DirectionOldToNew: true}},
		{"weight 50", false, 50, map[compare.Direction]bool{compare.DirectionOldToNew: true, compare.DirectionNewToOld: true}},
		{"weight 100", false, 100, map[compare.Direction]bool{compare.DirectionNewToOld: true}},
		{"migrate shadow raised to 50", true, 50, map[compare.Direction]bool{compare.DirectionOldToNew: true, compare.DirectionNewToOld: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			oldB, newB := backend(t, http.StatusOK, "old"), backend(t, http.StatusServiceUnavailable, "new")
			yaml := fmt.Sprintf(`defaults:
  listen: 127.0.0.1:0
  admin: {listen: 127.0.0.1:0}
apps:
  web:
    trusted_proxies: [127.0.0.1]
    debug_headers: true
    old: {backends: [%s]}
    new: {backends: [%s]}
    cutover: {weight: %d}
`, oldB.URL, newB.URL, tt.weight)
			inst := startWith(t, yaml, Options{Shadow: tt.shadow})
			if tt.shadow {
				if err := inst.Manager.SetWeight(t.Context(), "web", tt.weight, "api", "test"); err != nil {
					t.Fatal(err)
				}
				waitWeight(t, inst, "web", tt.weight, time.Now())
			}
			served := map[string]int{}
			for c := range 40 {
				req, _ := http.NewRequest(http.MethodGet, proxyURL(inst)+"/items/1", nil)
				req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.0.0.%d", c))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				served[resp.Header.Get("X-Migrate-Side")]++
			}
			// Each side's clients are mirrored to the other.
			want := map[string]uint64{"old": uint64(served["new"]), "new": uint64(served["old"])}
			var st struct {
				Sides map[string]telemetry.SideStats `json:"sides"`
			}
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				st.Sides = nil
				getJSON(t, "http://"+inst.AdminAddr().String()+"/api/v1/apps/web", &st)
				if st.Sides["old"].Mirrored.Requests == want["old"] && st.Sides["new"].Mirrored.Requests == want["new"] {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("status sides %+v: want %v mirrored requests (served %v)", st.Sides, want, served)
				}
			}
			for side, s := range st.Sides {
				if s.Requests != uint64(served[side]) {
					t.Errorf("%s served %d requests by the status, want %d: no mirror among them", side, s.Requests, served[side])
				}
			}
			if m := st.Sides["new"].Mirrored; m.Errors != m.Requests || (m.Requests > 0 && m.ErrorRate != 1) {
				t.Errorf("new's mirrored answers %+v: want every one counted as a 5xx", m)
			}
			if m := st.Sides["old"].Mirrored; m.Errors != 0 {
				t.Errorf("old's mirrored answers %+v: want no 5xx", m)
			}
			checkReportDirections(t, inst, tt.wantPairs)
		})
	}
}

// checkReportDirections waits for the diff report to have the pairs of
// the wanted directions, and of them only.
func checkReportDirections(t *testing.T, inst *Instance, want map[compare.Direction]bool) {
	t.Helper()
	var got map[compare.Direction]uint64
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		r, ok, err := inst.DiffReport(t.Context(), "web")
		if err != nil || !ok {
			t.Fatalf("DiffReport: %v %v", ok, err)
		}
		got = map[compare.Direction]uint64{}
		for _, e := range r.Endpoints {
			got[e.Direction] += e.Diffs
		}
		if len(got) == len(want) && (got[compare.DirectionOldToNew] > 0) == want[compare.DirectionOldToNew] &&
			(got[compare.DirectionNewToOld] > 0) == want[compare.DirectionNewToOld] {
			return
		}
	}
	t.Errorf("diffs by direction in the report %v, want pairs in %v", got, want)
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
