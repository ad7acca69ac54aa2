package logship

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// DeadLetterPath is where the dead-letter file of an app's side lives in
// the data dir.
func DeadLetterPath(dataDir, app, side string) string {
	return filepath.Join(dataDir, "logship", "deadletter-"+app+"-"+side+".jsonl")
}

// DeadLetter is the file of events a receiver refused for good: JSON
// lines {"time": when, "reason": the receiver's reason, "event": the
// event as AppendEvent writes it}, appended and fsynced before Write
// returns, so that a refused event is never lost. The file and its
// directory are created on the first write.
type DeadLetter struct {
	path string

	mu  sync.Mutex
	f   *os.File
	buf []byte
}

// NewDeadLetter returns the dead-letter file at path; it opens nothing
// yet.
func NewDeadLetter(path string) *DeadLetter {
	return &DeadLetter{path: path}
}

// Path returns the file's path.
func (d *DeadLetter) Path() string { return d.path }

// Write appends one line per event of evs with its reason (reasons[i],
// or reasons[0] for all when it has one element) and the time now, then
// fsyncs the file.
func (d *DeadLetter) Write(now time.Time, evs []Event, reasons []string) error {
	if len(evs) == 0 {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.open(); err != nil {
		return err
	}
	d.buf = d.buf[:0]
	for i := range evs {
		reason := reasons[0]
		if len(reasons) > 1 {
			reason = reasons[i]
		}
		d.buf = encDeadLetter(d.buf, now, reason, &evs[i])
	}
	if _, err := d.f.Write(d.buf); err != nil {
		return fmt.Errorf("writing dead-letter file %s: %w", d.path, err)
	}
	if err := d.f.Sync(); err != nil {
		return fmt.Errorf("syncing dead-letter file %s: %w", d.path, err)
	}
	return nil
}

func encDeadLetter(dst []byte, now time.Time, reason string, e *Event) []byte {
	dst = encKey(dst, '{', "time")
	dst = append(dst, '"')
	dst = now.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, '"')
	dst = encKey(dst, ',', "reason")
	dst = encString(dst, reason)
	dst = encKey(dst, ',', "event")
	dst = AppendEvent(dst, e)
	return append(dst, '}', '\n')
}

// open opens the file for appending, creating it and its directory, and
// fsyncs the directory when the file is new.
func (d *DeadLetter) open() error {
	if d.f != nil {
		return nil
	}
	f, err := sinkOpenAppend(d.path)
	if err != nil {
		return fmt.Errorf("opening dead-letter file: %w", err)
	}
	d.f = f
	return nil
}

// Close closes the file.
func (d *DeadLetter) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		return nil
	}
	err := d.f.Close()
	d.f = nil
	return err
}

// sinkOpenAppend opens path for appending, creating it and its directory;
// when it creates the file it fsyncs the directory so that the file's
// name survives a crash.
func sinkOpenAppend(path string) (*os.File, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("creating directory %s: %w", dir, err)
	}
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	if os.IsNotExist(statErr) {
		if err := sinkSyncDir(dir); err != nil {
			f.Close()
			return nil, err
		}
	}
	return f, nil
}

func sinkSyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}
