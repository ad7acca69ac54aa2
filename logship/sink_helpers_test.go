package logship

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
)

// sinkEvents returns n events of one file, with ids e0, e1, ...
func sinkEvents(n int) []Event {
	evs := make([]Event, n)
	for i := range evs {
		evs[i] = Event{
			ID: fmt.Sprintf("e%d", i), Time: sinkTime.Add(time.Duration(i) * time.Millisecond),
			App: "web", Side: "old", Host: "h1", File: "/var/log/app.log",
			Offset: int64(i * 10), End: int64(i*10 + 10),
			Record: Record{Raw: fmt.Appendf(nil, "line %d", i), Method: "GET", Path: []byte("/p"), Status: 200},
		}
	}
	return evs
}

// idsOf returns the ids of evs.
func idsOf(evs []Event) []string {
	ids := make([]string, len(evs))
	for i := range evs {
		ids[i] = evs[i].ID
	}
	return ids
}

// scripted is a Deliverer that answers from a script, one answer per
// attempt (nil once the script is done), and records the ids of every
// attempt.
type scripted struct {
	mu       sync.Mutex
	answers  []func(batch []Event) error
	attempts [][]string
}

func (s *scripted) Deliver(_ context.Context, batch []Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts = append(s.attempts, idsOf(batch))
	if len(s.answers) == 0 {
		return nil
	}
	a := s.answers[0]
	s.answers = s.answers[1:]
	return a(batch)
}

func (s *scripted) got() [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

// answer returns a script step that always answers err.
func answer(err error) func([]Event) error {
	return func([]Event) error { return err }
}

// waitClock is a fake clock that records the wait of every timer.
type waitClock struct {
	*clockwork.FakeClock
	mu    sync.Mutex
	waits []time.Duration
}

func newWaitClock() *waitClock {
	return &waitClock{FakeClock: clockwork.NewFakeClockAt(sinkTime)}
}

func (c *waitClock) NewTimer(d time.Duration) clockwork.Timer {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	c.mu.Unlock()
	return c.FakeClock.NewTimer(d)
}

func (c *waitClock) recorded() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waits...)
}

// sendAdvancing runs s.Send and, whenever the sink waits on clock, moves
// the clock past the wait, until Send returns.
func sendAdvancing(ctx context.Context, t *testing.T, clock *waitClock, s Sink, batch []Event) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.Send(ctx, batch) }()
	for {
		bctx, cancel := context.WithCancel(ctx)
		blocked := make(chan error, 1)
		go func() { blocked <- clock.BlockUntilContext(bctx, 1) }()
		select {
		case err := <-done:
			cancel()
			<-blocked
			return err
		case err := <-blocked:
			cancel()
			if err != nil {
				return <-done
			}
			clock.Advance(time.Hour)
		}
	}
}

// deadLetterLine is one line of a dead-letter file.
type deadLetterLine struct {
	Time   string `json:"time"`
	Reason string `json:"reason"`
	Event  struct {
		ID   string `json:"id"`
		Line string `json:"line"`
	} `json:"event"`
}

// readDeadLetters reads a dead-letter file; none when it does not exist.
func readDeadLetters(t *testing.T, path string) []deadLetterLine {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []deadLetterLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l deadLetterLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("dead-letter line %q: %v", sc.Text(), err)
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
