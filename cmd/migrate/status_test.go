package main

import (
	"encoding/json"
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
