package logship

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The rotated generations a shipper never saw (rotated.go): rotations
// done by Debian's logrotate while the sink blocks or the shipper is
// stopped, checked at a real Shipper's sink.

func TestRotatedKind(t *testing.T) {
	tests := []struct {
		name string
		want siblingKind
	}{
		{"app.log.1", rotatedPlain},
		{"app.log.12", rotatedPlain},
		{"app.log-20260101", rotatedPlain},
		{"app.log.20260101", rotatedPlain},
		{"app.log-2026-01-01", rotatedPlain},
		{"app.log-20260101-1767225600", rotatedPlain},
		{"app.log-2026010112", rotatedPlain},
		{"app.log.2.gz", rotatedCompressed},
		{"app.log-20260101.bz2", rotatedCompressed},
		{"app.log.3.xz", rotatedCompressed},
		{"app.log.3.zst", rotatedCompressed},
		{"app.log.3.lz4", rotatedCompressed},
		{"app.log", notRotated},
		{"app.log.", notRotated},
		{"app.log.gz", notRotated},
		{"app.logger", notRotated},
		{"app.log1", notRotated},
		{"app.log.bak", notRotated},
		{"app.log.bak.tmp", notRotated},
		{"app.log.1.tmp", notRotated},
		{"app.log.1-", notRotated},
		{"app.log--1", notRotated},
		{"app.log.1--2", notRotated},
		{"app.log.-1", notRotated},
		{"other.log.1", notRotated},
		{"xapp.log.1", notRotated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rotatedKind("app.log", tt.name); got != tt.want {
				t.Errorf("rotatedKind(app.log, %q) = %d, want %d", tt.name, got, tt.want)
			}
		})
	}
}

func TestOlderName(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"app.log.2", "app.log.1", true},
		{"app.log.1", "app.log.2", false},
		{"app.log.10", "app.log.9", true},
		{"app.log-20260101", "app.log-20260102", true},
		{"app.log-20260102", "app.log-20260101", false},
	}
	for _, tt := range tests {
		t.Run(tt.a+" "+tt.b, func(t *testing.T) {
			if got := olderName(tt.a, tt.b); got != tt.want {
				t.Errorf("olderName(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

func TestCheckpointsTailedPaths(t *testing.T) {
	dir := t.TempDir()
	path := checkpointPath(dir, "shop", "old")
	// An older shipper's file: no tailed paths, the entries load.
	old := `{"version": 1, "files": [{"fp": {"sum": 42, "len": 10}, "dev": 1, "ino": 2, "path": "/l/a.log", "offset": 5, "seen": "2026-01-02T03:04:05Z"}]}`
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := loadCheckpoints(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(c.all()); got != 1 {
		t.Errorf("loaded %d entries from an older file, want 1", got)
	}
	if got := c.tailedPaths(); len(got) != 0 {
		t.Errorf("tailed paths from an older file = %v, want none", got)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	m := now.Add(-time.Minute)
	c.saw("/l/a.log", m, now)
	c.saw("/l/a.log", m.Add(-time.Hour), now) // never backwards
	c.saw("/l/gone.log", m, now.Add(-48*time.Hour))
	if n := c.prune(now.Add(-24 * time.Hour)); n != 1 { // gone.log only
		t.Errorf("pruned %d, want 1", n)
	}
	if err := c.save(); err != nil {
		t.Fatal(err)
	}
	c2, err := loadCheckpoints(path)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := c2.lastSeen("/l/a.log")
	if !ok || !got.Equal(m) {
		t.Errorf("lastSeen(/l/a.log) = %v, %v; want %v, true", got, ok, m)
	}
	if diff := cmp.Diff(c2.tailedPaths(), []string{"/l/a.log"}); diff != "" {
		t.Errorf("tailed paths (-got +want):\n%s", diff)
	}
}

// gapLines returns n lines of generation gen: "g<gen>-<i> ...".
func gapLines(gen, from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("g%d-%02d %s", gen, i, strings.Repeat("x", 20)))
	}
	return out
}

// gate is a Deliverer that accepts batches while open and blocks while
// closed; it records the attempts and, in order, the events accepted.
type gate struct {
	mu       sync.Mutex
	open     bool
	wake     chan struct{}
	attempts int
	ids      []string
	raw      map[string]string
	files    map[string]string
}

func newGate() *gate {
	return &gate{open: true, wake: make(chan struct{}), raw: make(map[string]string), files: make(map[string]string)}
}

func (g *gate) Deliver(ctx context.Context, batch []Event) error {
	g.mu.Lock()
	g.attempts++
	g.mu.Unlock()
	for {
		g.mu.Lock()
		if g.open {
			for _, id := range idsOf(batch) {
				g.ids = append(g.ids, id)
			}
			for i := range batch {
				g.raw[batch[i].ID] = string(batch[i].Record.Raw)
				g.files[batch[i].ID] = filepath.Base(batch[i].File)
			}
			g.mu.Unlock()
			return nil
		}
		w := g.wake
		g.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w:
		}
	}
}

func (g *gate) set(open bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open = open
	close(g.wake)
	g.wake = make(chan struct{})
}

func (g *gate) tries() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.attempts
}

// received is how many distinct ids the gate accepted: the number of
// lines lines returns, counted without building them.
func (g *gate) received() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.raw)
}

// lines returns the lines received, each once (the first time its id
// came), in the order they first came, and how many ids carried the same
// line more than once.
func (g *gate) lines() (lines []string, twice []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	seen := make(map[string]bool)
	byLine := make(map[string]int)
	for _, id := range g.ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		lines = append(lines, g.raw[id])
		if byLine[g.raw[id]]++; byLine[g.raw[id]] == 2 {
			twice = append(twice, g.raw[id]+" from "+g.files[id])
		}
	}
	return lines, twice
}

// gapRig runs Shippers of dir/app.log, one at a time, over one data dir,
// and logrotate over the file.
type gapRig struct {
	t         *testing.T
	logrotate string
	dir, data string
	conf      string
	state     string
	app       string
	gate      *gate
	cancel    context.CancelFunc
	done      chan error
}

func newGapRig(t *testing.T, mode string) *gapRig {
	t.Helper()
	logrotate := os.Getenv("MIGRATE_TEST_LOGROTATE")
	if logrotate == "" {
		t.Fatal("MIGRATE_TEST_LOGROTATE is not set: point it at Debian's logrotate binary (scripts/test does)")
	}
	base := t.TempDir()
	r := &gapRig{
		t: t, logrotate: logrotate, dir: filepath.Join(base, "logs"), data: filepath.Join(base, "data"),
		conf: filepath.Join(base, "logrotate.conf"), state: filepath.Join(base, "logrotate.state"), gate: newGate(),
	}
	r.app = filepath.Join(r.dir, "app.log")
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf("%s {\n\trotate 10\n\t%s\n\tnocompress\n\tmissingok\n}\n", r.app, mode)
	if err := os.WriteFile(r.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.stop)
	return r
}

// start runs a new Shipper on the rig's data dir.
func (r *gapRig) start() {
	r.t.Helper()
	sh, err := NewShipper(ShipperOptions{
		Source: SourceConfig{
			App: "shop", Side: "old", Paths: []string{r.app}, Format: "raw",
			Poll: 5 * time.Millisecond, Rescan: 10 * time.Millisecond, CloseAfter: 100 * time.Millisecond,
		},
		Sink:      NewSink(r.gate, SinkOptions{}),
		DataDir:   r.data,
		BatchSize: 2, BatchWait: 5 * time.Millisecond, DrainTimeout: 50 * time.Millisecond,
	})
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan error, 1)
	go func() { r.done <- sh.Run(ctx) }()
}

// stop stops the running Shipper, as a kill would: what the sink has not
// acknowledged is read again by the next one.
func (r *gapRig) stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	if err := <-r.done; err != nil {
		r.t.Errorf("shipper: %v", err)
	}
	r.cancel = nil
}

func (r *gapRig) rotate() {
	r.t.Helper()
	out, err := exec.Command(r.logrotate, "-f", "-s", r.state, r.conf).CombinedOutput()
	if err != nil {
		r.t.Fatalf("logrotate: %v\n%s", err, out)
	}
}

func (r *gapRig) write(path string, lines []string) {
	r.t.Helper()
	appendTo(r.t, path, strings.Join(lines, "\n")+"\n")
}

// waitFor waits until the sink holds n distinct lines; it fails when no
// new line arrived for stallAfter, showing the last lines that did.
func (r *gapRig) waitFor(n int) {
	r.t.Helper()
	arrived := false
	defer func() {
		if !arrived {
			l, _ := r.gate.lines()
			r.t.Logf("the sink holds %d lines, the last: %q", len(l), l[max(0, len(l)-5):])
		}
	}()
	waitProgress(r.t, fmt.Sprintf("%d lines at the sink", n), func() (int, bool) {
		got := r.gate.received()
		return got, got >= n
	})
	arrived = true
}

// blocked closes the gate, writes lines and waits until the shipper,
// having read them, is stuck on the sink (it holds more than two
// batches: one in Send, one queued, the reader waiting with the next).
func (r *gapRig) blocked(lines []string) {
	r.t.Helper()
	r.gate.set(false)
	before := r.gate.tries()
	r.write(r.app, lines)
	waitProgress(r.t, "the sink to be tried", func() (int, bool) { n := r.gate.tries(); return n, n > before })
}

func TestRotationGap(t *testing.T) {
	tests := []struct {
		name string
		mode string // logrotate's: copytruncate, create, nocreate
		// unordered: the generations may interleave, each in order.
		unordered bool
		// run drives the rig and returns the lines expected, in order.
		run func(r *gapRig) []string
	}{
		{
			name: "two copytruncates while the sink blocks",
			mode: "copytruncate",
			run: func(r *gapRig) []string {
				g1, g2, g3 := gapLines(1, 1, 3), gapLines(2, 1, 4), gapLines(3, 1, 3)
				r.write(r.app, g1)
				r.start()
				r.waitFor(3)
				more := gapLines(1, 4, 20)
				r.blocked(more)
				r.rotate()
				r.write(r.app, g2)
				r.rotate()
				r.write(r.app, g3)
				r.gate.set(true)
				return concat(g1, more, g2, g3)
			},
		},
		{
			name: "two create rotations while the shipper is stopped",
			mode: "create",
			run: func(r *gapRig) []string {
				g1, more, g2, g3 := gapLines(1, 1, 3), gapLines(1, 4, 9), gapLines(2, 1, 4), gapLines(3, 1, 3)
				r.write(r.app, g1)
				r.start()
				r.waitFor(3)
				r.blocked(more) // read, not acknowledged
				r.stop()
				r.rotate()
				r.write(r.app, g2)
				r.rotate()
				r.write(r.app, g3)
				r.gate.set(true)
				r.start()
				return concat(g1, more, g2, g3)
			},
		},
		{
			name: "two create rotations while the sink blocks, then a kill",
			mode: "create",
			// The file under the name at restart is read alongside the
			// generations rescued from their checkpoints (as
			// TestSourceResume pins): in order within each generation.
			unordered: true,
			run: func(r *gapRig) []string {
				g1, more, g2, g3 := gapLines(1, 1, 3), gapLines(1, 4, 9), gapLines(2, 1, 4), gapLines(3, 1, 3)
				r.write(r.app, g1)
				r.start()
				r.waitFor(3)
				r.blocked(more)
				r.rotate()
				r.write(r.app, g2)
				r.rotate()
				r.write(r.app, g3)
				r.stop()
				r.gate.set(true)
				r.start()
				return concat(g1, more, g2, g3)
			},
		},
		{
			name: "a file created, written and rotated away while the shipper is down",
			mode: "nocreate",
			run: func(r *gapRig) []string {
				g1, g2 := gapLines(1, 1, 3), gapLines(2, 1, 5)
				r.write(r.app, g1)
				r.start()
				r.waitFor(3)
				r.stop()
				r.rotate() // app.log.1, no app.log
				r.write(r.app, g2)
				r.rotate() // app.log.2 and app.log.1, no app.log
				if _, err := os.Stat(r.app); !os.IsNotExist(err) {
					r.t.Fatalf("app.log after logrotate nocreate: %v, want it gone", err)
				}
				r.start()
				return concat(g1, g2)
			},
		},
		{
			name: "first start with old rotated files: none shipped, then or later",
			mode: "copytruncate",
			run: func(r *gapRig) []string {
				r.write(r.app, []string{"old rotated just before the first start"})
				r.rotate() // app.log.1, and app.log empty
				// Written after app.log was, as by a writer that did not
				// reopen yet after a rename.
				fi, err := os.Stat(r.app)
				if err != nil {
					r.t.Fatal(err)
				}
				late := fi.ModTime().Add(time.Second)
				if err := os.Chtimes(filepath.Join(r.dir, "app.log.1"), late, late); err != nil {
					r.t.Fatal(err)
				}
				month := time.Now().Add(-30 * 24 * time.Hour)
				for _, name := range []string{"app.log.2.gz", "app.log-20260101", "app.log.3"} {
					p := filepath.Join(r.dir, name)
					r.write(p, []string{"old " + name})
					if err := os.Chtimes(p, month, month); err != nil {
						r.t.Fatal(err)
					}
				}
				r.start() // sees app.log empty: its first read
				r.stop()
				r.start() // with history now
				cur := gapLines(1, 1, 3)
				r.write(r.app, cur)
				r.waitFor(3)
				r.stop()
				r.start()
				later := gapLines(1, 4, 6)
				r.write(r.app, later)
				r.waitFor(6)
				r.rotate() // a truncation: the siblings are looked at
				g2 := gapLines(2, 1, 2)
				r.write(r.app, g2)
				return concat(cur, later, g2)
			},
		},
		{
			name: "unrelated files next to the tailed one, written while down, are never shipped",
			mode: "create",
			run: func(r *gapRig) []string {
				g1, g2 := gapLines(1, 1, 3), gapLines(2, 1, 3)
				r.write(r.app, g1)
				r.start()
				r.waitFor(3)
				r.stop()
				for _, name := range []string{"other.log", "app.log.bak.tmp", "app.logger", "app.log.1.tmp", "app.log.bak"} {
					r.write(filepath.Join(r.dir, name), []string{"unrelated " + name})
				}
				r.rotate()
				r.write(r.app, g2)
				r.start()
				r.waitFor(6)
				r.rotate() // a rotation while running: the siblings are looked at
				g3 := gapLines(3, 1, 2)
				r.write(r.app, g3)
				return concat(g1, g2, g3)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newGapRig(t, tt.mode)
			want := tt.run(r)
			r.waitFor(len(want))
			r.stop()
			got, twice := r.gate.lines()
			if tt.unordered {
				got, want = byGeneration(got), byGeneration(want)
			}
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("lines at the sink, each id once, in order (-got +want):\n%s", diff)
			}
			if len(twice) > 0 {
				t.Errorf("lines shipped under two ids: %q", twice)
			}
		})
	}
}

func concat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// A file read empty, then written, copied and truncated before the next
// read: the copy is a generation never seen, read before what follows.
func TestRotationGapBetweenReads(t *testing.T) {
	g := newGapRig(t, "copytruncate")
	appendTo(t, g.app, "")
	r := newSourceRig(t, g.dir, SourceConfig{Paths: []string{g.app}})
	r.step(0)
	g.write(g.app, []string{"x1", "x2"})
	g.rotate()
	g.write(g.app, []string{"y1"})
	r.step(time.Second)
	r.step(time.Second)
	want := []tailed{{Line: "x1", End: 3, File: "app.log.1"}, {Line: "x2", Off: 3, End: 6, File: "app.log.1"},
		{Line: "y1", End: 3, File: "app.log"}}
	if diff := cmp.Diff(r.take(), want); diff != "" {
		t.Errorf("events (-got +want):\n%s", diff)
	}
}

// byGeneration sorts lines by generation, keeping their order within
// each: a generation read out of order shows.
func byGeneration(lines []string) []string {
	out := slices.Clone(lines)
	slices.SortStableFunc(out, func(a, b string) int {
		return strings.Compare(a[:strings.Index(a+"-", "-")], b[:strings.Index(b+"-", "-")])
	})
	return out
}

// FuzzRotatedKind checks the naming rule on any names: a sibling starts
// with the tailed name and a separator, a compressed one ends with a
// compressor's extension, and a plain one's suffix is a rotation suffix.
func FuzzRotatedKind(f *testing.F) {
	f.Add("app.log", "app.log.1")
	f.Add("app.log", "app.log-20260101.gz")
	f.Add("app.log", "app.logger")
	f.Add("a", "a.-1")
	f.Fuzz(func(t *testing.T, base, name string) {
		kind := rotatedKind(base, name)
		if kind == notRotated {
			return
		}
		rest, ok := strings.CutPrefix(name, base)
		if !ok || rest == "" || rest[0] != '.' && rest[0] != '-' {
			t.Fatalf("rotatedKind(%q, %q) = %d for a name that is not the base and a separator", base, name, kind)
		}
		compressed := slices.ContainsFunc(compressedExts, func(ext string) bool { return strings.HasSuffix(rest, ext) })
		if kind == rotatedCompressed && !compressed {
			t.Fatalf("rotatedKind(%q, %q) = compressed without a compressor's extension", base, name)
		}
		if kind == rotatedPlain && !rotationSuffix(rest[1:]) {
			t.Fatalf("rotatedKind(%q, %q) = plain with suffix %q", base, name, rest[1:])
		}
	})
}
