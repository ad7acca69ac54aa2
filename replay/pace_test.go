package replay

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/migratekit/migrate/compare"
	"github.com/migratekit/migrate/shadow"
)

// waitFor polls cond until it holds, failing the test after a generous
// bound (a hang, not a timing assertion).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

type runResult struct {
	rep compare.Report
	st  Stats
	err error
}

func runAsync(ctx context.Context, opts Options) <-chan runResult {
	done := make(chan runResult, 1)
	go func() {
		rep, st, err := Run(ctx, opts)
		done <- runResult{rep, st, err}
	}()
	return done
}

// TestRateLimits replays three lines at one request a second on a fake
// clock: each request waits for the clock to move a second.
func TestRateLimits(t *testing.T) {
	oldB, newB := newBackend(t, "10"), newBackend(t, "10")
	app := testApp(oldB.URL, newB.URL)
	clock := clockwork.NewFakeClock()
	log := strings.Repeat(combined("GET", "/items/1")+"\n", 3)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // bounds a hang
	defer cancel()
	done := runAsync(ctx, Options{App: app, Log: strings.NewReader(log), Rate: 1, Clock: clock})
	for n := 1; n <= 3; n++ {
		waitFor(t, "the next request", func() bool { return oldB.count() == n && newB.count() == n })
		if n == 3 {
			break
		}
		// The next line waits for its token, and nothing else goes out.
		if err := clock.BlockUntilContext(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if got := []int{oldB.count(), newB.count()}; got[0] != n || got[1] != n {
			t.Fatalf("before the clock moved: %v requests, want %d each", got, n)
		}
		clock.Advance(time.Second)
	}
	res := <-done
	if res.err != nil || res.st.Replayed != 3 {
		t.Errorf("got %d replayed, error %v; want 3, nil", res.st.Replayed, res.err)
	}
}

// TestCancelReturnsWhatWasReplayed cancels a paced replay after its first
// request: Run returns the first pair's report and the context's error.
func TestCancelReturnsWhatWasReplayed(t *testing.T) {
	oldB, newB := newBackend(t, "10"), newBackend(t, "12")
	app := testApp(oldB.URL, newB.URL)
	clock := clockwork.NewFakeClock()
	log := strings.Repeat(combined("GET", "/items/1")+"\n", 3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	engine, err := compare.NewEngine(shadow.CompareConfig(app))
	if err != nil {
		t.Fatal(err)
	}
	done := runAsync(ctx, Options{App: app, Log: strings.NewReader(log), Rate: 1, Clock: clock, Engine: engine})
	waitFor(t, "the first pair judged", func() bool {
		rep, err := NewReport(ctx, app, engine, nil, clock.Now())
		if err != nil {
			return false
		}
		var n uint64
		for _, e := range rep.Endpoints {
			n += e.Requests
		}
		return n == 1
	})
	bctx, bcancel := context.WithTimeout(ctx, 10*time.Second) // bounds a hang
	defer bcancel()
	if err := clock.BlockUntilContext(bctx, 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	res := <-done
	if !errors.Is(res.err, context.Canceled) {
		t.Errorf("got error %v, want context.Canceled", res.err)
	}
	var requests uint64
	for _, e := range res.rep.Endpoints {
		requests += e.Requests
	}
	if got := []uint64{uint64(res.st.Replayed), requests}; got[0] != 1 || got[1] != 1 {
		t.Errorf("[replayed, compared in the report] = %v, want [1 1]", got)
	}
}

// syncBuffer is a bytes.Buffer safe for the progress goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestProgress checks that a progress line goes out on every tick of the
// clock while the log is still being read.
func TestProgress(t *testing.T) {
	oldB, newB := newBackend(t, "10"), newBackend(t, "10")
	app := testApp(oldB.URL, newB.URL)
	clock := clockwork.NewFakeClock()
	pr, pw := io.Pipe()
	var out syncBuffer
	done := runAsync(context.Background(), Options{App: app, Log: pr, Clock: clock, Progress: &out, ProgressEvery: 5 * time.Second})
	io.WriteString(pw, combined("GET", "/items/1")+"\njunk\n")
	want := "replay: 2 lines, 1 replayed (0 differ), 0 skipped, 1 unparseable"
	waitFor(t, "a progress line", func() bool {
		clock.Advance(5 * time.Second)
		return strings.Contains(out.String(), want)
	})
	pw.Close()
	if res := <-done; res.err != nil {
		t.Fatal(res.err)
	}
}
