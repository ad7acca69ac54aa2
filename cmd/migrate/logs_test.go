package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/migratekit/migrate/logship"
)

// shipLines sends lines of side through the embedded sink of the migrate
// serve at adminAddr, timed at.
func shipLines(t *testing.T, adminAddr, side string, at time.Time, lines ...string) {
	t.Helper()
	d, err := logship.NewEmbeddedDeliverer(logship.SinkConfig{Type: "embedded"}, "shop", side, logship.WithAdmin(adminAddr, "MIGRATE_ADMIN_TOKEN"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.(io.Closer).Close()
	batch := make([]logship.Event, len(lines))
	for i, l := range lines {
		batch[i] = logship.Event{ID: side + "-" + l, Time: at, App: "shop", Side: side, Host: side + "-web1",
			Record: logship.Record{Raw: []byte(l), Status: 200}}
	}
	if err := d.Deliver(t.Context(), batch); err != nil {
		t.Fatalf("shipping %s's lines: %v", side, err)
	}
}

func TestLogsTail(t *testing.T) {
	oldSrv, newSrv := textServer(t, "old"), textServer(t, "new")
	listen, adminAddr := freeAddr(t), freeAddr(t)
	cfg := writeManifest(t, listen, adminAddr, oldSrv.URL, newSrv.URL)
	t.Setenv("MIGRATE_ADMIN_TOKEN", "s3cret")
	stop := startServe(t, cfg, t.TempDir(), adminAddr)
	defer stop()
	now := time.Now()
	shipLines(t, adminAddr, "old", now.Add(-time.Hour), "GET /a 200", "GET /b 500")
	shipLines(t, adminAddr, "new", now, "GET /a 200", "GET /c 502")

	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     string // stdout, or a part of stderr when wantCode is not 0
	}{
		{"both sides", nil, exitOK, "old old-web1 | GET /a 200\nold old-web1 | GET /b 500\nnew new-web1 | GET /a 200\nnew new-web1 | GET /c 502\n"},
		{"one side", []string{"--side", "new"}, exitOK, "new new-web1 | GET /a 200\nnew new-web1 | GET /c 502\n"},
		{"grep", []string{"--grep", ` 5\d\d$`}, exitOK, "old old-web1 | GET /b 500\nnew new-web1 | GET /c 502\n"},
		{"since", []string{"--since", "10m", "--lines", "1"}, exitOK, "new new-web1 | GET /c 502\n"},
		{"json", []string{"--side", "old", "--grep", "/b"}, exitOK, fmt.Sprintf(
			`{"id":"old-GET /b 500","time":%q,"app":"shop","side":"old","host":"old-web1","file":"","offset":0,"line":"GET /b 500","status":200}`+"\n",
			now.Add(-time.Hour).Format(time.RFC3339Nano))},
		{"bad grep", []string{"--grep", "(5xx"}, exitUsage, "--grep \"(5xx\" is not a regular expression: error parsing regexp: missing closing ): `(5xx`"},
		{"bad side", []string{"--side", "both"}, exitUsage, `--side "both": use old or new`},
		{"bad format", []string{"--format", "yaml"}, exitUsage, `--format "yaml": use text or json`},
		{"unknown flag", []string{"--app-is-arg"}, exitUsage, "unknown flag: --app-is-arg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--config", cfg, "logs", "tail", "shop", "--follow=false"}, tt.args...)
			if tt.name == "json" {
				args = append(args, "--format", "json")
			}
			code, out, errs := runCLI(t, args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr %s", code, tt.wantCode, errs)
			}
			if tt.wantCode != exitOK {
				if !strings.Contains(errs, tt.want) {
					t.Errorf("stderr %q, want it to contain %q", errs, tt.want)
				}
				return
			}
			if diff := cmp.Diff(out, tt.want); diff != "" {
				t.Errorf("stdout (-got +want):\n%s", diff)
			}
		})
	}
	if code, _, errs := runCLI(t, "--config", cfg, "logs", "tail", "nope", "--follow=false"); code != exitUsage || !strings.Contains(errs, `app "nope" is not served`) {
		t.Errorf("an app not served: exit %d, stderr %q", code, errs)
	}
}

func TestLogsTailFollow(t *testing.T) {
	oldSrv, newSrv := textServer(t, "old"), textServer(t, "new")
	listen, adminAddr := freeAddr(t), freeAddr(t)
	cfg := writeManifest(t, listen, adminAddr, oldSrv.URL, newSrv.URL)
	t.Setenv("MIGRATE_ADMIN_TOKEN", "s3cret")
	stop := startServe(t, cfg, t.TempDir(), adminAddr)
	defer stop()
	shipLines(t, adminAddr, "old", time.Now(), "first")

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out lockedBuffer
	exited := make(chan error, 1)
	go func() {
		cmd := newCmdRoot(&iostreams{In: strings.NewReader(""), Out: &out, Err: io.Discard})
		cmd.SetArgs([]string{"--config", cfg, "logs", "tail", "shop"})
		exited <- cmd.ExecuteContext(ctx)
	}()
	waitOutput(t, &out, "old old-web1 | first\n")
	shipLines(t, adminAddr, "new", time.Now(), "second")
	waitOutput(t, &out, "old old-web1 | first\nnew new-web1 | second\n")
	cancel() // as SIGINT does
	if err := <-exited; err != nil {
		t.Errorf("logs tail after an interrupt: %v", err)
	}
}

// waitOutput waits until out holds want.
func waitOutput(t *testing.T, out *lockedBuffer, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if out.String() == want {
			return
		}
	}
	t.Fatalf("output %q, want %q", out.String(), want)
}

func TestLinePrinter(t *testing.T) {
	line := func(side string) []byte {
		ev := logship.Event{ID: "1", Time: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Side: side, Host: "h", Record: logship.Record{Raw: []byte("x")}}
		return logship.AppendEvent(nil, &ev)
	}
	tests := []struct {
		name  string
		color bool
		side  string
		want  string
	}{
		{"plain", false, "old", "old h | x\n"},
		{"old in colour", true, "old", "\x1b[33mold h\x1b[0m | x\n"},
		{"new in colour", true, "new", "\x1b[36mnew h\x1b[0m | x\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			p := &linePrinter{w: &b, color: tt.color}
			if err := p.print(line(tt.side)); err != nil {
				t.Fatal(err)
			}
			if got := b.String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if useColor(&bytes.Buffer{}) {
		t.Error("useColor is true for a buffer")
	}
}

// TestLogsTailSaysWhenEmpty: with nothing shipped yet, logs tail says so on
// stderr instead of waiting in silence, then prints the first line shipped.
func TestLogsTailSaysWhenEmpty(t *testing.T) {
	listen, adminAddr := freeAddr(t), freeAddr(t)
	cfg := writeManifest(t, listen, adminAddr, textServer(t, "old").URL, textServer(t, "new").URL)
	t.Setenv("MIGRATE_ADMIN_TOKEN", "s3cret")
	stop := startServe(t, cfg, t.TempDir(), adminAddr)
	defer stop()

	code, out, errs := runCLI(t, "--config", cfg, "logs", "tail", "shop", "--follow=false")
	if code != exitOK || out != "" || !strings.Contains(errs, "no lines of shop (none shipped, or none matching)") {
		t.Errorf("--follow=false: code %d, stdout %q, stderr %q", code, out, errs)
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr lockedBuffer
	exited := make(chan error, 1)
	go func() {
		cmd := newCmdRoot(&iostreams{In: strings.NewReader(""), Out: &stdout, Err: &stderr})
		cmd.SetArgs([]string{"--config", cfg, "logs", "tail", "shop"})
		exited <- cmd.ExecuteContext(ctx)
	}()
	waitOutput(t, &stderr, "no lines of shop yet (none shipped, or none matching); waiting for new ones from migrate logship (Ctrl-C stops)\n")
	shipLines(t, adminAddr, "old", time.Now(), "first")
	waitOutput(t, &stdout, "old old-web1 | first\n")
	cancel()
	if err := <-exited; err != nil {
		t.Errorf("logs tail after an interrupt: %v", err)
	}
}
