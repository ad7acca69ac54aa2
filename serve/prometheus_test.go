package serve

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/migratekit/migrate/internal/testsvc"
	"github.com/migratekit/migrate/state"
)

func freeAddr(t *testing.T) string { return testsvc.FreeAddr(t) }

// startPrometheus runs a real Prometheus scraping target every second
// and returns its URL.
func startPrometheus(t *testing.T, target string) string {
	t.Helper()
	return testsvc.StartPrometheus(t, target)
}

// TestRollbackFromPrometheus: a real Prometheus scrapes a running instance;
// the app's rollback source is that Prometheus, and the rollback is decided
// from PromQL when the new side answers 500s.
func TestRollbackFromPrometheus(t *testing.T) {
	oldB, newB := backend(t, 200, "old"), backend(t, 500, "broken")
	adminAddr := freeAddr(t)
	prom := startPrometheus(t, adminAddr)
	inst, proxyURL := start(t, fmt.Sprintf(`defaults:
  listen: 127.0.0.1:0
  admin: {listen: %s}
apps:
  shop:
    old: {backends: [%s]}
    new: {backends: [%s]}
    shadow: {sample: 0%%}
    rollback:
      max_error_rate: 5%%
      min_requests: 20
      window: 10s
      fast_breaker: {disabled: true}
      source: prometheus
      prometheus: {url: %s}
`, adminAddr, oldB.URL, newB.URL, prom))
	ctx := context.Background()
	if err := inst.Manager.SetWeight(ctx, "shop", 100, state.ActorAPI, "test"); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	for time.Since(began) < 60*time.Second && inst.Proxy.App("shop").Weight() != 0 {
		if resp, err := http.Get(proxyURL + "/"); err == nil {
			resp.Body.Close()
		}
		time.Sleep(20 * time.Millisecond)
	}
	if w := inst.Proxy.App("shop").Weight(); w != 0 {
		t.Fatalf("weight %d after 60s of 500s on new: no rollback from Prometheus", w)
	}
	t.Logf("rolled back %s after the first request", time.Since(began))
	v, ok := inst.Manager.Verdict("shop")
	if !ok || v.Result != "fail" || v.Sample.New.Requests < 20 || v.Sample.New.Errors == 0 {
		t.Errorf("verdict %+v; want a failure on the numbers Prometheus gave", v)
	}
	waitControllerRollback(t, inst, "shop")
}
