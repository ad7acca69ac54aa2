package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
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
	data := fmt.Sprintf(`apps:
  shop:
    old: {backends: [http://127.0.0.1:1]}
    new: {backends: [http://127.0.0.1:2]}
    shadow: {routes: ["/users/:id"]}
    logs:
      old: {paths: [%s], format: nginx_combined, host: web1}
      sink: {type: file, path: %s, batch_wait: 50ms}
`, filepath.Join(dir, "*.log"), out)
	cfg := writeConfig(t, dir, data)
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
	data := `apps:
  shop:
    old: {backends: [http://127.0.0.1:1]}
    new: {backends: [http://127.0.0.1:2]}
    logs:
      old: {paths: [/var/log/nginx/shop.log], format: nginx_combined}
      sink: {type: file, path: out.jsonl}
`
	cfg := writeConfig(t, dir, data)
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

// writeShipManifest writes, in dir, a manifest of shop, its admin API on
// adminAddr with the token in $SHOP_ADMIN_TOKEN, whose old side's access
// log (host old-web1) is shipped to serve's embedded sink; it returns the
// manifest's path and the log's.
func writeShipManifest(t *testing.T, dir, adminAddr string) (cfg, logPath string) {
	t.Helper()
	logPath = filepath.Join(dir, "access.log")
	data := fmt.Sprintf(`defaults:
  listen: %s
  admin: {listen: %s, token_env: SHOP_ADMIN_TOKEN}
apps:
  shop:
    old: {backends: [%s]}
    new: {backends: [%s]}
    logs:
      old: {paths: [%s], format: nginx_combined, host: old-web1}
      sink: {batch_wait: 50ms}
`, freeAddr(t), adminAddr, textServer(t, "old").URL, textServer(t, "new").URL, logPath)
	return writeConfig(t, dir, data), logPath
}

// TestLogshipEmbeddedToServe runs the three commands a user runs: serve,
// logship with the default (embedded) sink pointed at it by the manifest's
// admin settings, and logs tail, which shows the shipped lines; logship's
// counters are on --metrics-listen meanwhile.
func TestLogshipEmbeddedToServe(t *testing.T) {
	adminAddr, metricsAddr := freeAddr(t), freeAddr(t)
	dir := t.TempDir()
	cfg, logPath := writeShipManifest(t, dir, adminAddr)
	t.Setenv("SHOP_ADMIN_TOKEN", "s3cret")
	stop := startServe(t, cfg, filepath.Join(dir, "serve-data"), adminAddr)
	defer stop()

	line := `10.0.0.1 - - [25/Nov/2026:10:00:00 +0000] "GET /users/%d HTTP/1.1" %d 12 "-" "curl"` + "\n"
	logshipAppend(t, logPath, fmt.Sprintf(line, 1, 200)+fmt.Sprintf(line, 2, 503))
	var metrics string
	tail := func() string {
		_, out, _ := runCLI(t, "--config", cfg, "logs", "tail", "shop", "--follow=false", "--side", "old")
		return out
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var errb lockedBuffer
	cmd := newCmdRoot(&iostreams{In: strings.NewReader(""), Out: &bytes.Buffer{}, Err: &errb})
	cmd.SetArgs([]string{"--config", cfg, "--data-dir", filepath.Join(dir, "ship-data"),
		"logship", "shop", "--side", "old", "--metrics-listen", metricsAddr})
	errc := make(chan error, 1)
	go func() { errc <- cmd.ExecuteContext(ctx) }()
	deadline := time.Now().Add(15 * time.Second)
	for strings.Count(tail(), "\n") < 2 || !strings.Contains(metrics, "migrate_logship_delivered_total") {
		select {
		case err := <-errc:
			t.Fatalf("logship stopped early: %v\n%s", err, errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the shipped lines did not reach logs tail within 15s; tail:\n%s\nlogship:\n%s", tail(), errb.String())
		}
		time.Sleep(50 * time.Millisecond)
		if resp, err := http.Get("http://" + metricsAddr + "/metrics"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			metrics = string(b)
		}
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("logship: %v\n%s", err, errb.String())
	}
	want := "old old-web1 | " + fmt.Sprintf(line, 1, 200) + "old old-web1 | " + fmt.Sprintf(line, 2, 503)
	if diff := cmp.Diff(tail(), want); diff != "" {
		t.Errorf("logs tail after logship (-got +want):\n%s", diff)
	}
	if !strings.Contains(metrics, `migrate_logship_lines_total{app="shop",side="old"} 2`) {
		t.Errorf("logship metrics lack 2 lines read:\n%s", metrics)
	}
}

// TestLogshipWithoutTokenNamesTheVariable: logship to the embedded sink of
// a serve started with a token, itself without one, says at start and in
// every retry of the refused batch which variable to set.
func TestLogshipWithoutTokenNamesTheVariable(t *testing.T) {
	adminAddr := freeAddr(t)
	dir := t.TempDir()
	cfg, logPath := writeShipManifest(t, dir, adminAddr)
	serve := startBinaryEnv(t, []string{"SHOP_ADMIN_TOKEN=s3cret"}, "--config", cfg, "--data-dir", filepath.Join(dir, "serve-data"), "serve")
	serve.waitFor(t, "healthy", func() bool { return answers("http://" + adminAddr + "/healthz") })
	logshipAppend(t, logPath, `10.0.0.1 - - [25/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 12 "-" "curl"`+"\n")

	ship := startBinaryEnv(t, []string{"SHOP_ADMIN_TOKEN="}, "--config", cfg, "--data-dir", filepath.Join(dir, "ship-data"), "logship", "shop", "--side", "old")
	for _, want := range []string{
		"no admin token: the embedded sink of migrate serve will refuse the batches until it is set\" env=SHOP_ADMIN_TOKEN",
		"status=401",
		"the admin token is read from $SHOP_ADMIN_TOKEN, which is empty here: export SHOP_ADMIN_TOKEN=",
	} {
		ship.waitFor(t, "logged "+want, func() bool { return strings.Contains(ship.stderr.String(), want) })
	}
}
