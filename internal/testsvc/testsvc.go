// Package testsvc starts the real services the tests of several packages
// talk to (see scripts/test, which installs them and exports where they
// are), so that each package does not carry its own copy.
package testsvc

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FreeAddr returns a loopback address with a port free at the time of the
// call.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// StartPrometheus runs Debian's prometheus (MIGRATE_TEST_PROMETHEUS) with
// its own config and storage in a temp dir, scraping target's /metrics
// every second, and returns its URL once it is ready. It is stopped when
// the test ends; its log is shown if the test failed.
func StartPrometheus(t testing.TB, target string) string {
	t.Helper()
	return StartPrometheusAt(t, target, FreeAddr(t))
}

// StartPrometheusAt is StartPrometheus listening on addr (HOST:PORT), for
// a test that gave the address out before Prometheus runs.
func StartPrometheusAt(t testing.TB, target, addr string) string {
	t.Helper()
	bin := os.Getenv("MIGRATE_TEST_PROMETHEUS")
	if bin == "" {
		t.Fatal("MIGRATE_TEST_PROMETHEUS is not set: point it at Debian's prometheus (scripts/test installs it and sets it)")
	}
	dir := t.TempDir()
	config := filepath.Join(dir, "prometheus.yml")
	cfg := fmt.Sprintf("global: {scrape_interval: 1s, scrape_timeout: 1s}\nscrape_configs:\n  - job_name: migrate\n    static_configs: [{targets: [%q]}]\n", target)
	if err := os.WriteFile(config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config.file="+config, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
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
	u := "http://" + addr
	for range 300 {
		if resp, err := http.Get(u + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return u
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("prometheus never became ready:\n%s", logs.String())
	return ""
}
