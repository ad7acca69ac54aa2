package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/migratekit/migrate/internal/testsvc"
	"github.com/migratekit/migrate/state"
)

// TestServeStartFailures: serve refuses what it cannot start on with the
// file and what to do, exit 3, and stops at once, exit 0, on a signal
// that comes while it starts; never a panic.
func TestServeStartFailures(t *testing.T) {
	redis := testsvc.StartRedis(t)
	redis.Kill()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name     string
		ctx      context.Context
		defaults string
		dataDir  func(t *testing.T) string
		wantCode int
		wantErr  []string
	}{
		{
			name: "state.db is garbage",
			ctx:  context.Background(),
			dataDir: func(t *testing.T) string {
				dir := t.TempDir()
				if err := os.WriteFile(filepath.Join(dir, state.DBFile), bytes.Repeat([]byte("garbage"), 2000), 0o600); err != nil {
					t.Fatal(err)
				}
				return dir
			},
			wantCode: exitRuntime,
			wantErr:  []string{state.DBFile, "is damaged", "move it aside", "--data-dir"},
		},
		{
			name: "data dir is a file",
			ctx:  context.Background(),
			dataDir: func(t *testing.T) string {
				f := filepath.Join(t.TempDir(), "f")
				if err := os.WriteFile(f, nil, 0o600); err != nil {
					t.Fatal(err)
				}
				return f
			},
			wantCode: exitRuntime,
			wantErr:  []string{"not a directory", "--data-dir"},
		},
		{
			name:     "redis down and no last known state",
			ctx:      context.Background(),
			defaults: "  state: {backend: redis, url: \"" + redis.URL() + "\"}\n",
			dataDir:  func(t *testing.T) string { return t.TempDir() },
			wantCode: exitRuntime,
			wantErr:  []string{"no last known state", state.RedisLocalFile},
		},
		{
			name:     "signal while starting",
			ctx:      canceled,
			dataDir:  func(t *testing.T) string { return t.TempDir() },
			wantCode: exitOK,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := writeManifest(t, freeAddr(t), freeAddr(t), "http://127.0.0.1:1", "http://127.0.0.1:2")
			if tt.defaults != "" {
				b, err := os.ReadFile(cfg)
				if err != nil {
					t.Fatal(err)
				}
				b = bytes.Replace(b, []byte("defaults:\n"), []byte("defaults:\n"+tt.defaults), 1)
				if err := os.WriteFile(cfg, b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			code, _, stderr := runCLIContext(tt.ctx, "--config", cfg, "--data-dir", tt.dataDir(t), "serve")
			errs := stderr.String()
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d; stderr %s", code, tt.wantCode, errs)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(errs, want) {
					t.Errorf("stderr %q does not say %q", errs, want)
				}
			}
		})
	}
}
