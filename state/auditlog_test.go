package state

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestAuditLogCutsTornTail(t *testing.T) {
	at := time.UnixMilli(1_700_000_000_000).UTC()
	line := `{"id":"1","at":"2023-11-14T22:13:20Z","kind":"weight"}` + "\n"
	old := Event{ID: "1", At: at, Kind: KindWeight}
	added := Event{ID: "2", At: at, Kind: KindRollback, Reason: "after the crash"}
	tests := []struct {
		name    string
		content string // the file as a crash left it
		want    []Event
	}{
		{"no file", "", []Event{added}},
		{"whole lines", line, []Event{old, added}},
		{"torn last line", line + `{"id":"2","at":"2023-11-`, []Event{old, added}},
		{"only a torn line", `{"id":"1","at"`, []Event{added}},
		{"torn line longer than a read", line + `{"reason":"` + strings.Repeat("x", 10000), []Event{old, added}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.content != "" {
				writeFile(t, dir, AuditLogFile, tt.content)
			}
			l, err := openAuditLog(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer l.close()
			if err := l.write(added); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(readAuditFile(t, dir), tt.want); diff != "" {
				t.Errorf("audit log (-got +want):\n%s", diff)
			}
		})
	}
}

// TestAuditLogAfterFailedWrite: a write that failed part way leaves a
// partial line; the next event still gets a line of its own.
func TestAuditLogAfterFailedWrite(t *testing.T) {
	dir := t.TempDir()
	l, err := openAuditLog(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	e := Event{ID: "1", At: time.UnixMilli(1_700_000_000_000).UTC(), Kind: KindWeight}
	if err := l.write(e); err != nil {
		t.Fatal(err)
	}
	// What a short write leaves, and the flag write sets on an error.
	f, err := os.OpenFile(filepath.Join(dir, AuditLogFile), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"id":"2","at`)
	f.Close()
	l.torn = true
	e2 := Event{ID: "3", At: e.At, Kind: KindRollback}
	if err := l.write(e2); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, AuditLogFile))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadAuditLog(strings.NewReader(string(b)))
	if err == nil || !strings.Contains(err.Error(), "line 2: not an event") {
		t.Errorf("ReadAuditLog() error = %v, want line 2 reported", err)
	}
	if diff := cmp.Diff(got, []Event{e, e2}); diff != "" {
		t.Errorf("events (-got +want):\n%s", diff)
	}
}

func TestReadAuditLog(t *testing.T) {
	at := time.UnixMilli(1_700_000_000_000).UTC()
	ev := func(id string) string { return `{"id":"` + id + `","at":"2023-11-14T22:13:20Z","kind":"weight"}` }
	want := func(ids ...string) []Event {
		var out []Event
		for _, id := range ids {
			out = append(out, Event{ID: id, At: at, Kind: KindWeight})
		}
		return out
	}
	tests := []struct {
		name    string
		in      string
		want    []Event
		wantErr string
	}{
		{"empty", "", nil, ""},
		{"lines", ev("1") + "\n" + ev("2") + "\n", want("1", "2"), ""},
		{"no final newline", ev("1"), want("1"), ""},
		{"blank lines", "\n" + ev("1") + "\n\n", want("1"), ""},
		{"garbage in the middle", ev("1") + "\nnot json\n" + ev("2") + "\n", want("1", "2"), "line 2: not an event"},
		{"unknown field", `{"kind":"weight","who":"me"}` + "\n", nil, "line 1: not an event"},
		{"no kind", `{"id":"1"}` + "\n" + ev("2"), want("2"), "line 1: not an event"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadAuditLog(strings.NewReader(tt.in))
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("ReadAuditLog() error = %v, want %q", err, tt.wantErr)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("events (-got +want):\n%s", diff)
			}
		})
	}
}
