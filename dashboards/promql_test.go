package dashboards_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/migratekit/migrate/admin"
	"github.com/migratekit/migrate/dashboards"
	"github.com/migratekit/migrate/demo"
	"github.com/migratekit/migrate/internal/testsvc"
)

func freeAddr(t *testing.T) string { return testsvc.FreeAddr(t) }

// startPrometheus runs a real Prometheus scraping target every second
// and returns its URL.
func startPrometheus(t *testing.T, target string) string {
	t.Helper()
	return testsvc.StartPrometheus(t, target)
}

// runDemoAt runs the demo with its admin API on adminAddr, half the
// clients on new; it returns an admin client with the demo's token.
func runDemoAt(t *testing.T, adminAddr string) *admin.Client {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan *admin.Client, 1)
	done := make(chan error, 1)
	go func() {
		_, err := demo.Run(ctx, demo.Options{
			Admin: adminAddr, Duration: 5 * time.Minute, Plan: []int{50}, Rate: 200,
			Started: func(_, adminURL, token string) { started <- &admin.Client{BaseURL: adminURL, Token: token} },
		})
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("demo: %v", err)
		}
	})
	select {
	case c := <-started:
		return c
	case err := <-done:
		t.Fatalf("demo did not start: %v", err)
	}
	return nil
}

// promQuery runs an instant query and returns how many series answered
// with a number (not NaN).
func promQuery(ctx context.Context, promURL, expr string) (int, error) {
	vals, err := promValues(ctx, promURL, expr, time.Time{})
	return len(vals), err
}

// promValues runs an instant query at at (now when zero) and returns the
// value of each series that answered with a number (not NaN).
func promValues(ctx context.Context, promURL, expr string, at time.Time) ([]float64, error) {
	q := url.Values{"query": {expr}}
	if !at.IsZero() {
		q.Set("time", strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, promURL+"/api/v1/query?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("decoding the answer: %w", err)
	}
	if out.Status != "success" {
		return nil, fmt.Errorf("query refused: %s", out.Error)
	}
	var vals []float64
	for _, r := range out.Data.Result {
		s, _ := r.Value[1].(string)
		if v, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(v) {
			vals = append(vals, v)
		}
	}
	return vals, nil
}

var clampFloor = regexp.MustCompile(`^clamp_min\(.*, ([0-9.e+-]+)\)$`)

// checkSharedAxis evaluates, at one instant, every series a pair of
// panels draws and the pair's shared-axis query, which must be the
// largest of them (or the panel's soft max, when that is larger).
func checkSharedAxis(t *testing.T, promURL, panel string, side []dashboards.Query, axis dashboards.Query) {
	t.Helper()
	ctx := context.Background()
	at := time.Now()
	largest := math.Inf(-1)
	for _, q := range side {
		vals, err := promValues(ctx, promURL, expand(q.Expr), at)
		if err != nil {
			t.Fatalf("%s %s: %v", panel, q.Legend, err)
		}
		for _, v := range vals {
			largest = math.Max(largest, v)
		}
	}
	if m := clampFloor.FindStringSubmatch(axis.Expr); m != nil {
		floor, _ := strconv.ParseFloat(m[1], 64)
		largest = math.Max(largest, floor)
	}
	got, err := promValues(ctx, promURL, expand(axis.Expr), at)
	if err != nil {
		t.Fatalf("%s axis: %v", panel, err)
	}
	if len(got) != 1 || math.Abs(got[0]-largest) > 1e-9*math.Max(1, largest) {
		t.Errorf("%s: shared axis max %v at %s, want one series at %v, the largest value of both sides", panel, got, at.Format(time.RFC3339Nano), largest)
	}
}

// expand fills in the dashboard's variables as Grafana would, with a
// rate interval of a few scrapes.
func expand(expr string) string {
	return strings.NewReplacer("$app", demo.App, "$__rate_interval", "10s").Replace(expr)
}

// waitData polls expr until it answers with data.
func waitData(t *testing.T, promURL, expr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var lastErr error
	for ctx.Err() == nil {
		n, err := promQuery(ctx, promURL, expr)
		if err == nil && n > 0 {
			return
		}
		if err != nil && strings.HasPrefix(err.Error(), "query refused") {
			t.Fatalf("%s: %v", expr, err)
		}
		lastErr = err
		time.Sleep(500 * time.Millisecond)
	}
	t.Errorf("no data within 60s for %s (last error %v)", expr, lastErr)
}

// TestGrafanaQueriesOnPrometheus runs every expression of the Grafana
// dashboard against a real Prometheus scraping a running demo: each
// side's panels answer for old and for new, the app's panels answer, and
// the annotations fire on a weight change and a rollback. The optional
// panels (logs, DNS, fallback) must be accepted; TestGrafanaSeriesExist
// checks that the series they read are registered.
func TestGrafanaQueriesOnPrometheus(t *testing.T) {
	adminAddr := freeAddr(t)
	promURL := startPrometheus(t, adminAddr)
	client := runDemoAt(t, adminAddr)
	var annotations []dashboards.Query
	pairs := map[string][]dashboards.Query{}
	axes := map[string]dashboards.Query{}
	for _, q := range dashboards.GrafanaQueries() {
		if strings.HasPrefix(q.Panel, "annotation: ") {
			annotations = append(annotations, q)
			continue
		}
		switch {
		case q.Optional:
		case q.Legend == dashboards.AxisLegend:
			axes[q.Panel] = q
		case q.Side != "":
			pairs[q.Panel] = append(pairs[q.Panel], q)
		}
		t.Run(q.Panel+"/"+q.Legend, func(t *testing.T) {
			if q.Optional {
				// The demo ships no logs, checks no DNS and runs no
				// fallback: Prometheus must accept the query, and the
				// series it reads must be ones migrate registers.
				if _, err := promQuery(context.Background(), promURL, expand(q.Expr)); err != nil {
					t.Errorf("%s: %v", q.Expr, err)
				}
				return
			}
			waitData(t, promURL, expand(q.Expr))
		})
	}
	if len(axes) != len(pairs) || len(pairs) < 4 {
		t.Errorf("%d pairs of panels and %d shared axes", len(pairs), len(axes))
	}
	for panel, side := range pairs {
		t.Run(panel+"/shared axis", func(t *testing.T) { checkSharedAxis(t, promURL, panel, side, axes[panel]) })
	}
	ctx := context.Background()
	if _, err := client.SetWeight(ctx, demo.App, 60, "test"); err != nil {
		t.Fatal(err)
	}
	// Let Prometheus scrape the new weight before the rollback.
	waitData(t, promURL, expand(`migrate_cutover_weight{app="$app"} == 60`))
	if _, err := client.Rollback(ctx, demo.App, "test"); err != nil {
		t.Fatal(err)
	}
	for _, q := range annotations {
		t.Run(q.Panel, func(t *testing.T) {
			waitData(t, promURL, expand(q.Expr))
		})
	}
}
