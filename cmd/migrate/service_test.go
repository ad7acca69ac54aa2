package main

import (
	"bufio"
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/migratekit/migrate/manifest"
)

// TestExampleServiceUnit: the systemd unit in examples/ reloads with
// SIGHUP, stops with SIGTERM and waits longer than the example manifest's
// drain, and its ExecStart is a command line migrate takes, whose pid file
// is the unit's PIDFile.
func TestExampleServiceUnit(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../examples/migrate.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && !strings.HasPrefix(k, "#") {
			unit[k] = v
		}
	}
	for k, want := range map[string]string{"ExecReload": "/bin/kill -HUP $MAINPID", "KillSignal": "SIGTERM", "PIDFile": "/run/migrate/migrate.pid"} {
		if unit[k] != want {
			t.Errorf("%s=%q, want %q", k, unit[k], want)
		}
	}
	m, err := manifest.Load("../../examples/migrate.yaml")
	if err != nil {
		t.Fatal(err)
	}
	stop, err := time.ParseDuration(unit["TimeoutStopSec"])
	if drain := time.Duration(m.Global.Drain.Or(manifest.DefaultDrain)); err != nil || stop <= drain {
		t.Errorf("TimeoutStopSec=%q (%v), want above the example's drain %s", unit["TimeoutStopSec"], err, drain)
	}
	args := strings.Fields(unit["ExecStart"])[1:]
	root := newCmdRoot(&iostreams{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}})
	cmd, rest, err := root.Find(args)
	if err != nil || cmd.Name() != "serve" {
		t.Fatalf("ExecStart %v: command %v, %v; want serve", args, cmd.Name(), err)
	}
	if err := cmd.ParseFlags(rest); err != nil {
		t.Fatalf("ExecStart's flags: %v", err)
	}
	if got, _ := cmd.Flags().GetString("pid-file"); got != unit["PIDFile"] {
		t.Errorf("ExecStart's --pid-file %q, want the unit's PIDFile %q", got, unit["PIDFile"])
	}
}
