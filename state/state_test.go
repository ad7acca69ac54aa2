package state

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jonboulle/clockwork"

	"github.com/migratekit/migrate/manifest"
)

func openTemp(t *testing.T, dir string) Store {
	t.Helper()
	s, err := Open(t.Context(), manifest.State{}, dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestWeightRoundTrip(t *testing.T) {
	type set struct {
		app    string
		weight int
	}
	tests := []struct {
		name string
		sets []set
		want map[string]int // app -> weight; absent apps are checked for ok=false
	}{
		{"one app", []set{{"shop", 25}}, map[string]int{"shop": 25}},
		{"overwrite", []set{{"shop", 25}, {"shop", 50}, {"shop", 0}}, map[string]int{"shop": 0}},
		{"bounds", []set{{"a", 0}, {"b", 100}}, map[string]int{"a": 0, "b": 100}},
		{"apps are separate", []set{{"a", 5}, {"b", 95}, {"a", 10}}, map[string]int{"a": 10, "b": 95}},
		{"unknown app", nil, map[string]int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTemp(t, t.TempDir())
			defer s.Close()
			for _, st := range tt.sets {
				if err := s.SetWeight(t.Context(), st.app, st.weight); err != nil {
					t.Fatal(err)
				}
			}
			got := readWeights(t, s, "a", "b", "shop", "never-set")
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("weights mismatch (-got +want):\n%s", diff)
			}
		})
	}
}

// readWeights returns the saved weights of apps, leaving out those with
// ok=false.
func readWeights(t *testing.T, s Store, apps ...string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, app := range apps {
		w, ok, err := s.Weight(t.Context(), app)
		if err != nil {
			t.Fatalf("Weight(%q): %v", app, err)
		}
		if ok {
			out[app] = w
		} else if w != 0 {
			t.Errorf("Weight(%q) = %d, false; want 0 with ok=false", app, w)
		}
	}
	return out
}

func TestRestartKeepsWeight(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s := openTemp(t, dir)
	if err := s.SetWeight(t.Context(), "shop", 40); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openTemp(t, dir)
	defer s.Close()
	got := readWeights(t, s, "shop")
	if diff := cmp.Diff(got, map[string]int{"shop": 40}); diff != "" {
		t.Errorf("after reopen (-got +want):\n%s", diff)
	}
}

func TestSetWeightRejects(t *testing.T) {
	tests := []struct {
		name    string
		app     string
		weight  int
		wantErr error
	}{
		{"negative", "shop", -1, ErrWeightRange},
		{"over 100", "shop", 101, ErrWeightRange},
		{"no app", "", 10, ErrNoApp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTemp(t, t.TempDir())
			defer s.Close()
			if err := s.SetWeight(t.Context(), "shop", 30); err != nil {
				t.Fatal(err)
			}
			err := s.SetWeight(t.Context(), tt.app, tt.weight)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("SetWeight(%q, %d) = %v, want %v", tt.app, tt.weight, err, tt.wantErr)
			}
			got := readWeights(t, s, "shop")
			if diff := cmp.Diff(got, map[string]int{"shop": 30}); diff != "" {
				t.Errorf("weight changed by a rejected set (-got +want):\n%s", diff)
			}
		})
	}
}

func TestConcurrentSetWeight(t *testing.T) {
	s := openTemp(t, t.TempDir())
	defer s.Close()
	const writers, rounds, apps = 16, 20, 4
	var wg sync.WaitGroup
	errs := make(chan error, writers*rounds*2)
	for g := range writers {
		wg.Go(func() {
			app := fmt.Sprintf("app%d", g%apps)
			for r := range rounds {
				if err := s.SetWeight(t.Context(), app, (g*rounds+r)%101); err != nil {
					errs <- err
				}
				if _, _, err := s.Weight(t.Context(), app); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent use: %v", err)
	}
	// Each app's weight is the last round of one of its writers.
	for a := range apps {
		app := fmt.Sprintf("app%d", a)
		last := map[int]bool{}
		for g := a; g < writers; g += apps {
			last[(g*rounds+rounds-1)%101] = true
		}
		w, ok, err := s.Weight(t.Context(), app)
		if err != nil || !ok || !last[w] {
			t.Errorf("Weight(%q) = %d, %v, %v; want one of %v", app, w, ok, err, last)
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
			name:    "schema newer than this binary",
			setup:   func(t *testing.T, dir string) string { setSchemaVersion(t, dir, len(migrations)+1); return dir },
			wantErr: []string{"opening state store", DBFile, "newer than this migrate"},
		},
		{
			name:    "redis",
			cfg:     manifest.State{Backend: "redis", URL: "redis://127.0.0.1:6379/0"},
			setup:   func(t *testing.T, dir string) string { return dir },
			wantErr: []string{"state backend redis: not available yet"},
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
	s, err := openSQLite(t.Context(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.db.Exec(`UPDATE schema_version SET version = ?`, v); err != nil {
		t.Fatal(err)
	}
}

func TestOpenCreates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	clock := clockwork.NewFakeClockAt(time.UnixMilli(1_700_000_000_000))
	s, err := openSQLite(t.Context(), dir, clock)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.SetWeight(t.Context(), "shop", 5); err != nil {
		t.Fatal(err)
	}

	type facts struct {
		DirMode   os.FileMode
		Journal   string
		Version   int
		UpdatedAt int64
	}
	var got facts
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	got.DirMode = fi.Mode().Perm()
	ctx := context.Background()
	mustScan(t, s.db.QueryRowContext(ctx, `PRAGMA journal_mode`), &got.Journal)
	mustScan(t, s.db.QueryRowContext(ctx, `SELECT version FROM schema_version`), &got.Version)
	mustScan(t, s.db.QueryRowContext(ctx, `SELECT updated_at FROM weights WHERE app = 'shop'`), &got.UpdatedAt)
	want := facts{DirMode: 0o700, Journal: "wal", Version: len(migrations), UpdatedAt: 1_700_000_000_000}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("new store mismatch (-got +want):\n%s", diff)
	}
}

func mustScan(t *testing.T, row interface{ Scan(...any) error }, dst any) {
	t.Helper()
	if err := row.Scan(dst); err != nil {
		t.Fatal(err)
	}
}
