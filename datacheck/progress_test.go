package datacheck

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestProgressBar: the bar shows the share of chunks done and an ETA from
// the rate so far, restarting its clock for each table.
func TestProgressBar(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	var b bytes.Buffer
	bar := &ProgressBar{W: &b, Now: func() time.Time { return now }}
	bar.Update(Progress{Table: "users", Table1: 1, Tables: 2, Chunks: 4})
	now = now.Add(30 * time.Second)
	b.Reset()
	bar.Update(Progress{Table: "users", Table1: 1, Tables: 2, ChunksDone: 1, Chunks: 4, RowsDone: 100})
	if got := b.String(); !strings.Contains(got, "users (1/2) [#######.......................]  25% 100 rows ETA 1:30") {
		t.Errorf("bar %q", got)
	}
	b.Reset()
	bar.Update(Progress{Table: "orders", Table1: 2, Tables: 2, Chunks: 2})
	if got := b.String(); !strings.Contains(got, "0% 0 rows ETA --:--") {
		t.Errorf("a new table's bar %q", got)
	}
}
