package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
