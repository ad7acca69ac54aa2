package logship

// Rotated generations the shipper never saw.
//
// A tailed file dir/base can be rotated more than once while the shipper
// does not look at it: while it is down, or while it waits on a sink that
// does not acknowledge (it keeps rescanning then, but reads nothing, so a
// copytruncate goes unnoticed). The generations in between then live only
// in rotated siblings (base.1, base-20260101, ...) whose fingerprint no
// checkpoint knows, and neither the rescue at start (which looks for known
// generations) nor the copy search after a truncation (which looks for the
// generation being read) finds them.
//
// So the shipper remembers, per tailed path, the modification time the
// file had when it last read it (checkpoints.saw). When it finds a
// rotation or a truncation, and at start for every path with history, any
// uncompressed sibling whose modification time is not before that and
// whose content no checkpoint knows is a generation it missed: it is
// shipped from its start, oldest first, and the file now under the name is
// read after it. Its checkpoint then makes it known: it is never shipped
// twice.
//
// Both times compared are the file system's, never the shipper's clock.
// "Not before" rather than "after": timestamps are coarse (a copy often
// has the very time of the truncation that follows it), and a generation
// made in the same tick as the last read must not be lost. The price is
// that a copy whose checkpoint was pruned (24h unseen) while the tailed
// file stayed untouched since its rotation may be shipped again, with the
// same ids, which sinks drop.
//
// At the first sight of a path (no history: a first start, or checkpoints
// written by an older shipper) the remembered time is set past its
// siblings, so that files rotated before the shipper first saw the path
// (last month's app.log.1) are never shipped.

import (
	"context"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxSiblings bounds how many rotated siblings of one path are considered
// at a time: the newest ones; the others are logged and skipped.
const maxSiblings = 20

// siblingKind is what a name in a tailed file's directory is to it.
type siblingKind int

const (
	notRotated        siblingKind = iota
	rotatedPlain                  // base.1, base-20260101: read
	rotatedCompressed             // base.2.gz: never read
)

// compressedExts are the compressors' suffixes logrotate may add.
var compressedExts = []string{".gz", ".bz2", ".xz", ".zst", ".lz4"}

// rotatedKind tells whether name is a rotated sibling of the file base:
// base, then "." or "-", then a rotation suffix (logrotate's count, or
// its dateext form), then perhaps a compressor's extension.
func rotatedKind(base, name string) siblingKind {
	rest, ok := strings.CutPrefix(name, base)
	if !ok || len(rest) < 2 || (rest[0] != '.' && rest[0] != '-') {
		return notRotated
	}
	rest, kind := rest[1:], rotatedPlain
	for _, ext := range compressedExts {
		if r, ok := strings.CutSuffix(rest, ext); ok {
			rest, kind = r, rotatedCompressed
			break
		}
	}
	if !rotationSuffix(rest) {
		return notRotated
	}
	return kind
}

// rotationSuffix reports whether s is logrotate's count (digits) or a
// dateext suffix: digits separated by single "-" or "_" (%Y%m%d,
// %Y-%m-%d, %Y%m%d-%s, %Y%m%d%H, ...).
func rotationSuffix(s string) bool {
	if s == "" || !isDigit(s[0]) || !isDigit(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isDigit(c) && c != '-' && c != '_' {
			return false
		}
		if !isDigit(c) && !isDigit(s[i-1]) {
			return false
		}
	}
	return true
}

// olderName orders siblings of the same modification time: a higher
// count is older (base.2 before base.1); dates, and anything else, in
// name order (base-20260101 before base-20260102).
func olderName(a, b string) bool {
	na, ea := strconv.Atoi(suffixOf(a))
	nb, eb := strconv.Atoi(suffixOf(b))
	if ea == nil && eb == nil && len(suffixOf(a)) < 6 && len(suffixOf(b)) < 6 {
		return na > nb
	}
	return a < b
}

// suffixOf is what follows a name's last "." or "-".
func suffixOf(name string) string {
	return name[strings.LastIndexAny(name, ".-")+1:]
}

// sibling is a rotated sibling of a tailed file.
type sibling struct {
	path  string
	id    fileID
	mtime time.Time
	fp    fingerprint
}

// siblings lists the rotated siblings of path (compressed ones included
// when withCompressed) modified not before since, oldest first. ReadDir
// errors leave the list empty: the directory is tried again next time.
func (s *source) siblings(path string, since time.Time, withCompressed bool) []sibling {
	dir, base := filepath.Dir(path), filepath.Base(path)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []sibling
	for _, e := range ents {
		kind := rotatedKind(base, e.Name())
		if kind == notRotated || kind == rotatedCompressed && !withCompressed {
			continue
		}
		p := filepath.Join(dir, e.Name())
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() || fi.ModTime().Before(since) {
			continue
		}
		out = append(out, sibling{path: p, id: fileIDOf(fi), mtime: fi.ModTime()})
	}
	slices.SortFunc(out, func(a, b sibling) int {
		if c := a.mtime.Compare(b.mtime); c != 0 {
			return c
		}
		if olderName(a.path, b.path) {
			return -1
		}
		return 1
	})
	return out
}

// firstSight returns the time to remember for a path seen for the first
// time with modification time mtime: past its rotated siblings, so that
// none of them is ever taken for a missed generation.
func (s *source) firstSight(path string, mtime time.Time) time.Time {
	for _, sib := range s.siblings(path, mtime, true) {
		if !sib.mtime.Before(mtime) {
			mtime = sib.mtime.Add(time.Nanosecond)
		}
	}
	return mtime
}

// missed returns the rotated siblings of path written since the shipper
// last read it that hold a generation no checkpoint knows and that are
// not open, oldest first, at most maxSiblings (the newest).
func (s *source) missed(path string) []sibling {
	since, ok := s.cps.lastSeen(path)
	if !ok {
		return nil
	}
	cands := s.siblings(path, since, false)
	if n := len(cands) - maxSiblings; n > 0 {
		s.log.Warn("logship: too many rotated files since the last read, the oldest skipped",
			"app", s.cfg.App, "side", s.cfg.Side, "path", path, "skipped", n, "oldest_kept", cands[n].path)
		cands = cands[n:]
	}
	lens := s.cps.lens()
	out := cands[:0]
	for _, c := range cands {
		if s.files[c.id] != nil || s.skip[c.id] {
			continue
		}
		if fp, ok := s.unknownGeneration(c.path, lens); ok {
			c.fp = fp
			out = append(out, c)
		}
	}
	return out
}

// unknownGeneration fingerprints the file at path and reports whether it
// has content and no checkpoint knows it: its first n bytes match no
// known fingerprint of length n (a generation first read shorter than
// FingerprintSize keeps that shorter fingerprint).
func (s *source) unknownGeneration(path string, lens []int) (fingerprint, bool) {
	f, err := os.Open(path)
	if err != nil {
		return fingerprint{}, false
	}
	defer f.Close()
	buf := s.fpbuf[:FingerprintSize]
	got, err := f.ReadAt(buf, 0)
	if got == 0 || err != nil && err != io.EOF {
		return fingerprint{}, false
	}
	h := fnv.New64a()
	done := 0
	for _, n := range lens {
		if n > got {
			break
		}
		h.Write(buf[done:n])
		done = n
		if _, ok := s.cps.get(fingerprint{Sum: h.Sum64(), Len: n}); ok {
			return fingerprint{}, false
		}
	}
	h.Write(buf[done:got])
	fp := fingerprint{Sum: h.Sum64(), Len: got}
	if s.gens[fp.key()] != nil {
		return fingerprint{}, false
	}
	return fp, true
}

// catchUp opens the generations of path it missed (see missed), each read
// after the one before it, the first after those of after; cur, the file
// now under path (nil: none), is read after them all. It returns the
// files opened.
func (s *source) catchUp(ctx context.Context, path string, cur *tailFile, after []*tailFile) ([]*tailFile, error) {
	var opened []*tailFile
	waits := after
	for _, sib := range s.missed(path) {
		s.log.Info("logship: shipping a rotated file never read", "app", s.cfg.App, "side", s.cfg.Side,
			"path", sib.path, "tailed", path)
		if err := s.open(ctx, sib.path, sib.id, false, &checkpoint{FP: sib.fp}); err != nil {
			return opened, err
		}
		tf := s.files[sib.id]
		if tf == nil {
			continue // could not be opened: logged
		}
		tf.waits = slices.Clone(waits)
		waits = []*tailFile{tf}
		opened = append(opened, tf)
	}
	if cur != nil && len(opened) > 0 {
		cur.waits = append(cur.waits, opened...)
		s.moveBefore(opened, cur)
	}
	if len(opened) > 0 {
		s.more = true // read them at the next poll, without waiting for its tick
	}
	return opened, nil
}

// moveBefore moves the files tfs, just opened (at the end of the open
// order), before cur, so that a poll reads them before it.
func (s *source) moveBefore(tfs []*tailFile, cur *tailFile) {
	i := slices.Index(s.order, cur)
	if i < 0 {
		return
	}
	rest := slices.DeleteFunc(s.order[i:], func(o *tailFile) bool { return slices.Contains(tfs, o) })
	s.order = slices.Concat(s.order[:i], tfs, rest)
}

// current returns the open file under path that is not rotated away.
func (s *source) current(path string) *tailFile {
	for _, tf := range s.order {
		if tf.path == path && !tf.orphan {
			return tf
		}
	}
	return nil
}

// globbed reports whether a glob of the source matches path.
func (s *source) globbed(path string) bool {
	for _, pat := range s.cfg.Paths {
		if ok, _ := filepath.Match(pat, path); ok {
			return true
		}
	}
	return false
}

// catchUpAll catches up, at start, on every path with history, after the
// generations rescued.
func (s *source) catchUpAll(ctx context.Context, rescued []*tailFile) error {
	for _, path := range s.cps.tailedPaths() {
		if !s.globbed(path) {
			continue
		}
		if _, err := s.catchUp(ctx, path, s.current(path), rescued); err != nil {
			return err
		}
	}
	return nil
}

// waiting reports whether tf must wait for a generation before it that
// is still being read; those read to their end, or closed, are dropped.
func (s *source) waiting(tf *tailFile) bool {
	for len(tf.waits) > 0 {
		o := tf.waits[0]
		if s.files[o.id] == o && !o.drained {
			return true
		}
		tf.waits = tf.waits[1:]
	}
	tf.waits = nil
	return false
}

// saw remembers that tf, under its tailed name, was read with the
// modification time in fi: the threshold of missed.
func (s *source) saw(tf *tailFile, fi os.FileInfo) {
	m := fi.ModTime()
	if tf.orphan || (m.Equal(tf.sawMTime) && tf.sawPath == tf.path) {
		return
	}
	tf.sawMTime, tf.sawPath = m, tf.path
	if _, ok := s.cps.lastSeen(tf.path); !ok {
		m = s.firstSight(tf.path, m)
	}
	s.cps.saw(tf.path, m, s.clock.Now())
}
