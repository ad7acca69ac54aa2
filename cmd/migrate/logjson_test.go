package main

import (
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// checkJSONLog fails the test on a line of a JSON log that is not a JSON
// object or names a key twice in one object.
func checkJSONLog(t *testing.T, log string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(log), "\n")
	if len(lines) < 3 {
		t.Errorf("only %d log lines:\n%s", len(lines), log)
	}
	for _, line := range lines {
		v, err := jsontext.NewDecoder(strings.NewReader(line)).ReadValue()
		if err != nil || v.Kind() != '{' {
			t.Errorf("log line %s: %v", line, err)
		}
	}
}

// TestJSONLogsNameEachKeyOnce runs serve through an automatic rollback and
// the demo with --verbose, both with --log-format json, and parses every
// line they log: no line may name a key twice (they wrote "app" twice).
func TestJSONLogsNameEachKeyOnce(t *testing.T) {
	t.Run("serve", func(t *testing.T) {
		t.Parallel()
		p, _ := serveRolledBack(t, "    rollback: {max_error_rate: 5%, min_requests: 20}\n", "--log-format", "json")
		if code := p.stop(t); code != 0 {
			t.Errorf("serve exited %d", code)
		}
		checkJSONLog(t, p.stderr.String())
	})
	t.Run("demo", func(t *testing.T) {
		t.Parallel()
		p := startBinary(t, "--log-format", "json", "--data-dir", t.TempDir(), "demo", "--verbose", "--duration", "3s", "--plan", "0,50")
		select {
		case <-p.exited:
		case <-time.After(60 * time.Second):
			t.Fatalf("the demo of 3s still ran after 60s:\n%s", p.stderr)
		}
		if code := p.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("demo exited %d:\n%s", code, p.stderr)
		}
		checkJSONLog(t, p.stderr.String())
	})
}
