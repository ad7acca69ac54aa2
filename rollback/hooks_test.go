package rollback

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/migratekit/migrate/manifest"
)

var testEvent = Event{
	At:           time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
	App:          "shop",
	Kind:         EventRollback,
	Actor:        "controller",
	Reason:       "new side error rate 10.0% over 30s (old 1.0%)",
	WeightBefore: 25,
	WeightAfter:  0,
	Verdict: &Verdict{
		App: "shop", Result: Fail, Breaches: 2, Act: true,
		Checks: []Check{{Rule: "max_error_rate", Result: Fail, Value: 0.1, Threshold: 0.02, Bound: 0.06, Reason: "too many errors"}},
		Sample: Sample{Window: 30 * time.Second, Old: SideSample{Requests: 200, Errors: 2}, New: SideSample{Requests: 100, Errors: 10}},
	},
}

// sh is a hook running script with /bin/sh; args are $1, $2...
func sh(script string, args ...string) manifest.Hook {
	return manifest.Hook{Command: append([]string{"/bin/sh", "-c", script, "sh"}, args...), Timeout: manifest.Duration(10 * time.Second)}
}

func TestRunHooksPassesTheEvent(t *testing.T) {
	dir := t.TempDir()
	stdin, env := filepath.Join(dir, "stdin"), filepath.Join(dir, "env")
	err := RunHooks(t.Context(), []manifest.Hook{sh(`cat > "$1"; env > "$2"`, stdin, env)}, testEvent, nil)
	if err != nil {
		t.Fatalf("RunHooks: %v", err)
	}

	var got Event
	if err := json.Unmarshal(readFile(t, stdin), &got); err != nil {
		t.Fatalf("decoding stdin: %v", err)
	}
	if diff := cmp.Diff(got, testEvent); diff != "" {
		t.Errorf("event on stdin (-got +want):\n%s", diff)
	}

	gotEnv := map[string]string{}
	for line := range strings.Lines(string(readFile(t, env))) {
		k, v, _ := strings.Cut(strings.TrimSuffix(line, "\n"), "=")
		if strings.HasPrefix(k, "MIGRATE_") && !strings.HasPrefix(k, "MIGRATE_TEST_") {
			gotEnv[k] = v
		}
	}
	wantEnv := map[string]string{
		"MIGRATE_EVENT":         "rollback",
		"MIGRATE_APP":           "shop",
		"MIGRATE_ACTOR":         "controller",
		"MIGRATE_REASON":        "new side error rate 10.0% over 30s (old 1.0%)",
		"MIGRATE_AT":            "2025-01-02T03:04:05Z",
		"MIGRATE_WEIGHT_BEFORE": "25",
		"MIGRATE_WEIGHT_AFTER":  "0",
		"MIGRATE_DRY_RUN":       "false",
		"MIGRATE_VERDICT":       "fail",
	}
	if diff := cmp.Diff(gotEnv, wantEnv); diff != "" {
		t.Errorf("MIGRATE_ environment (-got +want):\n%s", diff)
	}
	if !strings.Contains(string(readFile(t, env)), "PATH=") {
		t.Errorf("hook environment lacks the process's PATH")
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRunHooksFailures(t *testing.T) {
	tests := []struct {
		name    string
		hooks   func(ran string) []manifest.Hook
		wantErr []string // one per joined error, substrings
	}{
		{
			name: "every hook runs",
			hooks: func(ran string) []manifest.Hook {
				return []manifest.Hook{sh(`exit 0`), sh(`echo ok > "$1"`, ran)}
			},
		},
		{
			name: "failures are joined and the next hooks run",
			hooks: func(ran string) []manifest.Hook {
				return []manifest.Hook{
					sh(`echo starting; echo boom >&2; exit 3`),
					{Command: []string{filepath.Join(ran, "..", "no-such-hook")}, Timeout: manifest.Duration(time.Second)},
					sh(`echo ok > "$1"`, ran),
				}
			},
			wantErr: []string{
				"running hook 1 (/bin/sh): exit status 3: boom",
				"running hook 2 (\x00no-such-hook): \x00no such file or directory",
			},
		},
		{
			name: "a hook without a command",
			hooks: func(ran string) []manifest.Hook {
				return []manifest.Hook{{}, sh(`echo ok > "$1"`, ran)}
			},
			wantErr: []string{"running hook 1 (no command): no command"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ran := filepath.Join(t.TempDir(), "ran")
			err := RunHooks(t.Context(), tt.hooks(ran), testEvent, nil)
			matchAll(t, "error", joined(err), tt.wantErr)
			if _, err := os.Stat(ran); err != nil {
				t.Errorf("the last hook did not run: %v", err)
			}
		})
	}
}

// TestRunHooksTimeout: a hook over its timeout is killed with the process
// group it started.
func TestRunHooksTimeout(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	hook := sh(`sleep 30 & echo $! > "$1"; wait`, pidFile)
	hook.Timeout = manifest.Duration(300 * time.Millisecond)
	err := RunHooks(t.Context(), []manifest.Hook{hook}, testEvent, nil)
	checkErr(t, err, []string{"running hook 1 (/bin/sh): killed after", "context deadline exceeded"})

	pid, err := strconv.Atoi(strings.TrimSpace(string(readFile(t, pidFile))))
	if err != nil {
		t.Fatal(err)
	}
	poll(t, "sleep "+strconv.Itoa(pid)+" to be killed", func() bool { return !running(pid) })
}

// running reports whether pid is a live process (not gone, not a zombie).
func running(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) state ...
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

func TestRunHooksLogsBoundedOutput(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	const size = 100 << 10
	err := RunHooks(t.Context(), []manifest.Hook{sh(`head -c ` + strconv.Itoa(size) + ` /dev/zero | tr '\0' x`)}, testEvent, logger)
	if err != nil {
		t.Fatalf("RunHooks: %v", err)
	}
	var rec struct {
		Msg     string `json:"msg"`
		App     string `json:"app"`
		Hook    int    `json:"hook"`
		Output  string `json:"output"`
		Dropped int    `json:"output_dropped"`
	}
	if err := json.Unmarshal(logs.Bytes(), &rec); err != nil {
		t.Fatalf("decoding log %q: %v", logs.String(), err)
	}
	got := []any{rec.Msg, rec.App, rec.Hook, len(rec.Output), rec.Dropped}
	want := []any{"rollback hook ran", "shop", 1, maxHookOutput, size - maxHookOutput}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("log record (-got +want):\n%s", diff)
	}
}

func TestRunHooksCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := RunHooks(ctx, []manifest.Hook{sh(`exit 0`)}, testEvent, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("RunHooks on a canceled context = %v, want context.Canceled", err)
	}
}

func ExampleRunHooks() {
	dir, err := os.MkdirTemp("", "hooks")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "out")
	hooks := []manifest.Hook{{
		Command: []string{"/bin/sh", "-c", `echo "$MIGRATE_EVENT of $MIGRATE_APP: $MIGRATE_WEIGHT_BEFORE -> $MIGRATE_WEIGHT_AFTER" > "$1"`, "sh", out},
		Timeout: manifest.Duration(10 * time.Second),
	}}
	ev := Event{Kind: EventRollback, App: "shop", Actor: "api", WeightBefore: 25, Reason: "by hand"}
	if err := RunHooks(context.Background(), hooks, ev, nil); err != nil {
		panic(err)
	}
	b, _ := os.ReadFile(out)
	fmt.Print(string(b))
	// Output: rollback of shop: 25 -> 0
}
