package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// deployTokenEnv holds the admin token of the deploy tests, a variable of
// their own (admin.token_env) so that they run in parallel with the
// tests that set MIGRATE_ADMIN_TOKEN (t.Setenv); each sets it to the
// same value.
const deployTokenEnv = "MIGRATE_TEST_DEPLOY_TOKEN"

// healthServer answers body, and /health with 200 while healthy.
func healthServer(t *testing.T, body string, healthy bool) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" && !healthy {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, body)
	}))
	t.Cleanup(s.Close)
	return s
}

// writeDeployManifest writes a manifest of "shop" with every client on
// new, whose backends are newURLs, health-checked every 100ms.
func writeDeployManifest(t *testing.T, listen, adminAddr, oldURL string, newURLs []string) string {
	t.Helper()
	os.Setenv(deployTokenEnv, "deploy-s3cret")
	return writeConfig(t, t.TempDir(), fmt.Sprintf(`defaults:
  listen: %s
  admin: {listen: %s, token_env: %s}
  drain: 10s
apps:
  shop:
    old: {backends: [%s]}
    new: {backends: [%s], health: {path: /health, interval: 100ms, timeout: 50ms, healthy: 1}}
    cutover: {weight: 100}
    shadow: {sample: 0%%}
`, listen, adminAddr, deployTokenEnv, oldURL, strings.Join(newURLs, ", ")))
}

// load sends requests through listen from 8 clients until stop is
// closed, and counts them and those that failed.
type load struct {
	sent, failed atomic.Int64
	bodies       sync.Map // body -> count
	firstErr     atomic.Value
	wg           sync.WaitGroup
	stop         chan struct{}
}

func startLoad(url string) *load {
	l := &load{stop: make(chan struct{})}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	for range 8 {
		l.wg.Go(func() {
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				l.one(client, url)
			}
		})
	}
	return l
}

func (l *load) one(client *http.Client, url string) {
	l.sent.Add(1)
	resp, err := client.Get(url)
	if err == nil {
		b, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		if rerr == nil && resp.StatusCode == http.StatusOK {
			n, _ := l.bodies.LoadOrStore(string(b), new(atomic.Int64))
			n.(*atomic.Int64).Add(1)
			return
		}
		err = fmt.Errorf("status %d, body %q, %v", resp.StatusCode, b, rerr)
	}
	l.failed.Add(1)
	l.firstErr.CompareAndSwap(nil, err.Error())
}

func (l *load) end() {
	close(l.stop)
	l.wg.Wait()
}

// TestRollingDeployUnderLoad: a rolling deploy of 3 new-side backends
// through migrate serve's admin API, with requests going on all along:
// not one fails, and at the end only the new backends serve.
func TestRollingDeployUnderLoad(t *testing.T) {
	t.Parallel()
	old := healthServer(t, "old", true)
	var before, after []string
	for i := range 3 {
		before = append(before, healthServer(t, fmt.Sprintf("v1-%d", i), true).URL)
		after = append(after, healthServer(t, fmt.Sprintf("v2-%d", i), true).URL)
	}
	listen, adminAddr := freeAddr(t), freeAddr(t)
	cfg := writeDeployManifest(t, listen, adminAddr, old.URL, before)
	stop := startServe(t, cfg, t.TempDir(), adminAddr)
	defer stop()

	l := startLoad("http://" + listen + "/")
	for l.sent.Load() < 200 { // the load is under way when the deploy starts
		runtime.Gosched()
	}
	args := []string{"--config", cfg, "deploy", "shop", "--side", "new", "--format", "json"}
	for i := range 3 {
		args = append(args, "--replace", before[i], "--with", after[i])
	}
	code, out, errs := runCLI(t, args...)
	l.end()
	if code != exitOK {
		t.Fatalf("deploy: code %d\nstdout %s\nstderr %s", code, out, errs)
	}
	if n := l.failed.Load(); n > 0 {
		t.Errorf("%d of %d requests failed during the deploy; the first: %v", n, l.sent.Load(), l.firstErr.Load())
	}
	if l.sent.Load() == 0 {
		t.Error("no request was sent during the deploy")
	}
	for range 10 {
		if got := get(t, "http://"+listen+"/"); !strings.HasPrefix(got, "v2-") {
			t.Fatalf("after the deploy a request reached %q, want a v2 backend", got)
		}
	}
	var sum deploySummary
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("summary is not JSON (%v): %s", err, out)
	}
	var got []string
	for _, p := range sum.Pairs {
		got = append(got, p.Old+" -> "+p.New+": "+p.State)
	}
	var want []string
	for i := range 3 {
		want = append(want, before[i]+" -> "+after[i]+": done")
	}
	if diff := cmp.Diff(got, want); diff != "" || !sum.OK {
		t.Errorf("summary ok=%v, pairs (-got +want):\n%s", sum.OK, diff)
	}
	code, out, _ = runCLI(t, "--config", cfg, "backends", "list", "shop")
	for i := range 3 {
		if code != exitOK || strings.Contains(out, before[i]) || !strings.Contains(out, after[i]) {
			t.Errorf("backends list after the deploy (code %d):\n%s\nwant %s and not %s", code, out, after[i], before[i])
		}
	}
}

// TestDeployStops: a new backend that never passes its check stops the
// deploy at its pair, exit 1, with each pair's state said; the pairs
// after it are untouched, and the old backend still serves.
func TestDeployStops(t *testing.T) {
	t.Parallel()
	old, v1a, v1b := healthServer(t, "old", true), healthServer(t, "v1-a", true), healthServer(t, "v1-b", true)
	sick, v2b := healthServer(t, "sick", false), healthServer(t, "v2-b", true)
	listen, adminAddr := freeAddr(t), freeAddr(t)
	cfg := writeDeployManifest(t, listen, adminAddr, old.URL, []string{v1a.URL, v1b.URL})
	stop := startServe(t, cfg, t.TempDir(), adminAddr)
	defer stop()

	code, out, errs := runCLI(t, "--config", cfg, "deploy", "shop", "--side", "new", "--timeout", "500ms",
		"--replace", v1a.URL, "--with", sick.URL, "--replace", v1b.URL, "--with", v2b.URL)
	if code != exitCheck {
		t.Errorf("code %d, want %d (a check did not pass)", code, exitCheck)
	}
	for _, want := range []string{
		"shop: deploy of 2 backends on new STOPPED",
		"1/2 " + v1a.URL + " -> " + sick.URL + ": added, failed waiting for " + sick.URL + " to pass its first check: " + sick.URL + " did not pass its first health check within 500ms (--timeout)",
		sick.URL + " is in the pool but gets no requests (its first check has not passed); " + v1a.URL + " serves",
		"2/2 " + v1b.URL + " -> " + v2b.URL + ": untouched",
		"nothing changed: " + v1b.URL + " serves",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errs, "deploy stopped: pair 1") {
		t.Errorf("stderr %q does not say where the deploy stopped", errs)
	}
	for range 10 {
		if got := get(t, "http://"+listen+"/"); got != "v1-a" && got != "v1-b" {
			t.Fatalf("after the stopped deploy a request reached %q, want v1-a or v1-b", got)
		}
	}
}

// TestDeployUsage: arguments that make no deploy, or pairs that do not
// match the running backends, exit 2 and change nothing.
func TestDeployUsage(t *testing.T) {
	t.Parallel()
	old, v1 := healthServer(t, "old", true), healthServer(t, "v1", true)
	listen, adminAddr := freeAddr(t), freeAddr(t)
	cfg := writeDeployManifest(t, listen, adminAddr, old.URL, []string{v1.URL})
	stop := startServe(t, cfg, t.TempDir(), adminAddr)
	defer stop()
	deploy := []string{"--config", cfg, "deploy", "shop"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no side", []string{"--replace", v1.URL, "--with", "http://127.0.0.1:9"}, "needs --side old or --side new"},
		{"no pair", []string{"--side", "new"}, "at least one --replace"},
		{"unpaired", []string{"--side", "new", "--replace", v1.URL}, "1 --replace, 0 --with"},
		{"bad URL", []string{"--side", "new", "--replace", v1.URL, "--with", "10.1.0.7:3000"}, "--with #1: backend \"10.1.0.7:3000\" is not an http:// or https:// URL"},
		{"twice", []string{"--side", "new", "--replace", v1.URL, "--with", v1.URL}, "--with #1: " + v1.URL + " is given twice"},
		{"parallel 0", []string{"--side", "new", "--replace", v1.URL, "--with", "http://127.0.0.1:9", "--parallel", "0"}, "--parallel 0"},
		{"old not on the side", []string{"--side", "old", "--replace", v1.URL, "--with", "http://127.0.0.1:9"}, "not a backend of shop's old side (nothing changed)"},
		{"new already there", []string{"--side", "new", "--replace", v1.URL, "--with", old.URL}, "already a backend of shop's old side"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := runCLI(t, append(slices.Clone(deploy), tt.args...)...)
			if code != exitUsage || !strings.Contains(errs, tt.want) {
				t.Errorf("code %d, stderr %q; want %d and %q", code, errs, exitUsage, tt.want)
			}
		})
	}
	code, out, _ := runCLI(t, "--config", cfg, "backends", "list", "shop", "--format", "json")
	if code != exitOK || strings.Count(out, `"url"`) != 2 {
		t.Errorf("backends after the refusals (code %d): %s", code, out)
	}
}

// TestBackendsCommands: add, list, drain and remove one by one, and the
// refusals of the API with exit 3.
func TestBackendsCommands(t *testing.T) {
	t.Parallel()
	old, v1, extra := healthServer(t, "old", true), healthServer(t, "v1", true), healthServer(t, "extra", true)
	listen, adminAddr := freeAddr(t), freeAddr(t)
	cfg := writeDeployManifest(t, listen, adminAddr, old.URL, []string{v1.URL})
	stop := startServe(t, cfg, t.TempDir(), adminAddr)
	defer stop()
	steps := []struct {
		name     string
		args     []string
		wantCode int
		want     string
	}{
		{"add without side", []string{"add", "shop", extra.URL}, exitUsage, "needs --side old or --side new"},
		{"add", []string{"add", "shop", "--side", "new", extra.URL}, exitOK, "shop: added " + extra.URL + " to new"},
		{"add again", []string{"add", "shop", "--side", "new", extra.URL}, exitRuntime, "409 Conflict"},
		{"remove not drained", []string{"remove", "shop", extra.URL}, exitRuntime, "drain it first"},
		{"drain the last of old", []string{"drain", "shop", old.URL}, exitRuntime, "the last backend of its pool"},
		{"drain", []string{"drain", "shop", extra.URL}, exitOK, "shop: drained " + extra.URL},
		{"list", []string{"list", "shop"}, exitOK, "draining"},
		{"remove", []string{"remove", "shop", extra.URL}, exitOK, "shop: removed " + extra.URL},
		{"remove unknown", []string{"remove", "shop", extra.URL}, exitRuntime, "404 Not Found"},
		{"add to reset", []string{"add", "shop", "--side", "new", extra.URL}, exitOK, "shop: added"},
		{"reset", []string{"reset", "shop"}, exitOK, "shop: live backend changes dropped"},
		{"reset an unknown app", []string{"reset", "blog"}, exitRuntime, "404 Not Found"},
	}
	for _, s := range steps {
		code, out, errs := runCLI(t, append([]string{"--config", cfg, "backends"}, s.args...)...)
		if code != s.wantCode || !strings.Contains(out+errs, s.want) {
			t.Errorf("%s: code %d, stdout %q, stderr %q; want %d and %q", s.name, code, out, errs, s.wantCode, s.want)
		}
	}
}
