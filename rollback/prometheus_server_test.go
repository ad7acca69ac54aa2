package rollback

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/migratekit/migrate/internal/testsvc"
	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/telemetry"
)

// TestPromSourceOnPrometheus reads migrate's own metrics back through a
// real Prometheus scraping them, with the manifest's default queries.
func TestPromSourceOnPrometheus(t *testing.T) {
	reg := prometheus.NewRegistry()
	metrics, err := telemetry.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	oldSide, newSide := metrics.Side("shop", "old"), metrics.Side("shop", "new")
	target := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer target.Close()
	prom := startPrometheus(t, target.Listener.Addr().String())
	waitTargetUp(t, prom)
	client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	defer client.CloseIdleConnections()
	opts := func(at time.Time) PromOptions { return PromOptions{HTTP: client, Clock: clockwork.NewFakeClockAt(at)} }

	// Traffic after the first scrape, which saw every counter at 0.
	record(oldSide, 198, 200, 10*time.Millisecond)
	record(oldSide, 2, 500, 10*time.Millisecond)
	record(newSide, 90, 200, 200*time.Millisecond)
	record(newSide, 10, 503, 200*time.Millisecond)
	// Query at the time of a scrape that saw all of it: increase() then has
	// nothing to extrapolate (the first samples are 0, the last is at the
	// query time), so the counts are exact.
	at := waitScrapeAfter(t, prom, time.Now())
	cfg := defaultPromSource(t, prom)
	src, err := NewPromSource(cfg, opts(at))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("sample", func(t *testing.T) {
		got, err := src.Sample(t.Context(), "shop", 30*time.Second)
		if err != nil {
			t.Fatalf("Sample: %v", err)
		}
		got.Old.P99, got.New.P99 = got.Old.P99.Round(time.Microsecond), got.New.P99.Round(time.Microsecond)
		want := Sample{
			At: at, Window: 30 * time.Second,
			// p99 interpolates in the bucket of every request:
			// (0.005, 0.01] for old, (0.1, 0.25] for new.
			Old: SideSample{Requests: 200, Errors: 2, P99: 9950 * time.Microsecond},
			New: SideSample{Requests: 100, Errors: 10, P99: 248500 * time.Microsecond},
		}
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("Sample (-got +want):\n%s", diff)
		}
		warnings, err := src.Check(t.Context(), "shop", 30*time.Second)
		if err != nil || len(warnings) != 0 {
			t.Errorf("Check = %q, %v; want no warning, no error", warnings, err)
		}
	})
	t.Run("app without data", func(t *testing.T) {
		_, err := src.Sample(t.Context(), "other", 30*time.Second)
		if !errors.Is(err, ErrNoData) {
			t.Errorf("Sample error = %v, want ErrNoData", err)
		}
		warnings, err := src.Check(t.Context(), "other", 30*time.Second)
		if err != nil || len(warnings) != 6 {
			t.Errorf("Check = %q, %v; want 6 warnings (no data yet), no error", warnings, err)
		}
	})
	t.Run("bad PromQL", func(t *testing.T) {
		bad := cfg
		bad.Errors = `sum(increase(migrate_proxy_requests_total{app="{{.App}}"[{{.Window}}]))`
		src, err := NewPromSource(bad, opts(at))
		if err != nil {
			t.Fatal(err)
		}
		_, err = src.Sample(t.Context(), "shop", 30*time.Second)
		var ae *APIError
		if !errors.As(err, &ae) || !ae.BadQuery() {
			t.Errorf("Sample error = %v, want a bad_data *APIError", err)
		}
		_, err = src.Check(t.Context(), "shop", 30*time.Second)
		checkErr(t, err, []string{"errors of side old", "bad_data", "parse error", `{app="shop"[30s]`})
	})
	t.Run("unknown metric", func(t *testing.T) {
		typo := cfg
		typo.Total = `sum(increase(migrate_proxy_request_total{app="{{.App}}",side="{{.Side}}"}[{{.Window}}]))`
		src, err := NewPromSource(typo, opts(at))
		if err != nil {
			t.Fatal(err)
		}
		_, err = src.Check(t.Context(), "shop", 30*time.Second)
		checkErr(t, err, []string{"total of side old: unknown metric migrate_proxy_request_total: prometheus has no series of it"})
	})
}

// record counts n requests answered with code in d.
func record(s *telemetry.Side, n, code int, d time.Duration) {
	for range n {
		s.Request(code, d)
	}
}

// defaultPromSource is the manifest's prometheus source on url, with its
// default queries.
func defaultPromSource(t *testing.T, url string) manifest.PromSource {
	t.Helper()
	yaml := fmt.Sprintf(`apps:
  shop:
    hosts: [shop.example.com]
    old: {backends: ["http://127.0.0.1:1"]}
    new: {backends: ["http://127.0.0.1:2"]}
    rollback: {source: prometheus, prometheus: {url: %q}}
`, url)
	m, err := manifest.Parse("migrate.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("parsing manifest: %v", err)
	}
	return *m.Apps["shop"].Rollback.Prometheus
}

// startPrometheus runs a real Prometheus scraping target every second
// until the test ends, and returns its URL once it is ready.
func startPrometheus(t *testing.T, target string) string {
	t.Helper()
	return testsvc.StartPrometheus(t, target)
}

func freeAddr(t *testing.T) string { return testsvc.FreeAddr(t) }

// poll calls cond every 50ms until it is true, failing the test after 15s.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: gave up after 15s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitTargetUp waits until Prometheus has scraped its target once.
func waitTargetUp(t *testing.T, prom string) {
	t.Helper()
	poll(t, "target up", func() bool {
		var r struct {
			Data struct {
				ActiveTargets []struct {
					Health string `json:"health"`
				} `json:"activeTargets"`
			} `json:"data"`
		}
		if err := getJSON(prom+"/api/v1/targets", &r); err != nil {
			return false
		}
		return len(r.Data.ActiveTargets) == 1 && r.Data.ActiveTargets[0].Health == "up"
	})
}

// waitScrapeAfter waits for a scrape of the target that started after t0,
// and returns its time.
func waitScrapeAfter(t *testing.T, prom string, t0 time.Time) time.Time {
	t.Helper()
	var at time.Time
	query := prom + `/api/v1/query?query=` + `timestamp(up)`
	poll(t, "a scrape after the traffic", func() bool {
		var r struct {
			Data struct {
				Result []struct {
					Value [2]any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if err := getJSON(query, &r); err != nil || len(r.Data.Result) != 1 {
			return false
		}
		s, _ := r.Data.Result[0].Value[1].(string)
		sec, err := strconv.ParseFloat(s, 64)
		at = time.UnixMilli(int64(sec*1000 + 0.5))
		return err == nil && at.After(t0)
	})
	return at
}

func getJSON(url string, v any) error {
	resp, err := get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// get asks without keeping the connection, so that no idle one outlives
// the test.
func get(url string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Close = true
	return http.DefaultClient.Do(req)
}
