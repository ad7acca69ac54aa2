package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/migratekit/migrate/admin"
	"github.com/migratekit/migrate/demo"
)

func TestStatusWatch(t *testing.T) {
	adminAddr := startDemo(t)
	t.Run("text blocks when piped", func(t *testing.T) {
		code, out, errs := runCLI(t, "status", demo.App, "--admin", adminAddr, "--watch", "--interval", "100ms", "--count", "3")
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, errs)
		}
		if got := strings.Count(out, "shop  weight 50% on new  phase split"); got != 3 {
			t.Errorf("%d frames, want 3:\n%s", got, out)
		}
		if got := strings.Count(out, "req/s now"); got != 2 {
			t.Errorf("%d rate lines, want 2 (every frame but the first):\n%s", got, out)
		}
		if strings.Contains(out, "\x1b[") {
			t.Errorf("terminal escapes in piped output:\n%q", out)
		}
	})
	t.Run("json lines", func(t *testing.T) {
		code, out, errs := runCLI(t, "status", demo.App, "--admin", adminAddr, "-w", "--interval", "100ms", "--count", "2", "--format", "json")
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, errs)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 2 {
			t.Fatalf("%d lines, want 2:\n%s", len(lines), out)
		}
		for _, l := range lines {
			var st admin.AppStatus
			if err := json.Unmarshal([]byte(l), &st); err != nil || st.App != demo.App || st.Weight != 50 {
				t.Errorf("line %q: %+v %v", l, st, err)
			}
		}
	})
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"bad interval", []string{"--watch", "--interval", "0s"}, exitUsage, "--interval must be positive"},
		{"bad count", []string{"--watch", "--count", "-1"}, exitUsage, "--count must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"status", demo.App, "--admin", adminAddr}, tt.args...)
			code, _, errs := runCLI(t, args...)
			if code != tt.wantCode || !strings.Contains(errs, tt.wantErr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errs, tt.wantCode, tt.wantErr)
			}
		})
	}
	t.Run("unknown app ends the watch", func(t *testing.T) {
		code, _, errs := runCLI(t, "status", "nope", "--admin", adminAddr, "--watch", "--interval", "100ms")
		if code != exitRuntime || !strings.Contains(errs, `app "nope" is not served`) {
			t.Errorf("exit %d, stderr %q", code, errs)
		}
	})
}

// TestStatusAfterAnAutomaticRollback: status still shows an automatic
// rollback once its window has passed and the verdict no longer fails,
// and says each reason of a verdict once.
func TestStatusAfterAnAutomaticRollback(t *testing.T) {
	t.Parallel()
	p, c := serveRolledBack(t, "    shadow: {sample: 0%}\n    rollback: {max_error_rate: 5%, max_error_rate_increase: 5%, min_requests: 20, window: 2s}\n")
	adminAddr := c.BaseURL
	var out string
	p.waitFor(t, "passed the rollback's window", func() bool {
		var code int
		code, out, _ = runCLI(t, "status", "shop", "--admin", adminAddr)
		return code == exitOK && !strings.Contains(out, "verdict fail")
	})
	if !strings.Contains(out, "rolled back at ") || !strings.Contains(out, "by controller (weight 100 -> 0): new 5xx 100.0%") {
		t.Errorf("status after the window lacks the rollback:\n%s", out)
	}
	if want := "; max_error_rate, max_error_rate_increase: new side requests: none in 2s\n"; !strings.Contains(out, want) {
		t.Errorf("status lacks the shared reason once, %q:\n%s", want, out)
	}
	if _, err := c.SetWeight(context.Background(), "shop", 10, "again"); err != nil {
		t.Fatal(err)
	}
	if _, out, _ := runCLI(t, "status", "shop", "--admin", adminAddr); strings.Contains(out, "rolled back at") {
		t.Errorf("status after a weight change still shows the rollback:\n%s", out)
	}
}

// serveRolledBack runs the migrate binary's serve, with args before the
// command, on a manifest of shop whose new side answers only 500s and
// whose app has appLines more (its rollback section); it sets the weight
// to 100 and returns once the controller has rolled shop back, with a
// client of the admin API.
func serveRolledBack(t *testing.T, appLines string, args ...string) (*process, *admin.Client) {
	t.Helper()
	newSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "broken", http.StatusInternalServerError)
	}))
	t.Cleanup(newSrv.Close)
	listen, adminAddr := freeAddr(t), freeAddr(t)
	cfg := writeConfig(t, t.TempDir(), fmt.Sprintf(`defaults:
  listen: %s
  admin: {listen: %s}
apps:
  shop:
    old: {backends: [%s]}
    new: {backends: [%s]}
%s`, listen, adminAddr, textServer(t, "old").URL, newSrv.URL, appLines))
	p := startBinaryEnv(t, []string{"MIGRATE_ADMIN_TOKEN=s3cret"}, append(args, "--config", cfg, "--data-dir", t.TempDir(), "serve")...)
	p.waitFor(t, "healthy", func() bool { return answers("http://" + adminAddr + "/healthz") })
	c := &admin.Client{BaseURL: adminAddr, Token: "s3cret"}
	if _, err := c.SetWeight(context.Background(), "shop", 100, "test"); err != nil {
		t.Fatal(err)
	}
	p.waitFor(t, "rolled back", func() bool {
		answers("http://" + listen + "/")
		st, err := c.App(context.Background(), "shop")
		return err == nil && st.Weight == 0
	})
	return p, c
}
