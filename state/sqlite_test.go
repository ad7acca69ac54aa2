package state

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/migratekit/migrate/manifest"
)

// Tests of the embedded backend only.

func openEmbedded(t *testing.T, dir string) *sqliteStore {
	t.Helper()
	s, err := openSQLite(t.Context(), Options{DataDir: dir, Clock: newFakeClock()}.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestRestartKeepsState(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s := openEmbedded(t, dir)
	want, err := s.Update(t.Context(), "shop", func(st *AppState) error {
		st.Weight, st.Phase, st.PlanStep, st.StepSince, st.Paused = 40, "cutover", 1, s.clock.Now(), true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := s.AppendEvent(t.Context(), Event{App: "shop", Kind: KindWeight, Actor: ActorCLI, Before: "25", After: "40"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openEmbedded(t, dir)
	got, ok, err := s.Get(t.Context(), "shop")
	if err != nil || !ok {
		t.Fatalf("Get() after reopen = %v, %v", ok, err)
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("state after reopen (-got +want):\n%s", diff)
	}
	evs, err := s.Events(t.Context(), Query{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(evs, []Event{ev}); diff != "" {
		t.Errorf("events after reopen (-got +want):\n%s", diff)
	}
}

// TestMigrateWeights opens a state.db written before the apps table
// existed: its weights become app states.
func TestMigrateWeights(t *testing.T) {
	dir := t.TempDir()
	dsn, err := sqliteDSN(filepath.Join(dir, DBFile))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, q := range []string{`CREATE TABLE schema_version (version INTEGER NOT NULL)`, migrations[0],
		`INSERT INTO schema_version VALUES (1)`, `INSERT INTO weights VALUES ('shop', 30, 1700000000123)`} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s := openEmbedded(t, dir)
	got, err := s.Apps(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []AppState{{App: "shop", Weight: 30, Version: 1, UpdatedAt: time.UnixMilli(1700000000123).UTC()}}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("apps after migration (-got +want):\n%s", diff)
	}
}

func TestEventsAppendOnly(t *testing.T) {
	s := openEmbedded(t, t.TempDir())
	if _, err := s.AppendEvent(t.Context(), Event{Kind: KindVerdict}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`UPDATE events SET kind = 'x'`, `DELETE FROM events`} {
		if _, err := s.db.ExecContext(t.Context(), q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err = %v, want the append-only refusal", q, err)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name    string
		cfg     manifest.State
		setup   func(t *testing.T, dir string) string // returns the data dir
		wantErr []string                              // substrings
	}{
		{
			name: "data dir under a file",
			setup: func(t *testing.T, dir string) string {
				writeFile(t, dir, "f", "x")
				return filepath.Join(dir, "f", "data")
			},
			wantErr: []string{"creating data dir", filepath.Join("f", "data")},
		},
		{
			name: "state.db is not a database",
			setup: func(t *testing.T, dir string) string {
				writeFile(t, dir, DBFile, strings.Repeat("garbage ", 1000))
				return dir
			},
			wantErr: []string{"opening state store", DBFile},
		},
		{
			name: "state.db is a directory",
			setup: func(t *testing.T, dir string) string {
				if err := os.Mkdir(filepath.Join(dir, DBFile), 0o700); err != nil {
					t.Fatal(err)
				}
				return dir
			},
			wantErr: []string{"opening state store", DBFile},
		},
		{
			name: "audit log is a directory",
			setup: func(t *testing.T, dir string) string {
				if err := os.Mkdir(filepath.Join(dir, AuditLogFile), 0o700); err != nil {
					t.Fatal(err)
				}
				return dir
			},
			wantErr: []string{"opening audit log", AuditLogFile},
		},
		{
			name:    "schema newer than this binary",
			setup:   func(t *testing.T, dir string) string { setSchemaVersion(t, dir, len(migrations)+1); return dir },
			wantErr: []string{"opening state store", DBFile, "newer than this migrate"},
		},
		{
			name:    "redis without url",
			cfg:     manifest.State{Backend: BackendRedis},
			setup:   func(t *testing.T, dir string) string { return dir },
			wantErr: []string{"state backend redis: no url"},
		},
		{
			name:    "redis url with another scheme",
			cfg:     manifest.State{Backend: BackendRedis, URL: "http://user:secret@127.0.0.1:6379"},
			setup:   func(t *testing.T, dir string) string { return dir },
			wantErr: []string{"parsing state url http://user:xxxxx@127.0.0.1:6379"},
		},
		{
			name: "redis unreachable",
			cfg:  manifest.State{Backend: BackendRedis, URL: "unix:///nonexistent/redis.sock"},
			setup: func(t *testing.T, dir string) string {
				return dir
			},
			wantErr: []string{"opening state store unix:///nonexistent/redis.sock", "no such file"},
		},
		{
			name:    "unknown backend",
			cfg:     manifest.State{Backend: "etcd"},
			setup:   func(t *testing.T, dir string) string { return dir },
			wantErr: []string{`state backend "etcd": unknown`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.setup(t, t.TempDir())
			s, err := Open(t.Context(), tt.cfg, dir)
			if err == nil {
				s.Close()
				t.Fatalf("Open() succeeded, want an error containing %q", tt.wantErr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Open() error = %q, want it to contain %q", err, want)
				}
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("Open() error = %q shows the password", err)
			}
		})
	}
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func setSchemaVersion(t *testing.T, dir string, v int) {
	t.Helper()
	s := openEmbedded(t, dir)
	if _, err := s.db.Exec(`UPDATE schema_version SET version = ?`, v); err != nil {
		t.Fatal(err)
	}
	s.Close()
}

func TestOpenCreates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	s := openEmbedded(t, dir)
	if err := s.SetWeight(t.Context(), "shop", 5); err != nil {
		t.Fatal(err)
	}

	type facts struct {
		DirMode   os.FileMode
		LogMode   os.FileMode
		Journal   string
		Version   int
		UpdatedAt int64
	}
	var got facts
	got.DirMode = mode(t, dir)
	got.LogMode = mode(t, filepath.Join(dir, AuditLogFile))
	ctx := context.Background()
	mustScan(t, s.db.QueryRowContext(ctx, `PRAGMA journal_mode`), &got.Journal)
	mustScan(t, s.db.QueryRowContext(ctx, `SELECT version FROM schema_version`), &got.Version)
	mustScan(t, s.db.QueryRowContext(ctx, `SELECT updated_at FROM apps WHERE app = 'shop'`), &got.UpdatedAt)
	want := facts{DirMode: 0o700, LogMode: 0o600, Journal: "wal", Version: len(migrations), UpdatedAt: 1_700_000_000_000}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("new store mismatch (-got +want):\n%s", diff)
	}
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func mustScan(t *testing.T, row interface{ Scan(...any) error }, dst any) {
	t.Helper()
	if err := row.Scan(dst); err != nil {
		t.Fatal(err)
	}
}
