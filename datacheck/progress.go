package datacheck

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// ProgressBar draws a Progress on one terminal line, with an ETA from the
// rate so far: for Options.Progress when the output is a terminal.
type ProgressBar struct {
	W     io.Writer
	Now   func() time.Time
	start time.Time
	table string
}

// Update redraws the bar.
func (b *ProgressBar) Update(p Progress) {
	now := b.Now()
	if p.Table != b.table {
		b.table, b.start = p.Table, now
	}
	const width = 30
	frac := 0.0
	if p.Chunks > 0 {
		frac = float64(p.ChunksDone) / float64(p.Chunks)
	}
	fill := int(frac * width)
	eta := "--:--"
	if el := now.Sub(b.start); frac > 0 {
		eta = fmtClock(time.Duration(float64(el) * (1 - frac) / frac))
	}
	fmt.Fprintf(b.W, "\r\x1b[K%s (%d/%d) [%s%s] %3.0f%% %d rows ETA %s", p.Table, p.Table1, p.Tables,
		strings.Repeat("#", fill), strings.Repeat(".", width-fill), frac*100, p.RowsDone, eta)
}

// Done clears the bar's line.
func (b *ProgressBar) Done() { fmt.Fprint(b.W, "\r\x1b[K") }

func fmtClock(d time.Duration) string {
	s := int(d.Round(time.Second).Seconds())
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
