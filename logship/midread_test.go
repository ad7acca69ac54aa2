package logship

import (
	"fmt"
	"strings"
	"testing"
)

// bigGeneration is n lines of generation gen, about 40 bytes each.
func bigGeneration(gen, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("g%d-%06d %s", gen, i, strings.Repeat("y", 28))
	}
	return out
}

// TestCopytruncateMidRead: the shipper is blocked on the sink in the
// middle of reading a file larger than one read (256 KiB), and meanwhile
// logrotate copies and truncates the file and the writer refills it past
// the offset reached. The reader must not go on reading the new content
// as if it were the rest of the old: the rest of generation 1 comes from
// its copy, generation 2 from its start, and no line is mixed, lost or
// shipped twice.
func TestCopytruncateMidRead(t *testing.T) {
	r := newGapRig(t, "copytruncate")
	// A seed line first, so that generation 1's lines are not at the same
	// offsets as generation 2's: a line cut at a read and completed from
	// the other generation shows.
	gen1 := append([]string{"seed line"}, bigGeneration(1, 9000)...) // 342 KB: two reads
	gen2 := bigGeneration(2, 10000)                                  // 380 KB, past the offset reached
	// Written whole before the shipper starts: a poll during the write
	// could see less than one read of it, and the cut would then be found
	// by the next poll, between two reads rather than in the middle of one.
	r.write(r.app, gen1)
	r.gate.set(false)
	r.start()
	waitProgress(t, "the sink to be tried", func() (int, bool) { n := r.gate.tries(); return n, n > 0 })
	r.rotate()
	r.write(r.app, gen2)
	r.gate.set(true)

	want := concat(gen1, gen2)
	r.waitFor(len(want))
	got, twice := r.gate.lines()
	if len(twice) > 0 {
		t.Errorf("%d lines shipped under two ids, first %q", len(twice), twice[0])
	}
	wantSet := make(map[string]bool, len(want))
	for _, l := range want {
		wantSet[l] = true
	}
	var stray []string
	gotSet := make(map[string]bool, len(got))
	for _, l := range got {
		gotSet[l] = true
		if !wantSet[l] {
			stray = append(stray, l)
		}
	}
	if len(stray) > 0 {
		t.Errorf("%d lines that were never written (mixed or cut), first %q", len(stray), stray[0])
	}
	var missing int
	for _, l := range want {
		if !gotSet[l] {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d of the %d lines written never arrived", missing, len(want))
	}
}
