package logship

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/migratekit/migrate/telemetry"
)

// got is an event as the source tests compare it.
type tailed struct {
	Line          string
	Off, End      int64
	Split, Unterm bool
	ParseError    string
	File          string
}

// sourceRig runs a source on a fake clock in a temp dir, step by step.
type sourceRig struct {
	t     *testing.T
	dir   string
	clock *clockwork.FakeClock
	cps   *checkpoints
	src   *source
	reg   *prometheus.Registry
	evs   []Event
	gens  []fingerprint
}

func newSourceRig(t *testing.T, dir string, cfg SourceConfig) *sourceRig {
	t.Helper()
	r := &sourceRig{t: t, dir: dir, clock: clockwork.NewFakeClock(), reg: prometheus.NewRegistry()}
	m, err := telemetry.New(r.reg)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Format == "" {
		cfg.Format = "raw"
	}
	cfg.App, cfg.Side = "shop", "old"
	if len(cfg.Paths) == 0 {
		cfg.Paths = []string{filepath.Join(dir, "*.log")}
	}
	if r.cps, err = loadCheckpoints(checkpointPath(dir, "shop", "old")); err != nil {
		t.Fatal(err)
	}
	r.src, err = newSource(cfg, r.cps, r.clock, slog.New(slog.DiscardHandler), m.Logship("shop", "old"),
		func(_ context.Context, ev *Event, gen fingerprint) error {
			e := *ev
			e.Record = ev.Record.Clone()
			r.evs = append(r.evs, e)
			r.gens = append(r.gens, gen)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.src.closeAll)
	return r
}

// step rescans and reads everything, after the clock moves by d.
func (r *sourceRig) step(d time.Duration) {
	r.t.Helper()
	r.clock.Advance(d)
	if err := r.src.scan(context.Background()); err != nil {
		r.t.Fatal(err)
	}
	if err := r.src.pollAll(context.Background()); err != nil {
		r.t.Fatal(err)
	}
}

// take returns the events since the last take.
func (r *sourceRig) take() []tailed {
	var out []tailed
	for _, ev := range r.evs {
		out = append(out, tailed{Line: string(ev.Record.Raw), Off: ev.Offset, End: ev.End, Split: ev.Split,
			Unterm: ev.Unterminated, ParseError: ev.Record.ParseError, File: filepath.Base(ev.File)})
	}
	r.evs = nil
	return out
}

// ackAll acknowledges every event emitted so far, as the sender would.
func (r *sourceRig) ackAll() {
	for i, ev := range r.evs {
		r.cps.ack(r.gens[i], ev.End, r.clock.Now())
	}
}

func (r *sourceRig) metric(name string) float64 {
	r.t.Helper()
	v, err := telemetry.Read(r.reg, name, map[string]string{"app": "shop", "side": "old"})
	if err != nil {
		r.t.Fatal(err)
	}
	return v
}

func appendTo(t *testing.T, path, s string) {
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

func TestSourceLines(t *testing.T) {
	tests := []struct {
		name   string
		cfg    SourceConfig
		writes []string // one write per step, the clock moving 1s between
		want   []tailed
	}{
		{
			name:   "whole lines",
			writes: []string{"a\nbb\n", "ccc\n"},
			want:   []tailed{{Line: "a", Off: 0, End: 2}, {Line: "bb", Off: 2, End: 5}, {Line: "ccc", Off: 5, End: 9}},
		},
		{
			name:   "partial line waits for its newline",
			writes: []string{"a\nb", "c", "d\n"},
			want:   []tailed{{Line: "a", Off: 0, End: 2}, {Line: "bcd", Off: 2, End: 6}},
		},
		{
			name:   "partial line flushed after the flush timeout, the rest not shipped twice",
			cfg:    SourceConfig{FlushTimeout: 2 * time.Second},
			writes: []string{"a\nbc", "", "", "de\nf\n"},
			want: []tailed{{Line: "a", Off: 0, End: 2}, {Line: "bc", Off: 2, End: 4, Unterm: true},
				{Line: "de", Off: 4, End: 7}, {Line: "f", Off: 7, End: 9}},
		},
		{
			name:   "long line split in parts",
			cfg:    SourceConfig{MaxLine: 4},
			writes: []string{"0123456789\nab\n"},
			want: []tailed{{Line: "0123", Off: 0, End: 4, Split: true}, {Line: "4567", Off: 4, End: 8, Split: true},
				{Line: "89", Off: 8, End: 11, Split: true}, {Line: "ab", Off: 11, End: 14}},
		},
		{
			name:   "long partial line split while it grows",
			cfg:    SourceConfig{MaxLine: 4},
			writes: []string{"012345", "6789\n"},
			want: []tailed{{Line: "0123", Off: 0, End: 4, Split: true}, {Line: "4567", Off: 4, End: 8, Split: true},
				{Line: "89", Off: 8, End: 11, Split: true}},
		},
		{
			name:   "invalid utf-8 and binary junk shipped raw with a parse error",
			writes: []string{"ok\n\xff\xfe\x00junk\n"},
			want:   []tailed{{Line: "ok", End: 3}, {Line: "\xff\xfe\x00junk", Off: 3, End: 11, ParseError: "invalid utf-8"}},
		},
		{
			name:   "crlf",
			writes: []string{"a\r\n"},
			want:   []tailed{{Line: "a", End: 3}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			r := newSourceRig(t, dir, tt.cfg)
			path := filepath.Join(dir, "app.log")
			for _, w := range tt.writes {
				appendTo(t, path, w)
				r.step(time.Second)
			}
			evs := r.take()
			for i := range evs {
				evs[i].File = ""
			}
			if diff := cmp.Diff(evs, tt.want); diff != "" {
				t.Errorf("events (-got +want):\n%s", diff)
			}
		})
	}
}

func TestSourceCounts(t *testing.T) {
	dir := t.TempDir()
	r := newSourceRig(t, dir, SourceConfig{MaxLine: 8, FlushTimeout: time.Second, Format: "json"})
	path := filepath.Join(dir, "app.log")
	appendTo(t, path, "{\"a\":1}\n0123456789\nnot json\npartial")
	r.step(0)
	r.step(2 * time.Second)
	if err := os.Symlink("loop.log", filepath.Join(dir, "loop.log")); err != nil {
		t.Fatal(err)
	}
	r.step(time.Second)
	r.step(time.Second) // logged and counted once
	tests := []struct {
		series string
		want   float64
	}{
		{"migrate_logship_lines_total", 5}, // 1 + 2 parts + 1 + the flushed "partial"
		{"migrate_logship_split_lines_total", 1},
		{"migrate_logship_unterminated_total", 1},
		{"migrate_logship_unreadable_files_total", 1},
	}
	for _, tt := range tests {
		t.Run(tt.series, func(t *testing.T) {
			if got := r.metric(tt.series); got != tt.want {
				t.Errorf("%s = %v, want %v", tt.series, got, tt.want)
			}
		})
	}
}

func TestSourceIDs(t *testing.T) {
	dir := t.TempDir()
	r := newSourceRig(t, dir, SourceConfig{})
	appendTo(t, filepath.Join(dir, "a.log"), "same\nline\n")
	appendTo(t, filepath.Join(dir, "b.log"), "other\nline\n")
	r.step(0)
	ids := make(map[string]bool)
	for _, ev := range r.evs {
		if ids[ev.ID] {
			t.Errorf("id %s of %q at %d is not unique", ev.ID, ev.Record.Raw, ev.Offset)
		}
		ids[ev.ID] = true
	}
	if len(ids) != 4 {
		t.Fatalf("got %d ids, want 4", len(ids))
	}
	// A second source over the same files, without checkpoints, gives the
	// same ids: they depend on content and offset only.
	r2 := newSourceRig(t, t.TempDir(), SourceConfig{Paths: []string{filepath.Join(dir, "*.log")}})
	r2.step(0)
	for _, ev := range r2.evs {
		if !ids[ev.ID] {
			t.Errorf("id %s of %q at %d differs on a second read", ev.ID, ev.Record.Raw, ev.Offset)
		}
	}
}

func TestSourceRotation(t *testing.T) {
	tests := []struct {
		name   string
		rotate func(t *testing.T, dir string)
		want   []tailed
	}{
		{
			name: "rename and create: the old file drained, late writes included",
			rotate: func(t *testing.T, dir string) {
				old := filepath.Join(dir, "app.log")
				f, err := os.OpenFile(old, os.O_APPEND|os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if err := os.Rename(old, filepath.Join(dir, "app.log.1")); err != nil {
					t.Fatal(err)
				}
				f.WriteString("late\n") // the writer has not reopened yet
				appendTo(t, old, "new1\n")
			},
			want: []tailed{{Line: "one", End: 4, File: "app.log"}, {Line: "two", Off: 4, End: 8, File: "app.log"},
				{Line: "late", Off: 8, End: 13, File: "app.log"}, {Line: "new1", End: 5, File: "app.log"}},
		},
		{
			name: "copytruncate: the rest read from the copy, then the new content from the start",
			rotate: func(t *testing.T, dir string) {
				path := filepath.Join(dir, "app.log")
				appendTo(t, path, "unread\n")
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "app.log.1"), data, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Truncate(path, 0); err != nil {
					t.Fatal(err)
				}
				appendTo(t, path, "after\n")
			},
			want: []tailed{{Line: "one", End: 4, File: "app.log"}, {Line: "two", Off: 4, End: 8, File: "app.log"},
				{Line: "unread", Off: 8, End: 15, File: "app.log.1"}, {Line: "after", End: 6, File: "app.log"}},
		},
		{
			name: "truncated then refilled past the old size: the fingerprint tells",
			rotate: func(t *testing.T, dir string) {
				if err := os.WriteFile(filepath.Join(dir, "app.log"), []byte("ONE\nTWO\nTHREE\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			want: []tailed{{Line: "one", End: 4, File: "app.log"}, {Line: "two", Off: 4, End: 8, File: "app.log"},
				{Line: "ONE", End: 4, File: "app.log"}, {Line: "TWO", Off: 4, End: 8, File: "app.log"}, {Line: "THREE", Off: 8, End: 14, File: "app.log"}},
		},
		{
			name: "deleted: drained, then closed",
			rotate: func(t *testing.T, dir string) {
				path := filepath.Join(dir, "app.log")
				f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
				f.WriteString("last\n")
			},
			want: []tailed{{Line: "one", End: 4, File: "app.log"}, {Line: "two", Off: 4, End: 8, File: "app.log"},
				{Line: "last", Off: 8, End: 13, File: "app.log"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			r := newSourceRig(t, dir, SourceConfig{CloseAfter: 3 * time.Second})
			appendTo(t, filepath.Join(dir, "app.log"), "one\ntwo\n")
			r.step(0)
			r.ackAll()
			tt.rotate(t, dir)
			r.step(time.Second)
			r.step(time.Second)
			if diff := cmp.Diff(r.take(), tt.want); diff != "" {
				t.Errorf("events (-got +want):\n%s", diff)
			}
			r.step(5 * time.Second)
			r.step(time.Second)
			if n := len(r.src.files); n > 1 {
				t.Errorf("%d files open after the close delay, want at most 1", n)
			}
		})
	}
}

func TestSourceResume(t *testing.T) {
	tests := []struct {
		name    string
		cfg     SourceConfig
		between func(t *testing.T, dir string) // while the shipper is down
		want    []tailed
	}{
		{
			name: "from the checkpoint, not from the read offset",
			between: func(t *testing.T, dir string) {
				appendTo(t, filepath.Join(dir, "app.log"), "four\n")
			},
			want: []tailed{{Line: "three", Off: 8, End: 14, File: "app.log"}, {Line: "four", Off: 14, End: 19, File: "app.log"}},
		},
		{
			name: "a file rotated away while down is drained from its checkpoint",
			between: func(t *testing.T, dir string) {
				appendTo(t, filepath.Join(dir, "app.log"), "four\n")
				if err := os.Rename(filepath.Join(dir, "app.log"), filepath.Join(dir, "app.log.1")); err != nil {
					t.Fatal(err)
				}
				appendTo(t, filepath.Join(dir, "app.log"), "fresh\n")
			},
			want: []tailed{{Line: "fresh", End: 6, File: "app.log"},
				{Line: "three", Off: 8, End: 14, File: "app.log.1"}, {Line: "four", Off: 14, End: 19, File: "app.log.1"}},
		},
		{
			name: "read_from end applies to files never seen, not to checkpointed ones",
			cfg:  SourceConfig{ReadFrom: "end"},
			between: func(t *testing.T, dir string) {
				appendTo(t, filepath.Join(dir, "other.log"), "skipped\n")
			},
			want: []tailed{{Line: "three", Off: 8, End: 14, File: "app.log"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			r := newSourceRig(t, dir, SourceConfig{})
			appendTo(t, filepath.Join(dir, "app.log"), "one\ntwo\nthree\n")
			r.step(0)
			r.evs, r.gens = r.evs[:2], r.gens[:2] // "three" was read, not acknowledged
			r.ackAll()
			if err := r.cps.save(); err != nil {
				t.Fatal(err)
			}
			r.src.closeAll()
			tt.between(t, dir)
			r2 := newSourceRig(t, dir, tt.cfg)
			r2.step(0)
			got := r2.take()
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("events after restart (-got +want):\n%s", diff)
			}
		})
	}
}

func TestCheckpointsSaveLoad(t *testing.T) {
	dir := t.TempDir()
	path := checkpointPath(dir, "shop", "old")
	c, err := loadCheckpoints(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	fp := fingerprint{Sum: 42, Len: 1024}
	c.register(fp, fileID{Dev: 1, Ino: 2}, "/var/log/a.log", 0, now)
	c.ack(fp, 100, now)
	c.ack(fp, 50, now) // never backwards
	old := fingerprint{Sum: 7, Len: 10}
	c.register(old, fileID{Dev: 1, Ino: 3}, "/var/log/b.log", 0, now.Add(-48*time.Hour))
	if n := c.prune(now.Add(-24 * time.Hour)); n != 1 {
		t.Errorf("pruned %d, want 1", n)
	}
	if err := c.save(); err != nil {
		t.Fatal(err)
	}
	c2, err := loadCheckpoints(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []checkpoint{{FP: fp, Dev: 1, Ino: 2, Path: "/var/log/a.log", Offset: 100, Seen: now}}
	if diff := cmp.Diff(c2.all(), want); diff != "" {
		t.Errorf("loaded (-got +want):\n%s", diff)
	}
	if err := os.WriteFile(path, []byte("{junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadCheckpoints(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("loading junk: got %v, want an error naming %s", err, path)
	}
}

func TestSourceResumeKeepsCuts(t *testing.T) {
	dir := t.TempDir()
	r := newSourceRig(t, dir, SourceConfig{FlushTimeout: time.Second})
	path := filepath.Join(dir, "app.log")
	appendTo(t, path, "a\npart")
	r.step(0)
	r.step(2 * time.Second) // "part" flushed without its newline
	flushed := r.evs[1]
	r.evs, r.gens = r.evs[:1], r.gens[:1] // only "a" acknowledged
	r.ackAll()
	if err := r.cps.save(); err != nil {
		t.Fatal(err)
	}
	r.src.closeAll()
	appendTo(t, path, "ial\n")

	r2 := newSourceRig(t, dir, SourceConfig{FlushTimeout: time.Second})
	r2.step(0)
	if len(r2.evs) > 0 && r2.evs[0].ID != flushed.ID {
		t.Errorf("id of the flushed part after restart = %s, want %s as before", r2.evs[0].ID, flushed.ID)
	}
	want := []tailed{{Line: "part", Off: 2, End: 6, Unterm: true, File: "app.log"}, {Line: "ial", Off: 6, End: 10, File: "app.log"}}
	if diff := cmp.Diff(r2.take(), want); diff != "" {
		t.Errorf("events after restart (-got +want):\n%s", diff)
	}
}
