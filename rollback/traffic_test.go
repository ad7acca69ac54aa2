package rollback

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
)

// traffic is a Source of random traffic on a fake clock. Every second,
// each side gets rps requests (newRPS for the new side when set), each an
// error with the side's rate for that second: a binomial draw from a
// generator with a fixed seed, so a run is reproducible. A sample at time
// T sums the whole seconds of the window before T.
type traffic struct {
	clock   *clockwork.FakeClock
	start   time.Time
	rps     int
	newRPS  int
	oldRate func(sec int) float64
	newRate func(sec int) float64
	rng     *rand.Rand

	mu   sync.Mutex
	secs [][2]SideSample // per second: old, new
}

func newTraffic(clock *clockwork.FakeClock, seed uint64, rps int, oldRate, newRate func(int) float64) *traffic {
	return &traffic{
		clock: clock, start: clock.Now(), rps: rps, oldRate: oldRate, newRate: newRate,
		rng: rand.New(rand.NewPCG(seed, 0x6d6967726174)),
	}
}

// rate is a constant error rate.
func rate(p float64) func(int) float64 { return func(int) float64 { return p } }

// jump is an error rate of before until second at, and after from then on.
func jump(before, after float64, at int) func(int) float64 {
	return func(sec int) float64 {
		if sec < at {
			return before
		}
		return after
	}
}

func (tr *traffic) Sample(_ context.Context, _ string, window time.Duration) (Sample, error) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	now := tr.clock.Now()
	cur := int(now.Sub(tr.start) / time.Second)
	for len(tr.secs) < cur {
		tr.secs = append(tr.secs, tr.second(len(tr.secs)))
	}
	s := Sample{At: now, Window: window}
	for sec := max(cur-int(window/time.Second), 0); sec < cur; sec++ {
		add(&s.Old, tr.secs[sec][0])
		add(&s.New, tr.secs[sec][1])
	}
	return s, nil
}

func (tr *traffic) second(sec int) [2]SideSample {
	newRPS := tr.newRPS
	if newRPS == 0 {
		newRPS = tr.rps
	}
	return [2]SideSample{tr.draw(tr.rps, tr.oldRate(sec)), tr.draw(newRPS, tr.newRate(sec))}
}

func (tr *traffic) draw(n int, p float64) SideSample {
	s := SideSample{Requests: uint64(n)}
	for range n {
		if tr.rng.Float64() < p {
			s.Errors++
		}
	}
	return s
}

func add(dst *SideSample, s SideSample) {
	dst.Requests += s.Requests
	dst.Errors += s.Errors
	dst.Errors4xx += s.Errors4xx
}

// brokenSource always fails.
type brokenSource struct{}

func (brokenSource) Sample(context.Context, string, time.Duration) (Sample, error) {
	return Sample{}, errors.New("querying prometheus: connection refused")
}

// recorder is Actions and DryRunner that keeps what it was called with
// and answers err.
type recorder struct {
	mu        sync.Mutex
	rollbacks []Verdict
	dryRuns   []Verdict
	err       error
}

func (r *recorder) Rollback(_ context.Context, v Verdict) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rollbacks = append(r.rollbacks, v)
	return r.err
}

func (r *recorder) DryRun(_ context.Context, v Verdict) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dryRuns = append(r.dryRuns, v)
	return nil
}

func (r *recorder) calls() (rollbacks, dryRuns int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.rollbacks), len(r.dryRuns)
}

// actOnly is Actions without DryRunner.
type actOnly struct{ n int }

func (a *actOnly) Rollback(context.Context, Verdict) error {
	a.n++
	return nil
}

// ExactWindows: the traffic's windows sum whole seconds of exact draws.
func (tr *traffic) ExactWindows() bool { return true }
