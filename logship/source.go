package logship

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/migratekit/migrate/telemetry"
)

// SourceConfig is the files of one side of an app (manifest logs.old or
// logs.new) and how they are read.
type SourceConfig struct {
	App, Side, Host string
	// Paths are globs, re-scanned every Rescan for new files.
	Paths []string
	// Format and LogFormat choose the Parser (see New); Template maps a
	// request path to its endpoint template.
	Format, LogFormat string
	Template          func(path string) string
	// MaxLine is the longest line shipped whole (default DefaultMaxLine);
	// longer ones are shipped in parts, each marked Split.
	MaxLine int
	// FlushTimeout is how long a last line without its newline waits
	// before it is shipped as it is, marked Unterminated (default
	// DefaultFlushTimeout).
	FlushTimeout time.Duration
	// ReadFrom is where a file present at start and never seen before is
	// read from: "beginning" (default) or "end". Files that appear later
	// are always read from their beginning.
	ReadFrom string
	// Poll is how often open files are read (default 100ms), Rescan how
	// often the globs are (default 1s).
	Poll, Rescan time.Duration
	// CloseAfter is how long a file renamed away or deleted stays open
	// once read to its end, for a writer that has not reopened yet
	// (default 5s).
	CloseAfter time.Duration
}

func (c *SourceConfig) setDefaults() {
	if c.MaxLine <= 0 {
		c.MaxLine = DefaultMaxLine
	}
	if c.FlushTimeout <= 0 {
		c.FlushTimeout = DefaultFlushTimeout
	}
	if c.ReadFrom == "" {
		c.ReadFrom = DefaultReadFrom
	}
	if c.Poll <= 0 {
		c.Poll = 100 * time.Millisecond
	}
	if c.Rescan <= 0 {
		c.Rescan = time.Second
	}
	if c.CloseAfter <= 0 {
		c.CloseAfter = 5 * time.Second
	}
}

// emitFunc hands one event of generation gen on; it blocks while the
// pipeline is full and returns ctx's error when ctx ends. The event's
// Record points into buffers reused for the next line: emit copies what
// it keeps.
type emitFunc func(ctx context.Context, ev *Event, gen fingerprint) error

// source tails the files of one side. It is run by one goroutine: no
// goroutine per file, one read buffer for all of them.
type source struct {
	cfg    SourceConfig
	parser Parser
	cps    *checkpoints
	clock  clockwork.Clock
	log    *slog.Logger
	met    *telemetry.Logship
	emit   emitFunc

	files map[fileID]*tailFile
	// order are the open files in the order they were opened; scratch
	// is pollAll's copy of it.
	order, scratch []*tailFile
	// more is set by pollAll when a file has more to read than one poll
	// reads: the next poll comes at once.
	more bool
	gens map[string]*tailFile // open generations by fingerprint key
	// skip are files not tailed: copies of an open generation.
	skip map[fileID]bool
	// unreadable are paths that could not be opened, logged once.
	unreadable map[string]bool
	scanned    bool

	buf   []byte
	fpbuf []byte
	rec   Record
	ev    Event     // the event being emitted
	now   time.Time // when the file being read was polled
	// lines and bytes shipped, not yet counted in the metrics.
	lines, bytes int
}

func newSource(cfg SourceConfig, cps *checkpoints, clock clockwork.Clock, log *slog.Logger, met *telemetry.Logship, emit emitFunc) (*source, error) {
	cfg.setDefaults()
	p, err := New(cfg.Format, Options{LogFormat: cfg.LogFormat, Template: cfg.Template})
	if err != nil {
		return nil, fmt.Errorf("creating source of %s/%s: %w", cfg.App, cfg.Side, err)
	}
	for _, pat := range cfg.Paths {
		if _, err := filepath.Match(pat, ""); err != nil {
			return nil, fmt.Errorf("checking path %q of %s/%s: %w", pat, cfg.App, cfg.Side, err)
		}
	}
	return &source{
		cfg: cfg, parser: p, cps: cps, clock: clock, log: log, met: met, emit: emit,
		files: make(map[fileID]*tailFile), gens: make(map[string]*tailFile),
		skip: make(map[fileID]bool), unreadable: make(map[string]bool),
		buf: make([]byte, 256<<10), fpbuf: make([]byte, FingerprintSize),
	}, nil
}

// matches returns the files the globs match now, sorted.
func (s *source) matches() []string {
	set := make(map[string]bool)
	for _, pat := range s.cfg.Paths {
		m, _ := filepath.Glob(pat) // patterns were checked
		for _, p := range m {
			set[p] = true
		}
	}
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// scan opens the files the globs match that are not open yet, and marks
// the open files the globs no longer match (renamed away, deleted) to be
// drained and closed.
func (s *source) scan(ctx context.Context) error {
	first := !s.scanned
	s.scanned = true
	seen := make(map[fileID]bool)
	for _, path := range s.matches() {
		fi, err := os.Stat(path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.cannotRead(path, err) // a symlink loop, a path it may not see
		}
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		id := fileIDOf(fi)
		seen[id] = true
		if tf := s.files[id]; tf != nil {
			tf.path, tf.orphan = path, false
			continue
		}
		if s.skip[id] {
			continue
		}
		if err := s.open(ctx, path, id, first, nil); err != nil {
			return err
		}
	}
	for id := range s.skip {
		if !seen[id] {
			delete(s.skip, id)
		}
	}
	now := s.clock.Now()
	var rotated []string
	for id, tf := range s.files {
		if !seen[id] && !tf.orphan {
			tf.orphan, tf.grew = true, now
			s.met.Rotation()
			rotated = append(rotated, tf.path)
		}
	}
	s.touchTailed(now)
	if first {
		return s.rescueAll(ctx)
	}
	slices.Sort(rotated)
	for _, path := range slices.Compact(rotated) {
		if _, err := s.catchUp(ctx, path, s.current(path), nil); err != nil {
			return err
		}
	}
	s.reportLag()
	return nil
}

// touchTailed marks the paths of the files open under their tailed names
// as seen, so that their history is not pruned.
func (s *source) touchTailed(now time.Time) {
	paths := make([]string, 0, len(s.order))
	for _, tf := range s.order {
		if !tf.orphan {
			paths = append(paths, tf.path)
		}
	}
	s.cps.touchPaths(paths, now)
}

// open starts tailing path: a file found by the globs, or, with gen, a
// file found to hold that generation, drained from its checkpoint.
func (s *source) open(ctx context.Context, path string, id fileID, first bool, gen *checkpoint) error {
	f, err := os.Open(path)
	if err != nil {
		s.cannotRead(path, err)
		return nil
	}
	delete(s.unreadable, path)
	tf := &tailFile{f: f, id: id, path: path, fromEnd: first && s.cfg.ReadFrom == "end", grew: s.clock.Now()}
	s.files[id] = tf
	s.order = append(s.order, tf)
	if gen == nil {
		return s.identify(ctx, tf)
	}
	tf.orphan = true
	tf.gen, tf.read, tf.start, tf.cuts = gen.FP, gen.Offset, gen.Offset, gen.Cuts
	s.gens[gen.FP.key()] = tf
	s.cps.register(gen.FP, id, path, gen.Offset, s.clock.Now())
	return nil
}

// identify fingerprints a file that has content, and sets where its
// reading starts: its checkpoint, else its beginning (or end). A file
// whose fingerprint is a generation open under another inode is a copy:
// it is closed and skipped.
func (s *source) identify(ctx context.Context, tf *tailFile) error {
	fi, err := tf.f.Stat()
	if err != nil || fi.Size() == 0 {
		tf.fromEnd = false // what comes next is new
		return nil
	}
	fp, err := readFingerprint(tf.f, FingerprintSize, s.fpbuf)
	if err != nil || fp.Len == 0 {
		return nil
	}
	if other := s.gens[fp.key()]; other != nil && other != tf {
		s.close(tf)
		s.skip[tf.id] = true
		return nil
	}
	start := int64(0)
	if cp, ok := s.known(tf, fi.Size()); ok {
		fp, start, tf.cuts = cp.FP, cp.Offset, cp.Cuts
	} else if cp, ok := s.cps.get(fp); ok && cp.Offset <= fi.Size() {
		start, tf.cuts = cp.Offset, cp.Cuts // a copy of a known generation
	} else if tf.fromEnd {
		start = fi.Size()
	}
	tf.gen, tf.read, tf.start = fp, start, start
	s.gens[fp.key()] = tf
	s.cps.register(fp, tf.id, tf.path, start, s.clock.Now())
	return nil
}

// cannotRead counts and logs, once per path, a file that cannot be read;
// it is tried again at every scan.
func (s *source) cannotRead(path string, err error) {
	if s.unreadable[path] {
		return
	}
	if len(s.unreadable) > 10000 { // bound the memory of a glob of junk
		clear(s.unreadable)
	}
	s.unreadable[path] = true
	s.met.Unreadable()
	s.log.Warn("logship: cannot read file", "app", s.cfg.App, "side", s.cfg.Side, "path", path, "err", err)
}

// known returns the checkpoint of the generation tf holds, found by its
// inode and checked against its fingerprint: a generation keeps the
// fingerprint of the length it had when first read.
func (s *source) known(tf *tailFile, size int64) (checkpoint, bool) {
	for _, cp := range s.cps.at(tf.id) {
		if cp.Offset > size || int64(cp.FP.Len) > size || s.gens[cp.FP.key()] != nil {
			continue
		}
		if fp, err := readFingerprint(tf.f, cp.FP.Len, s.fpbuf); err == nil && fp == cp.FP {
			return cp, true
		}
	}
	return checkpoint{}, false
}

// close stops tailing tf.
func (s *source) close(tf *tailFile) {
	tf.f.Close()
	delete(s.files, tf.id)
	s.order = slices.DeleteFunc(s.order, func(o *tailFile) bool { return o == tf })
	if tf.gen.Len > 0 && s.gens[tf.gen.key()] == tf {
		delete(s.gens, tf.gen.key())
	}
}

// closeAll closes every file, on the way out.
func (s *source) closeAll() {
	for _, tf := range s.files {
		tf.f.Close()
	}
	clear(s.files)
	clear(s.gens)
	s.order = nil
}

// dirs are the directories the globs look in, where rotated copies and
// renamed files of a generation are searched for.
func (s *source) dirs() []string {
	set := make(map[string]bool)
	for _, pat := range s.cfg.Paths {
		dir := filepath.Dir(pat)
		if !strings.ContainsAny(dir, `*?[\`) {
			set[dir] = true
			continue
		}
		m, _ := filepath.Glob(dir)
		for _, d := range m {
			set[d] = true
		}
	}
	out := make([]string, 0, len(set))
	for d := range set {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

// rescueAll drains, at start, the generations whose checkpoint is behind
// and that are no longer under a globbed name: a file rotated away while
// the shipper was down still holds their undelivered lines. They are read
// oldest first (by modification time), each after the one before; then
// the generations never seen are caught up on, after them.
func (s *source) rescueAll(ctx context.Context) error {
	var found []rescue
	taken := make(map[fileID]bool)
	for _, cp := range s.cps.all() {
		if s.gens[cp.FP.key()] != nil {
			continue
		}
		path, id, ok := s.find(cp.FP, cp.Offset, fileID{Dev: cp.Dev, Ino: cp.Ino})
		if !ok || taken[id] {
			continue
		}
		taken[id] = true
		var mtime time.Time
		if fi, err := os.Stat(path); err == nil {
			mtime = fi.ModTime()
		}
		found = append(found, rescue{cp: cp, path: path, id: id, mtime: mtime})
	}
	slices.SortFunc(found, func(a, b rescue) int {
		if c := a.mtime.Compare(b.mtime); c != 0 {
			return c
		}
		if olderName(a.path, b.path) {
			return -1
		}
		return 1
	})
	var opened []*tailFile
	for _, r := range found {
		s.log.Info("logship: draining rotated file", "app", s.cfg.App, "side", s.cfg.Side, "path", r.path, "from", r.cp.Offset)
		if err := s.open(ctx, r.path, r.id, false, &r.cp); err != nil {
			return err
		}
		if tf := s.files[r.id]; tf != nil {
			tf.waits = slices.Clone(opened[max(len(opened)-1, 0):])
			opened = append(opened, tf)
		}
	}
	return s.catchUpAll(ctx, opened[max(len(opened)-1, 0):])
}

// rescue is a checkpointed generation found in a rotated file at start.
type rescue struct {
	cp    checkpoint
	path  string
	id    fileID
	mtime time.Time
}

// find looks in the globs' directories for a file of generation fp longer
// than after that is not open, the one at prefer first.
func (s *source) find(fp fingerprint, after int64, prefer fileID) (string, fileID, bool) {
	type cand struct {
		path string
		id   fileID
	}
	var cands []cand
	for _, dir := range s.dirs() {
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			path := filepath.Join(dir, e.Name())
			fi, err := os.Stat(path)
			if err != nil || !fi.Mode().IsRegular() || fi.Size() <= after || fi.Size() < int64(fp.Len) {
				continue
			}
			id := fileIDOf(fi)
			if s.files[id] != nil {
				continue
			}
			if id == prefer {
				cands = append([]cand{{path, id}}, cands...)
			} else {
				cands = append(cands, cand{path, id})
			}
		}
	}
	for _, c := range cands {
		if s.hasGeneration(c.path, fp) {
			return c.path, c.id, true
		}
	}
	return "", fileID{}, false
}

// hasGeneration reports whether path starts with generation fp.
func (s *source) hasGeneration(path string, fp fingerprint) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	got, err := readFingerprint(f, fp.Len, s.fpbuf)
	return err == nil && got == fp
}

// reportLag sets the checkpoint lag: bytes read but not yet acknowledged.
func (s *source) reportLag() {
	var lag int64
	for _, tf := range s.files {
		if tf.gen.Len == 0 {
			continue
		}
		if cp, ok := s.cps.get(tf.gen); ok && tf.read > cp.Offset {
			lag += tf.read - cp.Offset
		}
	}
	s.met.CheckpointLag(lag)
}
