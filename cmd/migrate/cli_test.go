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

	"github.com/migratekit/migrate/manifest"
)

// runCLI runs the CLI in-process and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := newCmdRoot(&iostreams{In: strings.NewReader(""), Out: &out, Err: &errb})
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	code = exitOK
	if err != nil {
		errb.WriteString("migrate: " + err.Error() + "\n")
		code = exitCode(err)
	}
	return code, out.String(), errb.String()
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, "version")
	if code != exitOK || !strings.HasPrefix(out, "migrate ") {
		t.Fatalf("version: code %d, out %q", code, out)
	}
}

func TestInitThenValidate(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "migrate.yaml")
	code, out, errs := runCLI(t, "--config", cfg, "init", "shop", "--old", "http://127.0.0.1:3001", "--new", "http://127.0.0.1:3002")
	if code != exitOK {
		t.Fatalf("init: code %d, stderr %s", code, errs)
	}
	if !strings.Contains(out, "wrote "+cfg) {
		t.Errorf("init output %q does not name the file", out)
	}
	code, out, errs = runCLI(t, "--config", cfg, "validate")
	if code != exitOK {
		t.Fatalf("validate of the starter manifest: code %d, stderr %s", code, errs)
	}
	if !strings.Contains(out, "shop") {
		t.Errorf("validate output %q does not name the app", out)
	}
	// A second init must not overwrite the file.
	code, _, errs = runCLI(t, "--config", cfg, "init", "shop", "--old", "http://a", "--new", "http://b")
	if code != exitUsage || !strings.Contains(errs, "already exists") {
		t.Errorf("second init: code %d, stderr %q; want %d and 'already exists'", code, errs, exitUsage)
	}
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("apps:\n  shop:\n    old: {backends: [\"htp://x\"]}\n    new: {backends: [http://127.0.0.1:1]}\n    bogus: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  []string
	}{
		{"unknown flag", []string{"validate", "--nope"}, exitUsage, []string{"unknown flag: --nope"}},
		{"unknown command", []string{"frobnicate"}, exitUsage, []string{"unknown command"}},
		{"missing manifest", []string{"--config", filepath.Join(dir, "none.yaml"), "validate"}, exitUsage, []string{"none.yaml"}},
		{"bad manifest, every problem", []string{"--config", bad, "validate"}, exitUsage, []string{
			"bad.yaml:3:", `apps.shop.old.backends[0]: "htp://x" is not an http(s) URL`,
			"bad.yaml:5:5: apps.shop.bogus",
		}},
		{"init without --new", []string{"--config", filepath.Join(dir, "x.yaml"), "init", "shop", "--old", "http://a"}, exitUsage, []string{`"new" not set`}},
		{"init with a bad URL", []string{"--config", filepath.Join(dir, "y.yaml"), "init", "shop", "--old", "ftp://a", "--new", "http://b"}, exitUsage, []string{"ftp://a"}},
		{"cutover weight out of range", []string{"cutover", "shop", "--weight", "101", "--admin", "127.0.0.1:1"}, exitUsage, []string{"out of range"}},
		{"cutover without weight", []string{"cutover", "shop", "--admin", "127.0.0.1:1"}, exitUsage, []string{"needs --weight"}},
		{"status with no server", []string{"status", "shop", "--admin", "127.0.0.1:1"}, exitRuntime, []string{"is migrate serve running?"}},
		{"status needs an app", []string{"status"}, exitUsage, []string{"one app name"}},
		{"bad log format", []string{"--log-format", "xml", "version"}, exitUsage, []string{"--log-format"}},
		{"demo with too many clients", []string{"demo", "--clients", "1000"}, exitUsage, []string{"--clients 1000: use 1 to 512"}},
		{"demo with no clients", []string{"demo", "--clients", "0"}, exitUsage, []string{"--clients 0: use 1 to 512"}},
		{"demo with no rate", []string{"demo", "--rate", "0"}, exitUsage, []string{"--rate 0: use 1 to 100000"}},
		{"demo with a bad listen address", []string{"demo", "--listen", "nope"}, exitUsage, []string{`--listen: "nope" is not host:port`}},
		{"demo with a bad admin port", []string{"demo", "--admin", "127.0.0.1:99999"}, exitUsage, []string{`--admin: "127.0.0.1:99999" has a bad port "99999"`}},
		{"demo with a rate too high", []string{"demo", "--rate", "2000000000"}, exitUsage, []string{"--rate 2000000000: use 1 to 100000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := runCLI(t, tt.args...)
			if code != tt.wantCode {
				t.Errorf("code = %d, want %d (stderr %q)", code, tt.wantCode, errs)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr %q does not contain %q", errs, w)
				}
			}
		})
	}
}

func TestEveryCommandHasHelpAndExample(t *testing.T) {
	root := newCmdRoot(&iostreams{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}})
	for _, c := range root.Commands() {
		if c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		if c.Short == "" || c.Example == "" {
			t.Errorf("%s: needs Short and Example for --help", c.Name())
		}
	}
}

// TestValidateJSON: validate --format json prints the problems of an
// invalid manifest on stdout as JSON, each with its file, line, column,
// key path and message, and exits 2; a valid one gives valid: true.
func TestValidateJSON(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("apps:\n  shop:\n    old: {backends: [\"htp://x\"]}\n    new: {backends: [http://127.0.0.1:1]}\n    bogus: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI(t, "--config", bad, "validate", "--format", "json")
	var got validateResult
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("stdout is not JSON (%v): %q; stderr %q", err, out, errs)
	}
	want := validateResult{Problems: manifest.Problems{
		{File: bad, Line: 3, Col: 22, Path: "apps.shop.old.backends[0]", Msg: `"htp://x" is not an http(s) URL`},
		{File: bad, Line: 5, Col: 5, Path: "apps.shop.bogus", Msg: "unknown key (did you mean logs?)"},
	}}
	if code != exitUsage || !cmp.Equal(got, want) {
		t.Errorf("code %d, want %d; result (-got +want):\n%s", code, exitUsage, cmp.Diff(got, want))
	}
	for _, key := range []string{`"file"`, `"line"`, `"column"`, `"path"`, `"message"`} {
		if !strings.Contains(out, key) {
			t.Errorf("stdout lacks the key %s:\n%s", key, out)
		}
	}

	missing := filepath.Join(dir, "none.yaml")
	code, out, _ = runCLI(t, "--config", missing, "validate", "--format", "json")
	if code != exitUsage || json.Unmarshal([]byte(out), &got) != nil || got.Valid || len(got.Problems) != 1 || got.Problems[0].File != missing {
		t.Errorf("missing manifest: code %d, stdout %q; want %d and one problem about it", code, out, exitUsage)
	}

	good := filepath.Join(dir, "good.yaml")
	if code, _, errs := runCLI(t, "--config", good, "init", "shop", "--old", "http://127.0.0.1:3001", "--new", "http://127.0.0.1:3002"); code != exitOK {
		t.Fatalf("init: %d %s", code, errs)
	}
	code, out, _ = runCLI(t, "--config", good, "validate", "--format", "json")
	if code != exitOK || json.Unmarshal([]byte(out), &got) != nil || !got.Valid || len(got.Problems) != 0 || len(got.Apps) != 1 {
		t.Errorf("valid manifest: code %d, stdout %q", code, out)
	}
}

// TestInitNamesTheFlag: init reports a bad argument by the flag or
// argument it came from, not at a line of the file it did not write.
func TestInitNamesTheFlag(t *testing.T) {
	t.Parallel()
	cfg := filepath.Join(t.TempDir(), "migrate.yaml")
	code, _, errs := runCLI(t, "--config", cfg, "init", "Bad App", "--old", "ftp://a", "--new", "http://127.0.0.1:3002")
	for _, want := range []string{"nothing written to " + cfg, "\nAPP Bad App: \"Bad App\" is not a valid app name", "\n--old: \"ftp://a\" is not an http(s) URL"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr %q lacks %q", errs, want)
		}
	}
	if code != exitUsage || strings.Contains(errs, cfg+":") {
		t.Errorf("code %d, stderr %q; want %d and no place in %s", code, errs, exitUsage, cfg)
	}
	if _, err := os.Stat(cfg); !os.IsNotExist(err) {
		t.Errorf("init wrote %s: %v", cfg, err)
	}
}
