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
	r.write(r.app, []string{"seed line"})
	r.start()
	r.waitFor(1)

	gen1, gen2 := bigGeneration(1, 9000), bigGeneration(2, 10000) // 342 KB, 380 KB: two reads each
	r.blocked(gen1)
	r.rotate()
	r.write(r.app, gen2)
	r.gate.set(true)

	want := append(append([]string{"seed line"}, gen1...), gen2...)
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
