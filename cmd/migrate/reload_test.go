package main

import (
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// runBinary runs the migrate binary to its end with env added, and
// returns its exit code and output.
func runBinary(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(buildMigrate(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errb.String()
}

// body is the body of a GET of url, "" when it fails.
func body(url string) string {
	res, err := http.Get(url)
	if err != nil {
		return ""
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

// TestReloadLive runs the real binary: a changed manifest is applied by
// SIGHUP and by `migrate reload` (the old side's backend replaced, then an
// app added), and a manifest with problems is refused by `migrate reload`
// with its file:line:col and exit 2, the instance serving on unchanged.
func TestReloadLive(t *testing.T) {
	t.Parallel()
	first, second := textServer(t, "first"), textServer(t, "second")
	listen, adminAddr := freeAddr(t), freeAddr(t)
	cfg := writeManifest(t, listen, adminAddr, first.URL, first.URL)
	p := startBinaryEnv(t, []string{"MIGRATE_ADMIN_TOKEN=s3cret"}, "--config", cfg, "--data-dir", t.TempDir(), "serve")
	p.waitFor(t, "started", func() bool { return body("http://"+listen+"/") == "first" })

	rewrite := func(data string) {
		t.Helper()
		if err := os.WriteFile(cfg, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	manifestWith := func(oldURL, extra string) string {
		return "defaults:\n  listen: " + listen + "\n  admin: {listen: " + adminAddr + "}\n  drain: 10s\napps:\n  shop:\n    old: {backends: [" + oldURL + "]}\n    new: {backends: [" + oldURL + "]}\n" + extra
	}
	rewrite(manifestWith(second.URL, ""))
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.waitFor(t, "served the backend of the reloaded manifest", func() bool { return body("http://"+listen+"/") == "second" })

	// migrate reload: an app added, on its own host.
	rewrite(manifestWith(second.URL, "    hosts: [shop.test]\n  blog:\n    hosts: [blog.test]\n    old: {backends: ["+first.URL+"]}\n    new: {backends: ["+first.URL+"]}\n"))
	code, out, errOut := runBinary(t, []string{"MIGRATE_ADMIN_TOKEN=s3cret"}, "--config", cfg, "reload")
	if code != 0 || !strings.Contains(out, "apps.blog: added") {
		t.Fatalf("migrate reload: exit %d\n%s%s", code, out, errOut)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+listen+"/", nil)
	req.Host = "blog.test"
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(got) != "first" {
		t.Errorf("the app the reload added answered %d %q, want first", res.StatusCode, got)
	}

	// A manifest with problems: refused, placed, exit 2; nothing changed.
	rewrite(manifestWith("ftp://nowhere", ""))
	code, out, errOut = runBinary(t, []string{"MIGRATE_ADMIN_TOKEN=s3cret"}, "--config", cfg, "--admin", adminAddr, "reload")
	if code != exitUsage || !strings.Contains(errOut, "migrate.yaml:") || !strings.Contains(errOut, "apps.shop.old.backends[0]") {
		t.Errorf("migrate reload of a bad manifest: exit %d, want 2 with the problem placed\n%s%s", code, out, errOut)
	}
	req.Host = "shop.test"
	if res, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if string(got) != "second" {
			t.Errorf("after the refused reload: %d %q, want second as before", res.StatusCode, got)
		}
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0; stderr:\n%s", code, p.stderr)
	}
}
