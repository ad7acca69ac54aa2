package serve

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/migratekit/migrate/state"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startPrometheus starts a real Prometheus scraping target every second and
// returns its URL.
func startPrometheus(t *testing.T, target string) string {
	t.Helper()
	bin := os.Getenv("MIGRATE_TEST_PROMETHEUS")
	if bin == "" {
		t.Fatal("MIGRATE_TEST_PROMETHEUS is not set: run scripts/test, which installs prometheus")
	}
	dir := t.TempDir()
	config := filepath.Join(dir, "prometheus.yml")
	cfg := fmt.Sprintf("global: {scrape_interval: 1s, scrape_timeout: 1s}\nscrape_configs:\n  - job_name: migrate\n    static_configs: [{targets: [%q]}]\n", target)
	if err := os.WriteFile(config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cmd := exec.Command(bin, "--config.file="+config, "--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr, "--log.level=warn")
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting prometheus: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", logs.String())
		}
	})
	url := "http://" + addr
	for i := 0; i < 300; i++ {
		if resp, err := http.Get(url + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("prometheus never became ready:\n%s", logs.String())
	return ""
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
	evs, err := inst.Manager.Events(ctx, state.Query{App: "shop", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, e := range evs {
		found = found || (e.Kind == state.KindRollback && e.Actor == state.ActorController)
	}
	if !found {
		t.Errorf("no controller rollback event in %+v", evs)
	}
}
