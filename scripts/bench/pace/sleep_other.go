//go:build !linux

package main

import (
	"errors"
	"time"
)

// fineTimer is Linux only (a timerfd); elsewhere workers wait on Go's
// timers alone, which may wake them up to about 1 ms late.
type fineTimer struct{}

func newFineTimer() (*fineTimer, error) { return nil, errors.New("no fine timer on this system") }

func (t *fineTimer) sleep(d time.Duration) error { return nil }

func (t *fineTimer) close() {}
