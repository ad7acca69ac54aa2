package logship

import (
	"bytes"
	"context"
	"os"
	"time"
)

// tailFile is one open file. Offsets are exact: read is how far the file
// was read, start where the line being assembled in pending begins.
// Nothing here is a checkpoint: those move only when the sink acknowledges.
type tailFile struct {
	f    *os.File
	id   fileID
	path string
	// gen is the content generation; Len 0 until the file has content.
	gen         fingerprint
	read, start int64
	// pending is a last line waiting for its newline, since pendingSince.
	pending      []byte
	pendingSince time.Time
	// splitting is set once a part of the current line went out split.
	splitting bool
	// cuts are where, before a restart, last lines were shipped without
	// their newline: they are cut there again.
	cuts []int64
	// lastSize is the size at the previous poll, grew when it last grew.
	lastSize int64
	grew     time.Time
	// orphan is set once the globs no longer match the file (renamed
	// away, deleted): it is drained, then closed.
	orphan  bool
	fromEnd bool
	// waits are generations read before tf: tf is not read until each is
	// read to its end (drained) or closed. Set for the file under a tailed
	// name behind the rotated generations it missed (rotated.go).
	waits   []*tailFile
	drained bool
	// sawMTime and sawPath are what saw last recorded, to skip the same.
	sawMTime time.Time
	sawPath  string
}

// maxIdlePending is the capacity above which a drained pending buffer is
// released rather than kept, so that idle files hold little memory.
const maxIdlePending = 4 << 10

// pollAll reads what every open file has gained.
// Files are read in the order they were opened, so that a rotated file is
// drained before its successor is read.
func (s *source) pollAll(ctx context.Context) error {
	defer s.countLines()
	s.more = false
	s.scratch = append(s.scratch[:0], s.order...)
	for _, tf := range s.scratch {
		if s.files[tf.id] != tf {
			continue // closed meanwhile
		}
		if err := s.poll(ctx, tf); err != nil {
			return err
		}
	}
	return nil
}

// poll reads what tf gained since the last poll; detects truncation
// (smaller than what was read, or another fingerprint: truncated then
// refilled past the old size); flushes a pending line past the flush
// timeout; closes an orphan drained and idle for CloseAfter.
func (s *source) poll(ctx context.Context, tf *tailFile) error {
	fi, err := tf.f.Stat()
	if err != nil {
		return nil
	}
	size, now := fi.Size(), s.clock.Now()
	s.now = now
	if size != tf.lastSize {
		tf.grew = now
	}
	if tf.gen.Len == 0 {
		if size > 0 && !tf.orphan { // read empty before: rotations may have come and gone since
			if _, err := s.catchUp(ctx, tf.path, tf, nil); err != nil {
				return err
			}
		}
		if err := s.identify(ctx, tf); err != nil || tf.gen.Len == 0 {
			if err == nil && s.files[tf.id] == tf {
				s.saw(tf, fi) // empty
			}
			return err
		}
	}
	if s.files[tf.id] != tf { // identify closed a copy
		return nil
	}
	if size < tf.read || (size != tf.lastSize && !s.sameGeneration(tf)) {
		if err := s.truncated(ctx, tf); err != nil {
			return err
		}
		return nil
	}
	s.saw(tf, fi)
	tf.lastSize = size
	if s.waiting(tf) {
		return nil
	}
	if err := s.readTo(ctx, tf, size); err != nil {
		return err
	}
	tf.drained = tf.read >= size
	if len(tf.pending) > 0 && tf.read == size && (now.Sub(tf.pendingSince) >= s.cfg.FlushTimeout || tf.orphan && now.Sub(tf.grew) >= s.cfg.CloseAfter) {
		if err := s.flushPending(ctx, tf); err != nil {
			return err
		}
	}
	if tf.orphan && tf.read == size && len(tf.pending) == 0 && now.Sub(tf.grew) >= s.cfg.CloseAfter {
		s.close(tf)
	}
	return nil
}

// countLines hands the lines and bytes shipped since the last call to
// the metrics, once a poll rather than once a line.
func (s *source) countLines() {
	s.met.Lines(s.lines, s.bytes)
	s.lines, s.bytes = 0, 0
}

// sameGeneration reports whether tf still starts with its fingerprint.
func (s *source) sameGeneration(tf *tailFile) bool {
	fp, err := readFingerprint(tf.f, tf.gen.Len, s.fpbuf)
	return err != nil || fp == tf.gen
}

// truncated handles a file cut back (copytruncate, truncate, or refilled
// with other content): the rest of the old generation is read from its
// copy when one is in the globs' directories (logrotate's copytruncate),
// else a pending partial line is flushed; the generations rotated since
// the last read and never seen are caught up on (rotated.go); then the
// file is read from its start as a new generation, after them.
func (s *source) truncated(ctx context.Context, tf *tailFile) error {
	s.met.Truncation()
	s.log.Info("logship: file truncated", "app", s.cfg.App, "side", s.cfg.Side, "path", tf.path, "read", tf.read)
	old := *tf
	delete(s.gens, tf.gen.key())
	var before []*tailFile
	if path, id, ok := s.find(old.gen, old.read, fileID{}); ok {
		if f, err := os.Open(path); err == nil {
			cp := old
			cp.f, cp.id, cp.path, cp.orphan, cp.grew = f, id, path, true, s.clock.Now()
			cp.waits, cp.drained = nil, false
			cp.pending = append([]byte(nil), old.pending...)
			before = append(before, &cp)
			tf.waits = append(tf.waits, &cp)
			s.files[id] = &cp
			s.order = append(s.order, &cp)
			s.gens[old.gen.key()] = &cp
			s.cps.register(old.gen, id, path, old.read, s.clock.Now())
			tf.pending = tf.pending[:0]
			if err := s.poll(ctx, &cp); err != nil { // the old generation first
				return err
			}
		}
	}
	if len(tf.pending) > 0 {
		if err := s.flushPending(ctx, tf); err != nil {
			return err
		}
	}
	if !tf.orphan {
		if _, err := s.catchUp(ctx, tf.path, tf, before); err != nil {
			return err
		}
	}
	tf.gen, tf.read, tf.start, tf.lastSize, tf.splitting, tf.fromEnd = fingerprint{}, 0, 0, 0, false, false
	tf.pending = nil
	return s.identify(ctx, tf)
}

// maxReadPerPoll bounds what one poll reads from one file, so that a
// busy file lets the others, and the rescans, have their turn.
const maxReadPerPoll = 4 << 20

// readTo reads tf up to size, in chunks of the shared buffer, at most
// maxReadPerPoll.
func (s *source) readTo(ctx context.Context, tf *tailFile, size int64) error {
	if size > tf.read+maxReadPerPoll {
		size, s.more = tf.read+maxReadPerPoll, true
	}
	for first := true; tf.read < size; first = false {
		if !first && s.cutMeanwhile(tf) {
			return nil // the next poll finds the cut and reads the rest from the copy
		}
		want := min(int64(len(s.buf)), size-tf.read)
		n, _ := tf.f.ReadAt(s.buf[:want], tf.read)
		if n == 0 {
			return nil
		}
		if err := s.consume(ctx, tf, s.buf[:n]); err != nil {
			return err
		}
	}
	return nil
}

// cutMeanwhile reports whether tf was truncated or refilled since poll
// looked at it. consume may have waited for the sink for long, during
// which a copytruncate can have cut the file and the writer refilled it
// past the offset reached: reading on would take the new content for the
// rest of the old generation, losing the old lines and mixing the line
// cut in two.
func (s *source) cutMeanwhile(tf *tailFile) bool {
	fi, err := tf.f.Stat()
	return err == nil && (fi.Size() < tf.read || !s.sameGeneration(tf))
}

// consume cuts data, read at tf.read, into lines.
func (s *source) consume(ctx context.Context, tf *tailFile, data []byte) error {
	for len(data) > 0 {
		limit := len(data)
		for len(tf.cuts) > 0 && tf.cuts[0] <= tf.read {
			tf.cuts = tf.cuts[1:]
		}
		if len(tf.cuts) > 0 && tf.cuts[0]-tf.read < int64(limit) {
			limit = int(tf.cuts[0] - tf.read)
		}
		i := bytes.IndexByte(data[:limit], '\n')
		if i < 0 {
			tf.read += int64(limit)
			if err := s.hold(ctx, tf, data[:limit]); err != nil {
				return err
			}
			data = data[limit:]
			if len(tf.cuts) > 0 && tf.cuts[0] == tf.read && len(tf.pending) > 0 {
				if err := s.ship(ctx, tf); err != nil {
					return err
				}
			}
			continue
		}
		line := data[:i+1]
		data = data[i+1:]
		tf.read += int64(len(line))
		if len(tf.pending) > 0 {
			tf.pending = append(tf.pending, line...)
			line = tf.pending
		}
		if err := s.line(ctx, tf, line); err != nil {
			return err
		}
		tf.start = tf.read
		s.releasePending(tf)
	}
	return nil
}

// hold keeps a partial last line, shipping parts of MaxLine bytes when it
// grows past that.
func (s *source) hold(ctx context.Context, tf *tailFile, data []byte) error {
	if len(tf.pending) == 0 {
		tf.pendingSince = s.clock.Now()
	}
	tf.pending = append(tf.pending, data...)
	for len(tf.pending) > s.cfg.MaxLine {
		part := tf.pending[:s.cfg.MaxLine]
		if !tf.splitting {
			s.met.SplitLine()
		}
		tf.splitting = true
		if err := s.send(ctx, tf, tf.start, tf.start+int64(len(part)), part, true, false); err != nil {
			return err
		}
		tf.start += int64(len(part))
		tf.pending = append(tf.pending[:0], tf.pending[len(part):]...)
	}
	return nil
}

// line ships one line ending in its newline, which starts at tf.start,
// in parts when it is longer than MaxLine.
func (s *source) line(ctx context.Context, tf *tailFile, line []byte) error {
	off := tf.start
	content := len(line) - 1
	if content > s.cfg.MaxLine && !tf.splitting {
		s.met.SplitLine()
		tf.splitting = true
	}
	for content > s.cfg.MaxLine {
		if err := s.send(ctx, tf, off, off+int64(s.cfg.MaxLine), line[:s.cfg.MaxLine], true, false); err != nil {
			return err
		}
		off += int64(s.cfg.MaxLine)
		line = line[s.cfg.MaxLine:]
		content -= s.cfg.MaxLine
	}
	split := tf.splitting
	tf.splitting = false
	return s.send(ctx, tf, off, off+int64(len(line)), line, split, false)
}

// flushPending ships the pending partial line as it is, Unterminated. The
// rest of the line, when its newline comes, is shipped from where this
// part ends, so nothing is shipped twice.
func (s *source) flushPending(ctx context.Context, tf *tailFile) error {
	s.met.Unterminated()
	s.cps.cut(tf.gen, tf.read)
	return s.ship(ctx, tf)
}

// ship sends the pending partial line, Unterminated.
func (s *source) ship(ctx context.Context, tf *tailFile) error {
	split := tf.splitting
	tf.splitting = false
	err := s.send(ctx, tf, tf.start, tf.read, tf.pending, split, true)
	tf.start = tf.read
	tf.pending = tf.pending[:0]
	s.releasePending(tf)
	return err
}

func (s *source) releasePending(tf *tailFile) {
	if len(tf.pending) == 0 && cap(tf.pending) > maxIdlePending {
		tf.pending = nil
	} else {
		tf.pending = tf.pending[:0]
	}
}

// send parses the bytes [off, end) of tf and emits them as an event,
// whose Record still points into the read buffer: emit copies it.
func (s *source) send(ctx context.Context, tf *tailFile, off, end int64, line []byte, split, unterminated bool) error {
	ev := &s.ev // reused: a new Event each line would escape to the heap
	if err := s.parser.Parse(line, &s.rec); err != nil {
		s.met.ParseError(s.rec.ParseError)
	}
	ev.Record = s.rec // still the parser's and the read buffer's: the emitter copies it
	ev.ID = eventID(tf.gen, off)
	ev.Time = s.rec.Time
	if ev.Time.IsZero() {
		ev.Time = s.now // when the file was polled: one clock read a poll
	}
	ev.App, ev.Side, ev.Host, ev.File = s.cfg.App, s.cfg.Side, s.cfg.Host, tf.path
	ev.Offset, ev.End = off, end
	ev.Split, ev.Unterminated = split, unterminated
	s.lines++
	s.bytes += len(line)
	return s.emit(ctx, ev, tf.gen)
}
