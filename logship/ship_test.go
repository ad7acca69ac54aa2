package logship

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
)

// TestShipperCheckpointCadence pins when the sender saves what the sink
// acknowledged, on a fake clock: at once when the last save is
// CheckpointInterval old, else together when it becomes so, without
// waiting for another batch. A crash so sends again only the batch in
// flight and what was acknowledged within the last interval (the
// correctness harness checks, through real kills, that a restart sends
// nothing again from before the checkpoint saved).
func TestShipperCheckpointCadence(t *testing.T) {
	clock := clockwork.NewFakeClock()
	dir := t.TempDir()
	sink := &cadenceSink{t: t, path: checkpointPath(dir, "shop", "old"), fp: fingerprint{Sum: 42, Len: 8}, sent: make(chan int64)}
	sh, err := NewShipper(ShipperOptions{
		Source: SourceConfig{App: "shop", Side: "old", Format: "raw"},
		Sink:   sink, DataDir: dir, CheckpointInterval: 100 * time.Millisecond, Clock: clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	sh.cps.register(sink.fp, fileID{Dev: 1, Ino: 2}, "/l/app.log", 0, clock.Now())
	done := make(chan error, 1)
	go func() { done <- sh.deliver(t.Context()) }()
	defer func() {
		close(sh.out)
		if err := <-done; err != nil {
			t.Errorf("deliver: %v", err)
		}
	}()
	// push hands the sender a batch acknowledging up to end; it waits
	// while the sender has one ready already.
	push := func(end int64) { sh.out <- &batch{ends: map[fingerprint]int64{sink.fp: end}} }
	// waitTimer waits until the sender waits for the interval to pass.
	waitTimer := func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), stallAfter)
		defer cancel()
		if err := clock.BlockUntilContext(ctx, 1); err != nil {
			t.Fatalf("the sender did not wait for the checkpoint interval: %v", err)
		}
	}
	waitSaved := func(want int64) {
		t.Helper()
		waitProgress(t, fmt.Sprintf("the checkpoint saved at %d", want), func() (int, bool) { got := sink.saved(); return int(got), got == want })
	}

	push(10)
	if got := sink.next(); got != 0 {
		t.Errorf("the first batch went with checkpoint %d, want 0", got)
	}
	waitTimer()
	if got := sink.saved(); got != 0 {
		t.Errorf("acknowledged right after a save: checkpoint %d, want 0 until the interval passes", got)
	}
	clock.Advance(100 * time.Millisecond)
	waitSaved(10) // the interval passed: saved without another batch

	// Each batch acknowledged 150ms after the last save, with the next
	// one ready: the save comes first, every time.
	clock.Advance(150 * time.Millisecond)
	push(20)
	prev := int64(10)
	for end := int64(30); end <= 80; end += 10 {
		push(end) // ready once the sender took end-10
		clock.Advance(150 * time.Millisecond)
		if got := sink.next(); got != prev {
			t.Errorf("batch to %d went with checkpoint %d, want %d: acknowledged after the interval, it is saved before the next batch goes", end-10, got, prev)
		}
		prev = end - 10
	}
	if got := sink.next(); got != 70 {
		t.Errorf("batch to 80 went with checkpoint %d, want 70", got)
	}
	// 80 acknowledged right after the save of 70: not saved until the
	// interval passes, and 90 goes without it.
	waitTimer()
	if got := sink.saved(); got != 70 {
		t.Errorf("acknowledged right after a save: checkpoint %d, want 70 until the interval passes", got)
	}
	push(90)
	if got := sink.next(); got != 70 {
		t.Errorf("batch to 90 went with checkpoint %d, want 70 (80 not saved yet)", got)
	}
	waitTimer() // a new one: the sender stopped the last before it sent 90
	clock.Advance(100 * time.Millisecond)
	waitSaved(90) // two acknowledgements of one interval, saved together
}

// cadenceSink acknowledges every batch, and tells for each what its
// generation's checkpoint on disk was when it came.
type cadenceSink struct {
	t    *testing.T
	path string
	fp   fingerprint
	sent chan int64
}

func (s *cadenceSink) Send(context.Context, []Event) error {
	s.sent <- s.saved()
	return nil
}

func (s *cadenceSink) Close() error { return nil }

// next is the checkpoint on disk when the next batch came.
func (s *cadenceSink) next() int64 {
	s.t.Helper()
	select {
	case off := <-s.sent:
		return off
	case <-time.After(stallAfter):
		s.t.Fatalf("no batch at the sink after %v", stallAfter)
		return 0
	}
}

// saved is the generation's checkpoint on disk; 0 without one.
func (s *cadenceSink) saved() int64 {
	c, err := loadCheckpoints(s.path)
	if err != nil {
		s.t.Errorf("loading the checkpoints: %v", err)
		return 0
	}
	for _, cp := range c.all() {
		if cp.FP == s.fp {
			return cp.Offset
		}
	}
	return 0
}
