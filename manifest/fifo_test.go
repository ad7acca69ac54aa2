//go:build unix

package manifest_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/migratekit/migrate/manifest"
)

// mkfifo makes a named pipe at path.
func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
}

// loadOrBlock runs manifest.Load(path), failing the test if it has not
// returned within 10 s: then it opens fifo for writing and closes it,
// which ends the read that blocked.
func loadOrBlock(t *testing.T, path, fifo string) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := manifest.Load(path)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
		<-done
		t.Fatalf("Load(%s) blocked on the named pipe %s", path, fifo)
		return nil
	}
}

func TestLoadRefusesNamedPipes(t *testing.T) {
	t.Parallel()
	good, err := os.ReadFile("testdata/design.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "migrate.yaml")
	mkfifo(t, file)

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.yaml"), good, 0o644); err != nil {
		t.Fatal(err)
	}
	mkfifo(t, filepath.Join(dir, "b.yaml"))

	linked := t.TempDir()
	mkfifo(t, filepath.Join(linked, "pipe"))
	if err := os.Symlink(filepath.Join(linked, "pipe"), filepath.Join(linked, "c.yaml")); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct{ name, path, fifo, want string }{
		{"file", file, file, file + " is a named pipe"},
		{"in a directory", dir, filepath.Join(dir, "b.yaml"), filepath.Join(dir, "b.yaml") + " is a named pipe"},
		{"linked from a directory", linked, filepath.Join(linked, "pipe"), filepath.Join(linked, "c.yaml") + " is a named pipe"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := loadOrBlock(t, tt.path, tt.fifo)
			if !errors.Is(err, manifest.ErrNotRegular) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load = %v, want ErrNotRegular saying %q", err, tt.want)
			}
		})
	}
}
