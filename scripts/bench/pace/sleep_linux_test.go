package main

import (
	"testing"
	"time"
)

// TestFineTimer checks that a fine sleep returns, and not before its time
// (a zero timerfd would be disarmed and never fire).
func TestFineTimer(t *testing.T) {
	ft, err := newFineTimer()
	if err != nil {
		t.Fatal(err)
	}
	defer ft.close()
	for _, d := range []time.Duration{0, -time.Millisecond, time.Nanosecond, 300 * time.Microsecond, 2 * time.Millisecond} {
		t.Run(d.String(), func(t *testing.T) {
			start := time.Now()
			if err := ft.sleep(d); err != nil {
				t.Fatalf("sleep(%v): %v", d, err)
			}
			if got := time.Since(start); got < d {
				t.Errorf("sleep(%v) returned after %v", d, got)
			}
		})
	}
}
