//go:build linux

package evloop

import (
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPostOrder posts from several goroutines at once: each one's
// functions run in the order posted, all on the loop goroutine (the race
// detector checks the unsynchronised slice).
func TestPostOrder(t *testing.T) {
	const senders, each = 4, 500
	tl := startLoop(t)
	var got [senders][]int
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for i := range each {
				tl.Post(func() { got[s] = append(got[s], i) })
			}
		})
	}
	wg.Wait()
	tl.do(func() {})
	want := make([]int, each)
	for i := range want {
		want[i] = i
	}
	for s := range senders {
		if diff := cmp.Diff(want, got[s]); diff != "" {
			t.Errorf("sender %d: order of runs (-want +got):\n%s", s, diff)
		}
	}
}

// TestPostFromLoop posts from posted functions: they run after the
// function posting them, in order.
func TestPostFromLoop(t *testing.T) {
	tl := startLoop(t)
	var got []string
	done := make(chan struct{})
	tl.Post(func() {
		got = append(got, "a")
		tl.Post(func() {
			got = append(got, "c")
			tl.Post(func() { got = append(got, "d"); close(done) })
		})
		got = append(got, "b")
	})
	<-done
	if diff := cmp.Diff([]string{"a", "b", "c", "d"}, got); diff != "" {
		t.Errorf("order of runs (-want +got):\n%s", diff)
	}
}

func TestStop(t *testing.T) {
	t.Run("posted before stop runs, after is dropped", func(t *testing.T) {
		l, err := NewLoop(nil)
		if err != nil {
			t.Fatalf("NewLoop: %v", err)
		}
		var got []string
		l.Post(func() {
			got = append(got, "before")
			l.Stop()
			l.Post(func() { got = append(got, "posted on the loop after Stop") })
		})
		if err := l.Run(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		l.Post(func() { got = append(got, "posted after Run") })
		l.Stop()
		if diff := cmp.Diff([]string{"before"}, got); diff != "" {
			t.Errorf("functions run (-want +got):\n%s", diff)
		}
	})
	t.Run("before run", func(t *testing.T) {
		l, err := NewLoop(nil)
		if err != nil {
			t.Fatalf("NewLoop: %v", err)
		}
		ran := false
		l.Stop()
		l.Stop()
		l.Post(func() { ran = true })
		if err := l.Run(); err != nil {
			t.Errorf("Run: got %v, want nil", err)
		}
		if ran {
			t.Errorf("a function posted after Stop ran")
		}
		if err := l.Run(); err == nil {
			t.Errorf("second Run: got nil, want an error")
		}
	})
	t.Run("from other goroutines", func(t *testing.T) {
		tl := startLoop(t)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				tl.Post(func() {})
				tl.Stop()
				tl.Post(func() {})
			})
		}
		wg.Wait()
		<-tl.done
	})
}
