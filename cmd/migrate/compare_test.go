package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/migratekit/migrate/compare"
)

// slowServer answers every request alike, after delay.
func slowServer(t *testing.T, delay time.Duration) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"results": [1, 3]}`)
	}))
	t.Cleanup(s.Close)
	return s
}

// TestCompareReportLatencyGate: new answers the same bodies 20ms slower;
// the report flags the endpoint's latency and --max-latency-increase exits
// 1 under a margin it exceeds, 0 under one it does not.
func TestCompareReportLatencyGate(t *testing.T) {
	oldSrv, newSrv := slowServer(t, 0), slowServer(t, 20*time.Millisecond)
	listen, adminAddr := freeAddr(t), freeAddr(t)
	cfg := writeManifest(t, listen, adminAddr, oldSrv.URL, newSrv.URL)
	t.Setenv("MIGRATE_ADMIN_TOKEN", "s3cret")
	stop := startCmd(t, adminAddr, "--config", cfg, "--data-dir", t.TempDir(), "shadow", "shop")
	defer stop()
	const pairs = 40
	for i := range pairs {
		get(t, fmt.Sprintf("http://%s/api/search?q=%d", listen, i))
	}
	var rep struct {
		Endpoints []compare.EndpointStats `json:"endpoints"`
	}
	for range 300 {
		code, out, errs := runCLI(t, "--config", cfg, "compare", "report", "shop", "--format", "json")
		if code != exitOK {
			t.Fatalf("report: %d %s", code, errs)
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("report JSON: %v\n%s", err, out)
		}
		if len(rep.Endpoints) == 1 && rep.Endpoints[0].Requests == pairs {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(rep.Endpoints) != 1 || rep.Endpoints[0].Requests != pairs {
		t.Fatalf("report endpoints %+v, want /api/search with %d pairs", rep.Endpoints, pairs)
	}
	if j := rep.Endpoints[0].Latency.Judgement; j.Verdict != compare.LatencyRegression || j.P50.Verdict != compare.LatencyRegression {
		t.Errorf("latency judgement %+v, want a regression at p50", j)
	}
	code, out, _ := runCLI(t, "--config", cfg, "compare", "report", "shop")
	if code != exitOK || !strings.Contains(out, "latency regression: p50 regression, new-old at least") {
		t.Errorf("text report: code %d, want 0 and the regression named:\n%s", code, out)
	}
	tests := []struct {
		name, margin string
		code         int
		stderr       string
	}{
		{"over the default margin", "20%+5ms", exitCheck, "latency increase above +20% and +5ms on 1 endpoint quantile(s): /api/search (old_to_new) p50: new-old at least"},
		{"over a relative margin alone", "50%", exitCheck, "/api/search (old_to_new) p50"},
		{"under a wide margin", "100%+100ms", exitOK, ""},
		{"under a wide duration", "1s", exitOK, ""},
		{"not a margin", "fast", exitUsage, `--max-latency-increase: "fast" is not a margin`},
		{"a negative duration", "-5ms", exitUsage, "--max-latency-increase"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := runCLI(t, "--config", cfg, "compare", "report", "shop", "--format", "junit", "--max-latency-increase", tt.margin)
			if code != tt.code || !strings.Contains(errs, tt.stderr) {
				t.Errorf("code %d, stderr %q; want %d with %q", code, errs, tt.code, tt.stderr)
			}
		})
	}
}

func TestParseLatencyMargin(t *testing.T) {
	tests := []struct {
		in   string
		want compare.LatencyMargin
	}{
		{"20%+5ms", compare.LatencyMargin{Relative: 0.2, Absolute: 5 * time.Millisecond}},
		{"5ms + 20%", compare.LatencyMargin{Relative: 0.2, Absolute: 5 * time.Millisecond}},
		{"0.5", compare.LatencyMargin{Relative: 0.5}},
		{"150%", compare.LatencyMargin{Relative: 1.5}},
		{"250us", compare.LatencyMargin{Absolute: 250 * time.Microsecond}},
		{"0", compare.LatencyMargin{}},
	}
	for _, tt := range tests {
		got, err := parseLatencyMargin(tt.in)
		if err != nil {
			t.Errorf("parseLatencyMargin(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(got, tt.want); diff != "" {
			t.Errorf("parseLatencyMargin(%q) (-got +want):\n%s", tt.in, diff)
		}
	}
	for _, bad := range []string{"", "20%+", "fast", "-1ms", "-20%"} {
		if _, err := parseLatencyMargin(bad); err == nil {
			t.Errorf("parseLatencyMargin(%q) = nil error, want one", bad)
		}
	}
}
