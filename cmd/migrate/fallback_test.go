package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/migratekit/migrate/dashboards"
)

// fallbackManifest writes a manifest whose app shop has its new side at
// newURL.
func fallbackManifest(t *testing.T, listen, adminAddr, newURL string) string {
	t.Helper()
	data := fmt.Sprintf(`defaults:
  listen: %s
  admin: {listen: %s}
  drain: 10s
apps:
  shop:
    hosts: [shop.test]
    old: {backends: ["http://192.0.2.1:3000"]}
    new: {backends: [%s]}
    fallback: {retire_below: 0.5, retire_after: 30m}
`, listen, adminAddr, newURL)
	return writeConfig(t, t.TempDir(), data)
}

// TestFallbackCommand runs migrate fallback against a real backend: the
// request is forwarded with its Host, a request carrying the fallback's id
// gets 508, and the admin API reports the arrival.
func TestFallbackCommand(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "new saw %s via %s", r.Host, r.Header.Get("X-Migrate-Fallback"))
	}))
	defer backend.Close()
	listen, adminAddr := freeAddr(t), freeAddr(t)
	cfg := fallbackManifest(t, listen, adminAddr, backend.URL)
	stop := startCmd(t, adminAddr, "--config", cfg, "fallback", "shop", "--id", "oldhost-1")

	send := func(hdr string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+listen+"/", nil)
		req.Host = "shop.test"
		if hdr != "" {
			req.Header.Set("X-Migrate-Fallback", hdr)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	tests := []struct {
		name     string
		hdr      string
		wantCode int
		wantBody string
	}{
		{name: "forwarded with its host and the id", wantCode: http.StatusOK, wantBody: "new saw shop.test via oldhost-1"},
		{name: "its own id comes back", hdr: "oldhost-1", wantCode: http.StatusLoopDetected, wantBody: "loop detected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := send(tt.hdr)
			if code != tt.wantCode || !strings.Contains(body, tt.wantBody) {
				t.Errorf("got %d %q, want %d with %q", code, body, tt.wantCode, tt.wantBody)
			}
		})
	}
	t.Run("admin API", func(t *testing.T) {
		var got map[string]any
		if err := json.Unmarshal([]byte(get(t, "http://"+adminAddr+"/api/v1/apps/shop/fallback")), &got); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"app": "shop", "requests_per_minute": 1.0, "clients_last_hour": 1.0, "below_since": nil,
			"retire_below": 0.5, "retire_after_seconds": 1800.0}
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("fallback status (-got +want):\n%s", diff)
		}
		metrics := get(t, "http://"+adminAddr+"/metrics")
		for _, line := range []string{`migrate_fallback_requests_total{app="shop"} 2`, `migrate_fallback_loops_total{app="shop"} 1`} {
			if !strings.Contains(metrics, line) {
				t.Errorf("/metrics lacks %s", line)
			}
		}
	})
	t.Run("dashboard", func(t *testing.T) {
		if page := get(t, "http://"+adminAddr+dashboards.Prefix); !strings.Contains(page, "<html") {
			t.Errorf("GET %s: %.80q, want the page", dashboards.Prefix, page)
		}
		got := firstFrame(t, "http://"+adminAddr)
		var fb *dashboards.FallbackStatus
		for _, a := range got.Apps {
			if a.App == "shop" {
				fb = a.Fallback
			}
		}
		if diff := cmp.Diff(fb, &dashboards.FallbackStatus{Clients: 1, RequestsPerMinute: 1, RetireBelow: 0.5, RetireAfterSeconds: 1800}); diff != "" {
			t.Errorf("straggler panel in the event stream (-got +want):\n%s", diff)
		}
	})
	if code := stop(); code != exitOK {
		t.Errorf("fallback exited %d after its context ended, want 0", code)
	}
}

// firstFrame reads the first frame of the dashboard's event stream at
// base (the dashboard sends one a second).
func firstFrame(t *testing.T, base string) dashboards.Frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+dashboards.Prefix+"events", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("opening the event stream: %v", err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok && data != "{}" {
			var f dashboards.Frame
			if err := json.Unmarshal([]byte(data), &f); err != nil {
				t.Fatalf("decoding a frame: %v", err)
			}
			return f
		}
	}
	t.Fatalf("the event stream ended without a frame: %v", sc.Err())
	return dashboards.Frame{}
}

func TestFallbackNginxCommand(t *testing.T) {
	cfg := fallbackManifest(t, "127.0.0.1:8080", "127.0.0.1:9090", "http://10.1.0.5:3000")
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string
		wantErr  string
	}{
		{name: "renders", args: []string{"fallback", "nginx", "shop", "--id", "oldhost-1"}, wantCode: exitOK, wantOut: []string{
			"listen 127.0.0.1:8080;", "server_name shop.test;", "proxy_pass http://10.1.0.5:3000;", "proxy_set_header Host $host;",
			`"(^|[\s,])oldhost-1($|[\s,])"`, "return 508;",
		}},
		{name: "unknown app", args: []string{"fallback", "nginx", "blog"}, wantCode: exitUsage, wantErr: `"blog"`},
		{name: "bad id", args: []string{"fallback", "nginx", "shop", "--id", "a;b"}, wantCode: exitUsage, wantErr: "loop guard id"},
		{name: "no app", args: []string{"fallback", "nginx"}, wantCode: exitUsage, wantErr: "one app name"},
		{name: "fallback of an unknown app", args: []string{"fallback", "blog"}, wantCode: exitUsage, wantErr: `"blog"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runCLI(t, append([]string{"--config", cfg}, tt.args...)...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.wantCode, errs)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if !strings.Contains(errs, tt.wantErr) {
				t.Errorf("stderr %q does not say %q", errs, tt.wantErr)
			}
		})
	}
}

// TestDNSCheckWatchFallbackDefault: dnscheck watch asks the app's
// fallback.admin for the retirement advice unless --fallback names
// another.
func TestDNSCheckWatchFallbackDefault(t *testing.T) {
	auth := startDNSTest(t, "127.0.0.53", "192.0.2.10", 1)
	res := startDNSTest(t, "127.0.0.70", "192.0.2.10", 1)
	fallbackAPI := func() (*httptest.Server, *atomic.Int64) {
		var n atomic.Int64
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			fmt.Fprint(w, `{"app":"shop","requests_per_minute":0,"clients_last_hour":0,"below_since":null,"retire_below":1,"retire_after_seconds":3600}`)
		}))
		t.Cleanup(s.Close)
		return s, &n
	}
	inManifest, manifestHits := fallbackAPI()
	onFlag, flagHits := fallbackAPI()
	cfg := writeDNSManifest(t, auth.addr, res.addr)
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "    fallback: {admin: %q}\n", inManifest.URL)
	f.Close()
	tests := []struct {
		name                     string
		flags                    []string
		wantManifest, wantOnFlag bool
	}{
		{name: "default from fallback.admin", wantManifest: true},
		{name: "--fallback wins", flags: []string{"--fallback", onFlag.URL}, wantOnFlag: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			beforeManifest, beforeFlag := manifestHits.Load(), flagHits.Load()
			args := append([]string{"--config", cfg, "--data-dir", t.TempDir(), "dnscheck", "watch", "shop", "--until-propagated", "--timeout", "30s"}, tt.flags...)
			if code, _, errs := runCLI(t, args...); code != exitOK {
				t.Fatalf("exit %d, want 0; stderr:\n%s", code, errs)
			}
			gotManifest, gotOnFlag := manifestHits.Load() > beforeManifest, flagHits.Load() > beforeFlag
			if gotManifest != tt.wantManifest || gotOnFlag != tt.wantOnFlag {
				t.Errorf("asked fallback.admin %v and --fallback %v, want %v and %v", gotManifest, gotOnFlag, tt.wantManifest, tt.wantOnFlag)
			}
		})
	}
}
