package serve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/migratekit/migrate/compare"
	"github.com/migratekit/migrate/internal/testsvc"
	"github.com/migratekit/migrate/logship"
	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/state"
)

// plainYAML is a one-app manifest on free ports with extra lines under
// defaults.
func plainYAML(t *testing.T, defaults string) string {
	t.Helper()
	oldB, newB := backend(t, 200, "old"), backend(t, 200, "new")
	return fmt.Sprintf(`defaults:
  listen: 127.0.0.1:0
  admin: {listen: 127.0.0.1:0}
%s
apps:
  shop:
    old: {backends: [%s]}
    new: {backends: [%s]}
    shadow: {sample: 0%%}
`, defaults, oldB.URL, newB.URL)
}

// plainManifest is plainYAML parsed.
func plainManifest(t *testing.T, defaults string) *manifest.Manifest {
	t.Helper()
	m, err := manifest.Parse("test.yaml", []byte(plainYAML(t, defaults)))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestNewFailsCleanly: a start that fails on its state (a damaged state.db,
// a data dir that is a file, a SIGTERM before the store is open) returns
// the error with what to do, and the cleanup of what was half built does
// not panic.
func TestNewFailsCleanly(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		dataDir func(t *testing.T) string
		wantErr []string
		wantIs  error
	}{
		{
			name: "state.db is garbage",
			ctx:  context.Background(),
			dataDir: func(t *testing.T) string {
				dir := t.TempDir()
				if err := os.WriteFile(filepath.Join(dir, state.DBFile), []byte(strings.Repeat("garbage", 2000)), 0o600); err != nil {
					t.Fatal(err)
				}
				return dir
			},
			wantErr: []string{state.DBFile, "move it aside", "--data-dir"},
			wantIs:  state.ErrDamaged,
		},
		{
			name: "data dir is a file",
			ctx:  context.Background(),
			dataDir: func(t *testing.T) string {
				f := filepath.Join(t.TempDir(), "file")
				if err := os.WriteFile(f, nil, 0o600); err != nil {
					t.Fatal(err)
				}
				return f
			},
			wantErr: []string{"not a directory", "--data-dir"},
		},
		{
			name:    "stopped while starting",
			ctx:     canceled,
			dataDir: func(t *testing.T) string { return t.TempDir() },
			wantIs:  context.Canceled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inst, err := New(tt.ctx, Options{Manifest: plainManifest(t, ""), DataDir: tt.dataDir(t)})
			if err == nil {
				inst.Close()
				t.Fatal("New() succeeded")
			}
			if inst != nil {
				t.Errorf("New() returned an instance with %v", err)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("New() error %q does not say %q", err, want)
				}
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("New() error %v is not %v", err, tt.wantIs)
			}
		})
	}
}

// TestStartWithRedisDown: an instance started while its Redis is down
// serves the last known weights of its data dir and says the store is
// down; one with no last known state refuses to start, saying why.
func TestStartWithRedisDown(t *testing.T) {
	redis := testsvc.StartRedis(t)
	m := plainManifest(t, fmt.Sprintf("  state: {backend: redis, url: %q}", redis.URL()))
	dir := t.TempDir()
	first, err := New(t.Context(), Options{Manifest: m, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Manager.SetWeight(t.Context(), "shop", 30, state.ActorCLI, "test"); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	redis.Kill()
	inst, err := New(t.Context(), Options{Manifest: m, DataDir: dir})
	if err != nil {
		t.Fatalf("New() with redis down = %v, want a start on the last known state", err)
	}
	defer inst.Close()
	if w := inst.Proxy.App("shop").Weight(); w != 30 {
		t.Errorf("weight %d on a start with redis down, want the last known 30", w)
	}
	if st := inst.Manager.StoreStatus(); st.Up {
		t.Errorf("store status %+v, want down", st)
	}

	_, err = New(t.Context(), Options{Manifest: m, DataDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "no last known state") || !strings.Contains(err.Error(), state.RedisLocalFile) {
		t.Errorf("New() with redis down and no last known state = %v, want a refusal naming %s", err, state.RedisLocalFile)
	}
}

// TestDamagedDerivedStores: a damaged samples.db or logs.db (what the
// traffic rebuilds) is moved aside and the instance starts on a new one,
// saying so; the state is kept.
func TestDamagedDerivedStores(t *testing.T) {
	damages := map[string]func([]byte) []byte{
		"garbage":            func(b []byte) []byte { return bytes.Repeat([]byte("garbage\xff"), len(b)/8) },
		"first page zeroed":  func(b []byte) []byte { clear(b[:4096]); return b },
		"truncated mid-file": func(b []byte) []byte { return b[:5000] },
	}
	for _, file := range []string{compare.StoreFile, logship.LogStoreFile} {
		for name, damage := range damages {
			t.Run(file+"/"+name, func(t *testing.T) {
				m, err := manifest.Parse("test.yaml", fmt.Appendf(nil, `defaults:
  listen: 127.0.0.1:0
  admin: {listen: 127.0.0.1:0}
apps:
  shop:
    old: {backends: [%s]}
    new: {backends: [%s]}
`, backend(t, 200, "old").URL, backend(t, 200, "new").URL))
				if err != nil {
					t.Fatal(err)
				}
				dir := t.TempDir()
				first, err := New(t.Context(), Options{Manifest: m, DataDir: dir})
				if err != nil {
					t.Fatal(err)
				}
				if err := first.Manager.SetWeight(t.Context(), "shop", 30, state.ActorCLI, "test"); err != nil {
					t.Fatal(err)
				}
				first.Close()
				path := filepath.Join(dir, file)
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, damage(b), 0o600); err != nil {
					t.Fatal(err)
				}

				var log syncBuffer
				inst, err := New(t.Context(), Options{Manifest: m, DataDir: dir, Logger: slog.New(slog.NewTextHandler(&log, nil))})
				if err != nil {
					t.Fatalf("New() with a damaged %s = %v, want it recovered", file, err)
				}
				defer inst.Close()
				if w := inst.Proxy.App("shop").Weight(); w != 30 {
					t.Errorf("weight %d, want the saved 30", w)
				}
				aside, _ := filepath.Glob(path + ".damaged-*")
				if len(aside) != 1 || !strings.Contains(log.String(), "moved aside") {
					t.Errorf("moved aside: %v; log %s", aside, log.String())
				}
			})
		}
	}
}

// TestNewFailsUnbound: a start that fails after the proxy's address was
// chosen (the admin address is in use) leaves nothing bound.
func TestNewFailsUnbound(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	proxyAddr := freeAddr(t)
	m, err := manifest.Parse("test.yaml", fmt.Appendf(nil, `defaults:
  listen: %s
  admin: {listen: %s}
apps:
  shop:
    old: {backends: [http://127.0.0.1:1]}
    new: {backends: [http://127.0.0.1:2]}
`, proxyAddr, busy.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(t.Context(), Options{Manifest: m, DataDir: t.TempDir()}); err == nil {
		t.Fatal("New() succeeded with its admin address in use")
	}
	ln, err := net.Listen("tcp", proxyAddr)
	if err != nil {
		t.Fatalf("the proxy's address is still bound after New failed: %v", err)
	}
	ln.Close()
}
