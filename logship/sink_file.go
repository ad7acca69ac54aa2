package logship

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
)

// fileDeliverer appends events as JSON lines (AppendEvent) to a file and
// fsyncs it before Deliver returns. A failed write is cut off again, so
// that a retry does not leave half a line in the file.
type fileDeliverer struct {
	path string
	f    *os.File
	size int64
	buf  []byte
}

// NewFileDeliverer returns a Deliverer that appends to the file at path,
// creating it and its directory.
func NewFileDeliverer(path string) (Deliverer, error) {
	f, err := sinkOpenAppend(path)
	if err != nil {
		return nil, fmt.Errorf("creating file sink: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("creating file sink: %w", err)
	}
	return &fileDeliverer{path: path, f: f, size: fi.Size()}, nil
}

// Deliver implements Deliverer.
func (d *fileDeliverer) Deliver(_ context.Context, batch []Event) error {
	d.buf = appendLines(d.buf[:0], batch)
	n, err := d.f.Write(d.buf)
	if err == nil {
		err = d.f.Sync()
	}
	if err != nil {
		if n > 0 {
			_ = d.f.Truncate(d.size) // best effort: the retry appends the whole batch again
		}
		return fmt.Errorf("writing file sink %s: %w", d.path, err)
	}
	d.size += int64(n)
	return nil
}

// Close implements io.Closer.
func (d *fileDeliverer) Close() error { return d.f.Close() }

// writerDeliverer writes events as JSON lines to a writer (stdout).
type writerDeliverer struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

// NewWriterDeliverer returns a Deliverer that writes events as JSON lines
// to w, one Write per batch: the stdout sink.
func NewWriterDeliverer(w io.Writer) Deliverer {
	return &writerDeliverer{w: w}
}

// Deliver implements Deliverer.
func (d *writerDeliverer) Deliver(_ context.Context, batch []Event) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.buf = appendLines(d.buf[:0], batch)
	if _, err := d.w.Write(d.buf); err != nil {
		return fmt.Errorf("writing log events: %w", err)
	}
	return nil
}

// appendLines appends one JSON line per event.
func appendLines(dst []byte, batch []Event) []byte {
	for i := range batch {
		dst = append(AppendEvent(dst, &batch[i]), '\n')
	}
	return dst
}
