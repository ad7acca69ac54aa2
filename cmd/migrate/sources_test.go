package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/migratekit/migrate/internal/testsvc"
	"github.com/migratekit/migrate/state"
)

// writePromManifest writes a manifest whose app shop takes its rollback
// verdicts from the Prometheus at promURL.
func writePromManifest(t *testing.T, promURL string) string {
	t.Helper()
	data := fmt.Sprintf(`defaults:
  listen: %s
  admin: {listen: %s}
apps:
  shop:
    old: {backends: [http://127.0.0.1:1]}
    new: {backends: [http://127.0.0.1:2]}
    rollback:
      source: prometheus
      prometheus: {url: %q, timeout: 500ms}
`, freeAddr(t), freeAddr(t), promURL)
	return writeConfig(t, t.TempDir(), data)
}

// TestValidateCheckSources: validate does not reach the sources unless
// asked; with --check-sources an unreachable Prometheus fails the check
// (exit 1) and a running one passes.
func TestValidateCheckSources(t *testing.T) {
	down := writePromManifest(t, "http://"+freeAddr(t))
	if code, _, errs := runCLI(t, "--config", down, "validate"); code != exitOK {
		t.Errorf("validate without --check-sources: code %d (%s), want 0", code, errs)
	}
	code, _, errs := runCLI(t, "--config", down, "validate", "--check-sources")
	if code != exitCheck || !strings.Contains(errs, "apps.shop.rollback.prometheus") || !strings.Contains(errs, "cannot be used") {
		t.Errorf("validate --check-sources, prometheus down: code %d, stderr %q; want %d naming the source", code, errs, exitCheck)
	}
	up := writePromManifest(t, testsvc.StartPrometheus(t, freeAddr(t)))
	if code, _, errs := runCLI(t, "--config", up, "validate", "--check-sources"); code != exitOK || !strings.Contains(errs, "answers every query") {
		t.Errorf("validate --check-sources, prometheus up: code %d, stderr %q; want 0", code, errs)
	}
}

// TestRollbackWatchWithPrometheusDown: rollback watch starts with its
// Prometheus unreachable, reports the source down in the state store's
// events, and stops cleanly.
func TestRollbackWatchWithPrometheusDown(t *testing.T) {
	cfg, dataDir := writePromManifest(t, "http://"+freeAddr(t)), t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exited := make(chan int, 1)
	var errb bytes.Buffer
	go func() {
		cmd := newCmdRoot(&iostreams{In: strings.NewReader(""), Out: &bytes.Buffer{}, Err: &errb})
		cmd.SetArgs([]string{"--config", cfg, "--data-dir", dataDir, "rollback", "watch", "shop"})
		code := exitOK
		if err := cmd.ExecuteContext(ctx); err != nil {
			code = exitCode(err)
		}
		exited <- code
	}()
	for deadline := time.Now().Add(30 * time.Second); !auditHas(t, dataDir, state.KindSourceDown); time.Sleep(50 * time.Millisecond) {
		select {
		case code := <-exited:
			t.Fatalf("rollback watch exited with %d while prometheus was down", code)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("no source_down event within 30s")
		}
	}
	cancel()
	if code := <-exited; code != exitOK {
		t.Errorf("rollback watch exit code %d after SIGTERM, want 0", code)
	}
}

// auditHas reports whether the audit log of dataDir has an event of kind.
func auditHas(t *testing.T, dataDir, kind string) bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, state.AuditLogFile))
	if err != nil {
		return false
	}
	evs, _ := state.ReadAuditLog(bytes.NewReader(b))
	for _, e := range evs {
		if e.Kind == kind {
			return true
		}
	}
	return false
}
