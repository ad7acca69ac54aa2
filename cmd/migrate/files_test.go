//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runCLIOrBlock is runCLI failing the test if the command has not
// returned within 20 s; then it opens release for writing, which ends a
// read blocked on that named pipe.
func runCLIOrBlock(t *testing.T, release string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	type result struct {
		code     int
		out, err string
	}
	done := make(chan result, 1)
	go func() {
		c, o, e := runCLI(t, args...)
		done <- result{c, o, e}
	}()
	select {
	case r := <-done:
		return r.code, r.out, r.err
	case <-time.After(20 * time.Second):
		if f, err := os.OpenFile(release, os.O_RDWR|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
		t.Fatalf("%v blocked on the named pipe %s", args, release)
		return 0, "", ""
	}
}

// TestManifestNamedPipe: validate, serve and init --force refuse a
// manifest path that is a named pipe (exit 2) instead of blocking on it.
func TestManifestNamedPipe(t *testing.T) {
	t.Parallel()
	fifo := filepath.Join(t.TempDir(), "migrate.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"--config", fifo, "validate"},
		{"--config", fifo, "--data-dir", t.TempDir(), "serve"},
		{"--config", fifo, "init", "shop", "--old", "http://127.0.0.1:3001", "--new", "http://127.0.0.1:3002", "--force"},
	} {
		t.Run(args[2], func(t *testing.T) {
			code, _, errs := runCLIOrBlock(t, fifo, args...)
			if code != exitUsage || !strings.Contains(errs, fifo+" is a named pipe") {
				t.Errorf("code %d, stderr %q; want %d and %q", code, errs, exitUsage, fifo+" is a named pipe")
			}
		})
	}
}
