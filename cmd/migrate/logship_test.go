package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestLogship ships an nginx access log to a file sink, stops on
// cancellation (as on SIGTERM) with the checkpoints saved, and a second
// run ships only what was written since.
func TestLogship(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "access.log")
	out := filepath.Join(dir, "shipped.jsonl")
	cfg := filepath.Join(dir, "migrate.yaml")
	data := fmt.Sprintf(`apps:
  shop:
    old: {backends: [http://127.0.0.1:1]}
    new: {backends: [http://127.0.0.1:2]}
    shadow: {routes: ["/users/:id"]}
    logs:
      old: {paths: [%s], format: nginx_combined, host: web1}
      sink: {type: file, path: %s, batch_wait: 50ms}
`, filepath.Join(dir, "*.log"), out)
	if err := os.WriteFile(cfg, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	line := func(id int) string {
		return fmt.Sprintf(`10.0.0.1 - - [25/Nov/2026:10:00:00 +0000] "GET /users/%d HTTP/1.1" 200 12 "-" "curl"`+"\n", id)
	}
	logshipAppend(t, logPath, line(1)+line(2)+"junk that is no access line\n")
	dataDir := filepath.Join(dir, "data")

	runLogship(t, cfg, dataDir, func() bool { return logshipCountLines(t, out) >= 3 })
	logshipAppend(t, logPath, line(3))
	runLogship(t, cfg, dataDir, func() bool { return logshipCountLines(t, out) >= 4 })

	type shipped struct {
		Endpoint, Side, Host, ParseError string
		Status                           int
	}
	var got []shipped
	for _, ev := range logshipEvents(t, out) {
		got = append(got, shipped{Endpoint: logshipStr(ev["endpoint"]), Side: logshipStr(ev["side"]), Host: logshipStr(ev["host"]),
			ParseError: logshipStr(ev["parse_error"]), Status: int(logshipNum(ev["status"]))})
	}
	want := []shipped{
		{Endpoint: "/users/:id", Side: "old", Host: "web1", Status: 200},
		{Endpoint: "/users/:id", Side: "old", Host: "web1", Status: 200},
		{Side: "old", Host: "web1", ParseError: "line does not match the format"},
		{Endpoint: "/users/:id", Side: "old", Host: "web1", Status: 200},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("shipped events (-got +want):\n%s\nfile:\n%s", diff, logshipReadFile(t, out))
	}
	if _, err := os.Stat(filepath.Join(dataDir, "logship", "shop.old.checkpoints.json")); err != nil {
		t.Errorf("checkpoints not saved: %v", err)
	}
}

func TestLogshipUsage(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "migrate.yaml")
	data := `apps:
  shop:
    old: {backends: [http://127.0.0.1:1]}
    new: {backends: [http://127.0.0.1:2]}
    logs:
      old: {paths: [/var/log/nginx/shop.log], format: nginx_combined}
      sink: {type: file, path: out.jsonl}
`
	if err := os.WriteFile(cfg, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no side", []string{"logship", "shop"}, `--side "": use old or new`},
		{"bad side", []string{"logship", "shop", "--side", "both"}, `--side "both"`},
		{"unknown app", []string{"logship", "cart", "--side", "old"}, `app "cart" is not in the manifest`},
		{"side without logs", []string{"logship", "shop", "--side", "new"}, "apps.shop.logs.new is not set"},
		{"no app", []string{"logship", "--side", "old"}, "takes one app name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := runCLI(t, append([]string{"--config", cfg, "--data-dir", dir}, tt.args...)...)
			if code != exitUsage || !strings.Contains(errs, tt.wantErr) {
				t.Errorf("code %d, stderr %q; want %d and %q", code, errs, exitUsage, tt.wantErr)
			}
		})
	}
}

// runLogship runs `migrate logship shop --side old` until done reports
// true, then cancels it and checks that it stopped cleanly.
func runLogship(t *testing.T, cfg, dataDir string, done func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var errb bytes.Buffer
	cmd := newCmdRoot(&iostreams{In: strings.NewReader(""), Out: &bytes.Buffer{}, Err: &errb})
	cmd.SetArgs([]string{"--config", cfg, "--data-dir", dataDir, "logship", "shop", "--side", "old"})
	errc := make(chan error, 1)
	go func() { errc <- cmd.ExecuteContext(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for !done() {
		select {
		case err := <-errc:
			t.Fatalf("logship stopped early: %v\n%s", err, errb.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			<-errc
			t.Fatalf("logship did not ship the lines within 10s\n%s", errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("logship: %v\n%s", err, errb.String())
	}
}

func logshipAppend(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func logshipReadFile(t *testing.T, path string) string {
	t.Helper()
	b, _ := os.ReadFile(path)
	return string(b)
}

func logshipCountLines(t *testing.T, path string) int {
	return strings.Count(logshipReadFile(t, path), "\n")
}

func logshipEvents(t *testing.T, path string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logshipReadFile(t, path)))
	for sc.Scan() {
		var ev map[string]any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("decoding %q: %v", sc.Text(), err)
		}
		out = append(out, ev)
	}
	return out
}

func logshipStr(v any) string {
	s, _ := v.(string)
	return s
}

func logshipNum(v any) float64 {
	f, _ := v.(float64)
	return f
}
