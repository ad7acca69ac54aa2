package state

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/migratekit/migrate/manifest"
)

// Tests of the embedded store's data dir when its files are damaged: every
// file is truncated, overwritten or replaced, and the store either opens
// with what can be trusted or refuses with the file's path and what to do,
// never panics.

// savedDir is a data dir holding one app at weight 40 and one event,
// closed.
func savedDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	s, err := openSQLite(t.Context(), Options{DataDir: dir, Clock: newFakeClock()}.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetWeight(t.Context(), "shop", 40); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendEvent(t.Context(), Event{App: "shop", Kind: KindWeight, Actor: ActorCLI, After: "40"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func readData(t testing.TB, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeData(t testing.TB, dir, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestDamagedDataDir(t *testing.T) {
	const page = 4096
	type want struct {
		weights map[string]int // the store opens with these
		damaged bool           // Open fails with a DamagedError naming DBFile
		errHas  []string       // Open fails with an error containing these
		logHas  string         // the log says so
	}
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string) string // returns the data dir to open
		want   want
	}{
		{
			name: "state.db empty (0 bytes)",
			damage: func(t *testing.T, dir string) string {
				writeData(t, dir, DBFile, nil)
				return dir
			},
			want: want{weights: map[string]int{}, logHas: "the saved state (weights, plan) was lost"},
		},
		{
			name: "state.db truncated to its header",
			damage: func(t *testing.T, dir string) string {
				writeData(t, dir, DBFile, readData(t, dir, DBFile)[:100])
				return dir
			},
			want: want{damaged: true},
		},
		{
			name: "state.db truncated to its first page",
			damage: func(t *testing.T, dir string) string {
				writeData(t, dir, DBFile, readData(t, dir, DBFile)[:page])
				return dir
			},
			want: want{damaged: true},
		},
		{
			name: "state.db missing its last page",
			damage: func(t *testing.T, dir string) string {
				b := readData(t, dir, DBFile)
				writeData(t, dir, DBFile, b[:len(b)-page])
				return dir
			},
			want: want{damaged: true},
		},
		{
			name: "state.db first page zeroed",
			damage: func(t *testing.T, dir string) string {
				b := readData(t, dir, DBFile)
				clear(b[:page])
				writeData(t, dir, DBFile, b)
				return dir
			},
			want: want{damaged: true},
		},
		{
			name: "state.db pages after the first zeroed",
			damage: func(t *testing.T, dir string) string {
				b := readData(t, dir, DBFile)
				clear(b[page:])
				writeData(t, dir, DBFile, b)
				return dir
			},
			want: want{damaged: true},
		},
		{
			name: "state.db is garbage",
			damage: func(t *testing.T, dir string) string {
				writeData(t, dir, DBFile, bytes.Repeat([]byte("garbage\x00\xff"), 2000))
				return dir
			},
			want: want{damaged: true},
		},
		{
			name: "state.db is a directory",
			damage: func(t *testing.T, dir string) string {
				os.Remove(filepath.Join(dir, DBFile))
				if err := os.Mkdir(filepath.Join(dir, DBFile), 0o700); err != nil {
					t.Fatal(err)
				}
				return dir
			},
			want: want{errHas: []string{"opening state store", DBFile}},
		},
		{
			name: "write-ahead log is garbage",
			damage: func(t *testing.T, dir string) string {
				writeData(t, dir, DBFile+"-wal", bytes.Repeat([]byte{0xa5}, 3*page))
				return dir
			},
			want: want{weights: map[string]int{"shop": 40}},
		},
		{
			name: "shared-memory index is garbage",
			damage: func(t *testing.T, dir string) string {
				writeData(t, dir, DBFile+"-shm", bytes.Repeat([]byte{0x5a}, 8*page))
				return dir
			},
			want: want{weights: map[string]int{"shop": 40}},
		},
		{
			name: "audit log is garbage",
			damage: func(t *testing.T, dir string) string {
				writeData(t, dir, AuditLogFile, bytes.Repeat([]byte("{\x00\xff\n"), 500))
				return dir
			},
			want: want{weights: map[string]int{"shop": 40}},
		},
		{
			name: "audit log torn",
			damage: func(t *testing.T, dir string) string {
				b := readData(t, dir, AuditLogFile)
				writeData(t, dir, AuditLogFile, b[:len(b)-5])
				return dir
			},
			want: want{weights: map[string]int{"shop": 40}},
		},
		{
			name: "audit log is a directory",
			damage: func(t *testing.T, dir string) string {
				os.Remove(filepath.Join(dir, AuditLogFile))
				if err := os.Mkdir(filepath.Join(dir, AuditLogFile), 0o700); err != nil {
					t.Fatal(err)
				}
				return dir
			},
			want: want{errHas: []string{"opening audit log", AuditLogFile}},
		},
		{
			name: "data dir is a file",
			damage: func(t *testing.T, dir string) string {
				f := filepath.Join(dir, "file")
				writeData(t, dir, "file", []byte("x"))
				return f
			},
			want: want{errHas: []string{"data dir", "file", "not a directory", "--data-dir"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.damage(t, savedDir(t))
			var log bytes.Buffer
			s, err := OpenWith(t.Context(), manifest.State{}, Options{DataDir: dir, Clock: newFakeClock(),
				Logger: slog.New(slog.NewTextHandler(&log, nil))})
			if s != nil {
				defer s.Close()
			}
			if err != nil && s != nil {
				t.Fatalf("OpenWith() returned a store and an error: %v", err)
			}
			switch {
			case tt.want.weights != nil:
				if err != nil {
					t.Fatalf("OpenWith() = %v, want it to open", err)
				}
				got := readWeights(t, s, "shop")
				if diff := cmp.Diff(got, tt.want.weights); diff != "" {
					t.Errorf("weights (-got +want):\n%s", diff)
				}
				if err := s.SetWeight(t.Context(), "shop", 5); err != nil {
					t.Errorf("SetWeight() after opening: %v", err)
				}
			case tt.want.damaged:
				path := filepath.Join(dir, DBFile)
				de, ok := errors.AsType[*DamagedError](err)
				if !ok || !errors.Is(err, ErrDamaged) || de.Path != path {
					t.Fatalf("OpenWith() = %v, want a DamagedError of %s", err, path)
				}
				for _, want := range []string{path, "move it aside", "--data-dir"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not say %q", err, want)
					}
				}
			default:
				if err == nil {
					t.Fatalf("OpenWith() succeeded, want an error containing %q", tt.want.errHas)
				}
				for _, want := range tt.want.errHas {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not say %q", err, want)
					}
				}
			}
			if !strings.Contains(log.String(), tt.want.logHas) {
				t.Errorf("log %q does not say %q", log.String(), tt.want.logHas)
			}
		})
	}
}

// TestFreshStoreSaysSo: a store that starts from nothing says so in the
// log, quietly when nothing was ever saved in the data dir.
func TestFreshStoreSaysSo(t *testing.T) {
	var log bytes.Buffer
	dir := t.TempDir()
	s := openStore(t, manifest.State{}, Options{DataDir: dir, Clock: newFakeClock(), Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err := s.SetWeight(t.Context(), "shop", 5); err != nil {
		t.Fatal(err)
	}
	if got := log.String(); !strings.Contains(got, "level=WARN") || !strings.Contains(got, "starts from nothing") ||
		!strings.Contains(got, filepath.Join(dir, DBFile)) {
		t.Errorf("log of a new store = %q, want a warning naming %s", got, DBFile)
	}
}

// FuzzStateDB opens a saved state.db changed by the fuzzer: cut to cut
// bytes (0: whole) and patch written at at. Open refuses or opens, and an
// opened store answers its reads, never panics. The input is the change, not the
// file, so that the fuzzer's runs stay quick. Each run still opens a
// SQLite database (about 170 a second on two cores), hence its budget:
// scripts/test: fuzztime 5000x
func FuzzStateDB(f *testing.F) {
	seed := readData(f, savedDir(f), DBFile)
	f.Add(uint32(0), bytes.Repeat([]byte{0}, 100), uint32(0))
	f.Add(uint32(4096), []byte("garbage"), uint32(0))
	f.Add(uint32(0), []byte(nil), uint32(5000))
	f.Add(uint32(28), []byte{0xff, 0xff, 0xff, 0xff}, uint32(0)) // the page count in the header
	f.Fuzz(func(t *testing.T, at uint32, patch []byte, cut uint32) {
		db := slices.Clone(seed)
		if cut > 0 && int(cut) < len(db) {
			db = db[:cut]
		}
		if len(db) > 0 {
			copy(db[int(at)%len(db):], patch)
		}
		dir := t.TempDir()
		writeData(t, dir, DBFile, db)
		s, err := OpenWith(t.Context(), manifest.State{}, Options{DataDir: dir, Clock: newFakeClock()})
		if err != nil {
			if s != nil {
				t.Fatalf("OpenWith() returned a store and %v", err)
			}
			return
		}
		defer s.Close()
		// Reads only: a write costs a -wal file and a checkpoint, ten
		// times the rest; TestDamagedDataDir writes after each damage.
		s.Apps(t.Context())
		s.Get(t.Context(), "shop")
		s.Events(t.Context(), Query{})
	})
}

// FuzzAuditLog reads audit logs of any content: the torn tail cut at
// open is exactly what follows the last newline, and reading the events
// back never panics.
func FuzzAuditLog(f *testing.F) {
	f.Add([]byte(`{"at":"2023-11-14T22:13:20Z","kind":"weight"}` + "\n"))
	f.Add([]byte(`{"at":"2023-11-14T22:13:20Z","kind":"weight"}` + "\n{\"at\":"))
	f.Add([]byte("\x00\xff\n\n{"))
	f.Add(append(bytes.Repeat([]byte("x"), 5000), '\n', 'y'))
	f.Fuzz(func(t *testing.T, content []byte) {
		ReadAuditLog(bytes.NewReader(content))
		got, err := wholeLines(bytes.NewReader(content), int64(len(content)))
		if err != nil {
			t.Fatal(err)
		}
		if want := int64(bytes.LastIndexByte(content, '\n') + 1); got != want {
			t.Errorf("wholeLines() = %d, want %d", got, want)
		}
	})
}
