package logship

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzSourceCut writes data in two pieces, with a poll between them and
// a flush timeout after, and checks that the events tile the file exactly:
// each starts where the previous ended, none is longer than max_line plus
// its line end, and each one's Raw is its bytes without the line end.
// scripts/test: fuzztime 5000x
func FuzzSourceCut(f *testing.F) {
	f.Add([]byte("a\nbb\nccc\n"), uint8(2), uint16(3))
	f.Add([]byte("partial line\r\nand more"), uint8(4), uint16(7))
	f.Add([]byte("\n\n\xff\xfe\x00\n0123456789abcdef"), uint8(1), uint16(0))
	f.Fuzz(func(t *testing.T, data []byte, maxLine uint8, at uint16) {
		if len(data) == 0 || len(data) > 4<<10 { // long inputs only slow the fuzzer (max_line is at most 64)
			return
		}
		cut := int(at) % (len(data) + 1)
		dir := t.TempDir()
		r := newSourceRig(t, dir, SourceConfig{MaxLine: int(maxLine%64) + 1, FlushTimeout: time.Second})
		path := filepath.Join(dir, "app.log")
		if err := os.WriteFile(path, data[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		r.step(0)
		appendTo(t, path, string(data[cut:]))
		r.step(0)
		r.step(2 * time.Second) // flushes a last line without newline
		var end int64
		for _, ev := range r.evs {
			if ev.Offset != end {
				t.Fatalf("event at %d, want %d (the previous end)", ev.Offset, end)
			}
			seg := data[ev.Offset:ev.End]
			content := bytes.TrimSuffix(seg, []byte("\n"))
			if len(content) > r.src.cfg.MaxLine {
				t.Fatalf("event [%d,%d) of %d bytes, max_line %d", ev.Offset, ev.End, len(content), r.src.cfg.MaxLine)
			}
			if want := bytes.TrimSuffix(content, []byte("\r")); !bytes.Equal(ev.Record.Raw, want) {
				t.Fatalf("event [%d,%d): raw %q, want %q", ev.Offset, ev.End, ev.Record.Raw, want)
			}
			end = ev.End
		}
		if end != int64(len(data)) {
			t.Fatalf("events end at %d, want %d", end, len(data))
		}
	})
}
