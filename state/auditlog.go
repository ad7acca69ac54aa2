package state

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// AuditLogFile is the audit log's name in the data dir: one JSON Event per
// line, appended and fsynced one event at a time, never rewritten.
const AuditLogFile = "events.log"

// auditLog appends events to the audit log. Each line goes out in a single
// write followed by an fsync, so a crash leaves at most the last line torn;
// the next open cuts that line (its event was never acknowledged). Several
// processes may append to one log (O_APPEND).
type auditLog struct {
	mu   sync.Mutex
	f    *os.File
	path string
	torn bool // a write failed part way: start the next line afresh
}

func openAuditLog(dir string) (*auditLog, error) {
	path := filepath.Join(dir, AuditLogFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening audit log: %w", err)
	}
	if err := cutTornTail(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("opening audit log %s: %w", path, err)
	}
	return &auditLog{f: f, path: path}, nil
}

// cutTornTail truncates f after its last newline.
func cutTornTail(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	keep, err := wholeLines(f, fi.Size())
	if err != nil {
		return err
	}
	return truncate(f, fi.Size(), keep)
}

// wholeLines returns the length of the first size bytes of r up to and
// including their last newline, reading backwards a block at a time.
func wholeLines(r io.ReaderAt, size int64) (int64, error) {
	buf := make([]byte, 4096)
	for pos := size; pos > 0; {
		n := min(int64(len(buf)), pos)
		pos -= n
		if _, err := r.ReadAt(buf[:n], pos); err != nil {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return pos + int64(i) + 1, nil
		}
	}
	return 0, nil
}

func truncate(f *os.File, size, to int64) error {
	if size == to {
		return nil
	}
	if err := f.Truncate(to); err != nil {
		return err
	}
	return f.Sync()
}

// write appends e as one line and syncs it to disk.
func (l *auditLog) write(e Event) error {
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("writing audit log %s: %w", l.path, err)
	}
	line = append(line, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.torn {
		line = append([]byte{'\n'}, line...)
	}
	if _, err := l.f.Write(line); err != nil {
		l.torn = true
		return fmt.Errorf("writing audit log %s: %w", l.path, err)
	}
	l.torn = false
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("syncing audit log %s: %w", l.path, err)
	}
	return nil
}

func (l *auditLog) close() error {
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("closing audit log %s: %w", l.path, err)
	}
	return nil
}

// maxAuditLine bounds one line of the audit log when reading it back.
const maxAuditLine = 1 << 20

// ReadAuditLog reads the events of an audit log (events.log), in the order
// they were written. It returns every event it could read and, when some
// lines were not events (left by a failed write), an error naming them.
func ReadAuditLog(r io.Reader) ([]Event, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxAuditLine)
	var out []Event
	var errs []error
	for n := 1; sc.Scan(); n++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var e Event
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil || e.Kind == "" {
			errs = append(errs, fmt.Errorf("line %d: not an event", n))
			continue
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("reading audit log: %w", errors.Join(errs...))
	}
	return out, nil
}
