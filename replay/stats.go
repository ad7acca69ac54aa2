package replay

import (
	"fmt"
	"io"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/migratekit/migrate/compare"
)

// Stats counts what a replay did with the lines of its log.
type Stats struct {
	// Lines is the lines read.
	Lines int `json:"lines"`
	// Replayed is the requests sent to the sides (every outcome below).
	Replayed int `json:"replayed"`
	// Outcomes counts the replayed requests by outcome: match, diff and
	// noise for compared pairs, shadow_error and shadow_timeout when the
	// candidate gave no answer, skipped_stream for event streams.
	Outcomes map[compare.Outcome]int `json:"outcomes"`
	// Skipped is the requests not replayed for their method
	// (skipped_unsafe).
	Skipped int `json:"skipped_unsafe"`
	// Unparseable is the lines that hold no request replay could read;
	// BadLines names the first MaxBadLines of them.
	Unparseable int       `json:"unparseable"`
	BadLines    []BadLine `json:"bad_lines,omitempty"`
	// StoreFailures counts examples the store failed to keep.
	StoreFailures int `json:"store_failures,omitempty"`
	// Elapsed is how long the replay took.
	Elapsed time.Duration `json:"elapsed"`
}

// BadLine is an unparseable line of the log.
type BadLine struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// String summarises s in one line.
func (s Stats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d lines: %d replayed (%d differ), %d skipped (method not replayed), %d unparseable",
		s.Lines, s.Replayed, s.Outcomes[compare.OutcomeDiff], s.Skipped, s.Unparseable)
	if len(s.BadLines) > 0 {
		b.WriteString(" (")
		for i, l := range s.BadLines {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "line %d: %s", l.Line, l.Reason)
		}
		if s.Unparseable > len(s.BadLines) {
			b.WriteString(", ...")
		}
		b.WriteString(")")
	}
	if s.Elapsed > 0 {
		fmt.Fprintf(&b, " in %s", s.Elapsed.Round(time.Millisecond))
	}
	return b.String()
}

// counter gathers Stats from the feeder and the workers.
type counter struct {
	mu sync.Mutex
	s  Stats
}

func (c *counter) line() {
	c.mu.Lock()
	c.s.Lines++
	c.mu.Unlock()
}

func (c *counter) bad(line int, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.Unparseable++
	if len(c.s.BadLines) < MaxBadLines {
		c.s.BadLines = append(c.s.BadLines, BadLine{Line: line, Reason: reason})
	}
}

func (c *counter) skipped() {
	c.mu.Lock()
	c.s.Skipped++
	c.mu.Unlock()
}

func (c *counter) outcome(o compare.Outcome) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.s.Outcomes == nil {
		c.s.Outcomes = make(map[compare.Outcome]int)
	}
	c.s.Replayed++
	c.s.Outcomes[o]++
}

func (c *counter) storeFailed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.StoreFailures++
	return c.s.StoreFailures
}

// snapshot is a copy of the counts so far.
func (c *counter) snapshot(elapsed time.Duration) Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.s
	s.Outcomes = maps.Clone(s.Outcomes)
	s.BadLines = append([]BadLine(nil), s.BadLines...)
	s.Elapsed = elapsed
	return s
}

// report writes a progress line every r.every until stop is closed.
func (r *replayer) report(stop <-chan struct{}) {
	tick := r.clock.NewTicker(r.every)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.Chan():
			writeProgress(r.progress, r.stats.snapshot(r.clock.Since(r.start)))
		}
	}
}

func writeProgress(w io.Writer, s Stats) {
	perSec := 0.0
	if secs := s.Elapsed.Seconds(); secs > 0 {
		perSec = float64(s.Replayed) / secs
	}
	fmt.Fprintf(w, "replay: %d lines, %d replayed (%d differ), %d skipped, %d unparseable, %.1f req/s\n",
		s.Lines, s.Replayed, s.Outcomes[compare.OutcomeDiff], s.Skipped, s.Unparseable, perSec)
}
