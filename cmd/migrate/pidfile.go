package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// A pid file holds the process ID of a running migrate serve, for
// service managers and scripts (systemd's PIDFile=, kill -HUP $(cat ...)),
// as nginx's pid directive does: written once the listeners are bound,
// removed at exit.

// checkPidFile refuses to start when path names a process that is
// running; a file of a process that has exited (a crash, a kill -9) is
// stale and will be replaced. A file that holds no pid is refused, so
// that a mistyped path does not overwrite another file.
func checkPidFile(path string) error {
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || !fi.IsDir() {
		return fmt.Errorf("--pid-file %s: its directory %s is not there (systemd's RuntimeDirectory= makes one)", path, filepath.Dir(path))
	}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("reading pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return fmt.Errorf("--pid-file %s holds no process ID (%q): is it the right file? remove it if so", path, truncate(string(data), 40))
	}
	if pid != os.Getpid() && processAlive(pid) {
		return fmt.Errorf("--pid-file %s: process %d is running: another migrate serve? stop it, or remove the file if that process is not migrate", path, pid)
	}
	return nil
}

// processAlive reports whether a process with that ID exists (signal 0;
// EPERM: it exists, another user's).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// writePidFile checks path again and writes this process's ID to it, in
// one rename; the function it returns removes it, if it still holds this
// process's ID.
func writePidFile(path string) (remove func(), err error) {
	if err := checkPidFile(path); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return nil, fmt.Errorf("writing pid file: %w", err)
	}
	me := strconv.Itoa(os.Getpid())
	_, err = tmp.WriteString(me + "\n")
	err = errors.Join(err, tmp.Chmod(0o644), tmp.Close())
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return nil, fmt.Errorf("writing pid file: %w", err)
	}
	return func() {
		if data, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(data)) == me {
			os.Remove(path)
		}
	}, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
