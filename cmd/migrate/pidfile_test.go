package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// deadPid is the ID of a process that has exited.
func deadPid(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// TestServePidFile runs the binary with --pid-file: the file holds its
// process ID while it serves, a second serve on the same file is refused
// (exit 3) and does not touch it, and SIGTERM removes it. A file left by
// a process that has exited is replaced.
func TestServePidFile(t *testing.T) {
	t.Parallel()
	old, new := textServer(t, "old"), textServer(t, "new")
	listen, adminAddr := freeAddr(t), freeAddr(t)
	cfg := writeManifest(t, listen, adminAddr, old.URL, new.URL)
	pidFile := filepath.Join(t.TempDir(), "migrate.pid")
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(deadPid(t))+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startBinary(t, "--config", cfg, "--data-dir", t.TempDir(), "serve", "--pid-file", pidFile)
	p.waitFor(t, "healthy", func() bool { return answers("http://" + adminAddr + "/healthz") })
	want := strconv.Itoa(p.cmd.Process.Pid) + "\n"
	if got, err := os.ReadFile(pidFile); err != nil || string(got) != want {
		t.Fatalf("pid file holds %q (%v), want %q", got, err, want)
	}

	other := writeManifest(t, freeAddr(t), freeAddr(t), old.URL, new.URL)
	code, _, errs := runCLI(t, "--config", other, "--data-dir", t.TempDir(), "serve", "--pid-file", pidFile)
	if wantErr := "process " + strings.TrimSpace(want) + " is running"; code != exitRuntime || !strings.Contains(errs, wantErr) {
		t.Errorf("second serve: code %d, stderr %q; want %d and %q", code, errs, exitRuntime, wantErr)
	}
	if got, _ := os.ReadFile(pidFile); string(got) != want {
		t.Errorf("the refused serve changed the pid file to %q", got)
	}

	if code := p.stop(t); code != exitOK {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Errorf("pid file still there after exit: %v", err)
	}
}

// TestPidFileRefusals: a file that holds no process ID is refused, and
// left as it was; a directory that is not there is refused before the
// listeners are bound.
func TestPidFileRefusals(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "migrate.yaml")
	if err := os.WriteFile(path, []byte("apps: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := writePidFile(path); err == nil || !strings.Contains(err.Error(), "holds no process ID") {
		t.Errorf("writePidFile over a manifest: %v, want a refusal", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "apps: {}\n" {
		t.Errorf("the file was changed to %q", got)
	}
	missing := filepath.Join(t.TempDir(), "run", "migrate.pid")
	if err := checkPidFile(missing); err == nil || !strings.Contains(err.Error(), "is not there") {
		t.Errorf("checkPidFile in a missing directory: %v, want a refusal before the start", err)
	}
}
