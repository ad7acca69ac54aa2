package dashboards_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
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
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, promURL+"/api/v1/query?query="+url.QueryEscape(expr), nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
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
		return 0, fmt.Errorf("decoding the answer: %w", err)
	}
	if out.Status != "success" {
		return 0, fmt.Errorf("query refused: %s", out.Error)
	}
	n := 0
	for _, r := range out.Data.Result {
		if v, _ := r.Value[1].(string); v != "NaN" {
			n++
		}
	}
	return n, nil
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
	for _, q := range dashboards.GrafanaQueries() {
		if strings.HasPrefix(q.Panel, "annotation: ") {
			annotations = append(annotations, q)
			continue
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
