package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/migratekit/migrate/compare"
)

// accessLog writes an nginx combined log of lines (method, target) plus a
// junk line, and returns its path.
func accessLog(t *testing.T, reqs ...string) string {
	t.Helper()
	var b strings.Builder
	for _, r := range reqs {
		method, target, _ := strings.Cut(r, " ")
		b.WriteString(`203.0.113.7 - - [10/Oct/2025:13:55:36 +0000] "` + method + " " + target + ` HTTP/1.1" 200 42 "-" "curl/8.0"` + "\n")
	}
	b.WriteString("not an access log line\n")
	path := filepath.Join(t.TempDir(), "access.log")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// replayManifest is a manifest whose app shop has the given sides and an
// /items/:id route.
func replayManifest(t *testing.T, oldURL, newURL string) string {
	t.Helper()
	cfg := writeManifest(t, "127.0.0.1:0", "127.0.0.1:0", oldURL, newURL)
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("    shadow: {routes: [\"/items/:id\"]}\n"); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// runCLIWithInput is runCLI with stdin.
func runCLIWithInput(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := newCmdRoot(&iostreams{In: strings.NewReader(stdin), Out: &out, Err: &errb})
	cmd.SetArgs(args)
	code = exitOK
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		errb.WriteString("migrate: " + err.Error() + "\n")
		code = exitCode(err)
	}
	return code, out.String(), errb.String()
}

// TestReplayReport replays a log against a new side with a changed price:
// the JSON report names the endpoint and the field, the examples land in
// the data dir's sample store, and the counts are logged.
func TestReplayReport(t *testing.T) {
	oldSrv, newSrv := jsonServer(t, "10"), jsonServer(t, "12")
	cfg := replayManifest(t, oldSrv.URL, newSrv.URL)
	dataDir := t.TempDir()
	log := accessLog(t, "GET /items/1", "POST /items/2", "GET /items/3?x=1")
	code, out, errs := runCLI(t, "--config", cfg, "--data-dir", dataDir, "replay", "shop", "--log", log, "--report-format", "json")
	if code != exitOK {
		t.Fatalf("replay: code %d, stderr %s", code, errs)
	}
	var rep struct {
		Endpoints []struct {
			Endpoint string  `json:"endpoint"`
			Requests int     `json:"requests"`
			Diffs    int     `json:"diffs"`
			DiffRate float64 `json:"diff_rate"`
			Fields   []struct {
				Path string `json:"path"`
			} `json:"fields"`
		} `json:"endpoints"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, out)
	}
	type endpoint struct {
		Endpoint        string
		Requests, Diffs int
		Field           string
	}
	var got []endpoint
	for _, e := range rep.Endpoints {
		ep := endpoint{Endpoint: e.Endpoint, Requests: e.Requests, Diffs: e.Diffs}
		if len(e.Fields) > 0 {
			ep.Field = e.Fields[0].Path
		}
		got = append(got, ep)
	}
	if diff := cmp.Diff(got, []endpoint{{"/items/:id", 2, 2, "/price"}}); diff != "" {
		t.Errorf("report endpoints (-got +want):\n%s", diff)
	}
	for _, want := range []string{"replayed=2", "skipped_unsafe=1", "unparseable=1", "first=\"4 ("} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr does not contain %q:\n%s", want, errs)
		}
	}
	if _, err := os.Stat(filepath.Join(dataDir, compare.StoreFile)); err != nil {
		t.Errorf("no sample store in the data dir: %v", err)
	}
}

// TestReplayGate checks --max-diff-rate's exit code, with the log read
// from stdin.
func TestReplayGate(t *testing.T) {
	logLine := `203.0.113.7 - - [10/Oct/2025:13:55:36 +0000] "GET /items/1 HTTP/1.1" 200 42 "-" "curl/8.0"` + "\n"
	tests := []struct {
		name      string
		newPrice  string
		limit     string
		wantCode  int
		wantError string
	}{
		{"differs, over the limit", "12", "50%", exitCheck, "diff rate above 50% on 1 endpoint(s): /items/:id 100.00%"},
		{"differs, no limit", "12", "", exitOK, ""},
		{"same answers", "10", "0", exitOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := replayManifest(t, jsonServer(t, "10").URL, jsonServer(t, tt.newPrice).URL)
			args := []string{"--config", cfg, "--data-dir", t.TempDir(), "replay", "shop", "--log", "-"}
			if tt.limit != "" {
				args = append(args, "--max-diff-rate", tt.limit)
			}
			code, out, errs := runCLIWithInput(t, logLine, args...)
			if code != tt.wantCode {
				t.Errorf("code = %d, want %d (stderr %s)", code, tt.wantCode, errs)
			}
			if !strings.Contains(errs, tt.wantError) {
				t.Errorf("stderr %q does not contain %q", errs, tt.wantError)
			}
			if !strings.Contains(out, "Diff report: shop") {
				t.Errorf("no text report on stdout:\n%s", out)
			}
		})
	}
}

func TestReplayUsageErrors(t *testing.T) {
	cfg := replayManifest(t, "http://127.0.0.1:1", "http://127.0.0.1:2")
	log := accessLog(t, "GET /items/1")
	base := []string{"--config", cfg, "--data-dir", t.TempDir(), "replay"}
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no log", []string{"shop"}, `required flag(s) "log"`},
		{"no app", []string{"--log", log}, "one app name"},
		{"unknown app", []string{"blog", "--log", log}, `app "blog" is not in the manifest (apps: shop)`},
		{"missing file", []string{"shop", "--log", filepath.Join(t.TempDir(), "none.log")}, "none.log"},
		{"unknown format", []string{"shop", "--log", log, "--format", "apache"}, `--format "apache"`},
		{"raw format", []string{"shop", "--log", log, "--format", "raw"}, `--format "raw"`},
		{"nginx without log_format", []string{"shop", "--log", log, "--format", "nginx"}, "--format:"},
		{"bad report format", []string{"shop", "--log", log, "--report-format", "pdf"}, `--report-format "pdf"`},
		{"bad rate", []string{"shop", "--log", log, "--rate", "-1"}, "--rate -1"},
		{"bad concurrency", []string{"shop", "--log", log, "--concurrency", "0"}, "--concurrency 0"},
		{"bad max diff rate", []string{"shop", "--log", log, "--max-diff-rate", "lots"}, "--max-diff-rate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := runCLI(t, append(base, tt.args...)...)
			if code != exitUsage {
				t.Errorf("code = %d, want %d (stderr %q)", code, exitUsage, errs)
			}
			if !strings.Contains(errs, tt.wantErr) {
				t.Errorf("stderr %q does not contain %q", errs, tt.wantErr)
			}
		})
	}
}
