package logship

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"
)

// checkpoint is how far one generation of a file has been delivered.
type checkpoint struct {
	// FP is the generation's fingerprint, its identity.
	FP fingerprint `json:"fp"`
	// Dev and Ino are where it was last seen, Path under which name.
	Dev  uint64 `json:"dev"`
	Ino  uint64 `json:"ino"`
	Path string `json:"path"`
	// Offset is the highest End whose events, and all before it, the sink
	// acknowledged: where a restart resumes. Never the read offset.
	Offset int64 `json:"offset"`
	// Cuts are where last lines past Offset were shipped without their
	// newline (flush_timeout), so that a restart cuts them at the same
	// place and their ids do not change.
	Cuts []int64 `json:"cuts,omitempty"`
	// Seen is the last time the file was open; an entry not seen for the
	// prune age is dropped.
	Seen time.Time `json:"seen"`
}

// tailedPath is what the shipper remembers of a path its globs match,
// across generations: when it last looked at the file under that name.
type tailedPath struct {
	Path string `json:"path"`
	// MTime is the file's modification time when the shipper last read
	// it under Path (the file system's clock, as the rotated siblings'
	// times it is compared with: see rotated.go).
	MTime time.Time `json:"mtime"`
	// Seen is when the path was last matched (the shipper's clock); an
	// entry not seen for the prune age is dropped. Updated in memory
	// only: it is saved with the next change.
	Seen time.Time `json:"seen"`
}

// checkpointFile is the file format: a version, the entries, and the
// tailed paths. Tailed was added within version 1: a file without it (an
// older shipper's) loads with no path history, and an older shipper
// ignores it.
type checkpointFile struct {
	Version int          `json:"version"`
	Files   []checkpoint `json:"files"`
	Tailed  []tailedPath `json:"tailed,omitempty"`
}

// checkpoints are the checkpoints of one shipper, kept in one file of the
// data dir. Safe for concurrent use: the reader registers generations,
// the sender acknowledges and saves.
type checkpoints struct {
	path   string
	saveMu sync.Mutex

	mu      sync.Mutex
	entries map[string]*checkpoint
	tailed  map[string]*tailedPath
	dirty   bool
	// fresh is set when a generation was registered since the last save:
	// its fingerprint must be on disk before any of its events is sent,
	// so that a restart gives its lines the same ids.
	fresh bool
}

// checkpointPath is the checkpoint file of an app's side in dataDir.
func checkpointPath(dataDir, app, side string) string {
	return filepath.Join(dataDir, "logship", app+"."+side+".checkpoints.json")
}

// loadCheckpoints reads path; a missing file is an empty set.
func loadCheckpoints(path string) (*checkpoints, error) {
	c := &checkpoints{path: path, entries: make(map[string]*checkpoint), tailed: make(map[string]*tailedPath)}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading checkpoints: %w", err)
	}
	var f checkpointFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("decoding checkpoints %s: %w", path, err)
	}
	for i := range f.Files {
		cp := f.Files[i]
		cp.Cuts = slices.Clone(cp.Cuts)
		c.entries[cp.FP.key()] = &cp
	}
	for i := range f.Tailed {
		tp := f.Tailed[i]
		c.tailed[tp.Path] = &tp
	}
	return c, nil
}

// get returns a copy of the generation's checkpoint.
func (c *checkpoints) get(fp fingerprint) (checkpoint, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cp, ok := c.entries[fp.key()]
	if !ok {
		return checkpoint{}, false
	}
	out := *cp
	out.Cuts = slices.Clone(cp.Cuts)
	return out, true
}

// at returns a copy of the checkpoints last seen at id.
func (c *checkpoints) at(id fileID) []checkpoint {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []checkpoint
	for _, cp := range c.entries {
		if cp.Dev == id.Dev && cp.Ino == id.Ino {
			cc := *cp
			cc.Cuts = slices.Clone(cp.Cuts)
			out = append(out, cc)
		}
	}
	return out
}

// all returns a copy of every checkpoint.
func (c *checkpoints) all() []checkpoint {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]checkpoint, 0, len(c.entries))
	for _, cp := range c.entries {
		out = append(out, *cp)
	}
	return out
}

// register records a generation seen for the first time, starting at
// offset (0, or the file's size for read_from end), or updates where an
// known one lives now.
func (c *checkpoints) register(fp fingerprint, id fileID, path string, offset int64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cp, ok := c.entries[fp.key()]
	if !ok {
		c.entries[fp.key()] = &checkpoint{FP: fp, Dev: id.Dev, Ino: id.Ino, Path: path, Offset: offset, Seen: now}
		c.fresh, c.dirty = true, true
		return
	}
	if cp.Dev != id.Dev || cp.Ino != id.Ino || cp.Path != path {
		cp.Dev, cp.Ino, cp.Path = id.Dev, id.Ino, path
		c.dirty = true
	}
}

// ack moves a generation's checkpoint to end, never backwards.
func (c *checkpoints) ack(fp fingerprint, end int64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cp, ok := c.entries[fp.key()]
	if !ok || end <= cp.Offset {
		return
	}
	cp.Offset, cp.Seen = end, now
	for len(cp.Cuts) > 0 && cp.Cuts[0] <= end {
		cp.Cuts = cp.Cuts[1:]
	}
	c.dirty = true
}

// cut records that the generation's bytes up to at went out without their
// newline; it must be saved before they are sent.
func (c *checkpoints) cut(fp fingerprint, at int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cp, ok := c.entries[fp.key()]; ok {
		cp.Cuts = append(cp.Cuts, at)
		c.fresh, c.dirty = true, true
	}
}

// touch marks the generations open now as seen.
func (c *checkpoints) touch(fps []fingerprint, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, fp := range fps {
		if cp, ok := c.entries[fp.key()]; ok {
			cp.Seen = now
		}
	}
	c.dirty = c.dirty || len(fps) > 0
}

// prune drops the entries, and the tailed paths, not seen since before.
func (c *checkpoints) prune(before time.Time) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for k, cp := range c.entries {
		if cp.Seen.Before(before) {
			delete(c.entries, k)
			n++
		}
	}
	for k, tp := range c.tailed {
		if tp.Seen.Before(before) {
			delete(c.tailed, k)
			n++
		}
	}
	if n > 0 {
		c.dirty = true
	}
	return n
}

// lens returns the lengths of the known fingerprints, ascending.
func (c *checkpoints) lens() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	set := make(map[int]bool)
	for _, cp := range c.entries {
		set[cp.FP.Len] = true
	}
	out := make([]int, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// lastSeen returns the modification time path had when the shipper last
// read it; false when the shipper has no history of path.
func (c *checkpoints) lastSeen(path string) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	tp, ok := c.tailed[path]
	if !ok {
		return time.Time{}, false
	}
	return tp.MTime, true
}

// saw records that the file under path was read with modification time
// mtime. The time only moves forward.
func (c *checkpoints) saw(path string, mtime, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	tp, ok := c.tailed[path]
	if !ok {
		c.tailed[path] = &tailedPath{Path: path, MTime: mtime, Seen: now}
		c.dirty = true
		return
	}
	tp.Seen = now
	if mtime.After(tp.MTime) {
		tp.MTime = mtime
		c.dirty = true
	}
}

// touchPaths marks the tailed paths matched now as seen, in memory.
func (c *checkpoints) touchPaths(paths []string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range paths {
		if tp, ok := c.tailed[p]; ok {
			tp.Seen = now
		}
	}
}

// tailedPaths returns the paths with history, sorted.
func (c *checkpoints) tailedPaths() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.tailed))
	for p := range c.tailed {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// needsSave reports whether a fresh generation waits to be saved.
func (c *checkpoints) needsSave() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fresh
}

// save writes the checkpoints atomically when they changed: to a
// temporary file, fsynced, renamed over the old one, and the directory
// fsynced, so that a crash leaves the old file or the new one.
func (c *checkpoints) save() error {
	c.saveMu.Lock() // the reader and the sender both save: one at a time, in order
	defer c.saveMu.Unlock()
	c.mu.Lock()
	if !c.dirty {
		c.mu.Unlock()
		return nil
	}
	f := checkpointFile{Version: 1, Files: make([]checkpoint, 0, len(c.entries))}
	for _, cp := range c.entries {
		cc := *cp
		cc.Cuts = slices.Clone(cp.Cuts)
		f.Files = append(f.Files, cc)
	}
	for _, tp := range c.tailed {
		f.Tailed = append(f.Tailed, *tp)
	}
	c.dirty, c.fresh = false, false
	c.mu.Unlock()
	sort.Slice(f.Files, func(i, j int) bool { return f.Files[i].Path+f.Files[i].FP.key() < f.Files[j].Path+f.Files[j].FP.key() })
	sort.Slice(f.Tailed, func(i, j int) bool { return f.Tailed[i].Path < f.Tailed[j].Path })
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding checkpoints: %w", err)
	}
	if err := writeAtomic(c.path, data); err != nil {
		c.mu.Lock()
		c.dirty = true
		c.mu.Unlock()
		return err
	}
	return nil
}

// writeAtomic replaces path with data: write a temporary file, fsync,
// rename, fsync the directory.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating checkpoint dir: %w", err)
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("creating checkpoint file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing checkpoint file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("syncing checkpoint file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("closing checkpoint file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("renaming checkpoint file: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening checkpoint dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing checkpoint dir: %w", err)
	}
	return nil
}
