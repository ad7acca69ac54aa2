package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/migratekit/migrate/admin"
)

// healthPoll is how often deploy asks whether a new backend is in
// rotation.
const healthPoll = 100 * time.Millisecond

// The states of a pair, in the order a deploy takes it through them.
const (
	pairUntouched = "untouched"
	pairAdded     = "added"    // NEW in the pool, its first check not passed
	pairHealthy   = "healthy"  // NEW in rotation, OLD too
	pairDraining  = "draining" // OLD out of rotation, not seen idle
	pairDrained   = "drained"  // OLD idle, still in the pool
	pairDone      = "done"     // OLD removed
)

// deployPair is one --replace/--with pair and where it stands.
type deployPair struct {
	Index int    `json:"index"`
	Old   string `json:"old"`
	New   string `json:"new"`
	State string `json:"state"`
	// Meaning is State in words: which of the two serves.
	Meaning string `json:"meaning"`
	// DrainWaited is how many requests OLD had in flight when its drain
	// began.
	DrainWaited int64   `json:"drain_waited"`
	FailedStep  string  `json:"failed_step,omitempty"`
	Error       string  `json:"error,omitempty"`
	Seconds     float64 `json:"seconds"`

	timedOut bool // its NEW did not pass its check within --timeout
}

// deploySummary is deploy's JSON output.
type deploySummary struct {
	App     string        `json:"app"`
	Side    string        `json:"side"`
	OK      bool          `json:"ok"`
	Seconds float64       `json:"seconds"`
	Pairs   []*deployPair `json:"pairs"`
}

// deployer runs the pairs of a deploy and reports their steps.
type deployer struct {
	o        *deployOptions
	c        *admin.Client
	progress io.Writer
	start    time.Time
	sum      deploySummary
	failed   atomic.Pointer[deployPair] // the first pair that failed
	mu       sync.Mutex                 // progress lines and the pairs' fields
}

func newDeployer(o *deployOptions, c *admin.Client) *deployer {
	d := &deployer{o: o, c: c, progress: o.IO.Out, start: o.clock.Now(), sum: deploySummary{App: o.App, Side: o.Side}}
	if o.Format == "json" {
		d.progress = o.IO.Err
	}
	for i, old := range o.Replace {
		p := &deployPair{Index: i + 1, Old: old, New: o.With[i]}
		d.setState(p, pairUntouched)
		d.sum.Pairs = append(d.sum.Pairs, p)
	}
	return d
}

// run replaces the pairs, o.Parallel at a time, in order; none starts
// after a failure or once ctx is done.
func (d *deployer) run(ctx context.Context) {
	next := make(chan *deployPair)
	var wg sync.WaitGroup
	for range min(d.o.Parallel, len(d.sum.Pairs)) {
		wg.Go(func() {
			for p := range next {
				if d.failed.Load() == nil && ctx.Err() == nil {
					d.replace(ctx, p)
				}
			}
		})
	}
	for _, p := range d.sum.Pairs {
		next <- p
	}
	close(next)
	wg.Wait()
	if ctx.Err() != nil && d.failed.Load() == nil {
		for _, p := range d.sum.Pairs {
			if p.State != pairDone {
				d.fail(p, "starting", ctx.Err())
				return
			}
		}
	}
}

// replace takes p through its steps, stopping at the first that fails.
func (d *deployer) replace(ctx context.Context, p *deployPair) {
	start := d.o.clock.Now()
	defer func() { p.Seconds = d.o.clock.Since(start).Seconds() }()
	steps := []struct {
		name  string
		do    func(context.Context, *deployPair) error
		after string
	}{
		{"adding " + p.New, d.add, pairAdded},
		{"waiting for " + p.New + " to pass its first check", d.waitHealthy, pairHealthy},
		{"draining " + p.Old, d.drain, pairDrained},
		{"removing " + p.Old, d.remove, pairDone},
	}
	for _, s := range steps {
		d.say(p, s.name)
		if err := s.do(ctx, p); err != nil {
			d.fail(p, s.name, err)
			return
		}
		d.setState(p, s.after)
	}
	d.say(p, fmt.Sprintf("done: %s", p.Meaning))
}

func (d *deployer) reason(p *deployPair) string {
	if d.o.Reason != "" {
		return d.o.Reason
	}
	return fmt.Sprintf("deploy %s -> %s", p.Old, p.New)
}

func (d *deployer) add(ctx context.Context, p *deployPair) error {
	_, err := d.c.AddBackend(ctx, d.o.App, d.o.Side, p.New, d.reason(p))
	return err
}

// waitHealthy waits until p.New is in rotation, at most --timeout.
func (d *deployer) waitHealthy(ctx context.Context, p *deployPair) error {
	deadline := d.o.clock.After(d.o.Timeout)
	tick := d.o.clock.NewTicker(healthPoll)
	defer tick.Stop()
	for {
		list, err := d.c.Backends(ctx, d.o.App)
		if err != nil {
			return err
		}
		b, ok := findBackend(list, p.New)
		switch {
		case !ok:
			return fmt.Errorf("%s is no longer a backend of %s (removed by someone else)", p.New, d.o.App)
		case b.Draining:
			return fmt.Errorf("%s is being drained (by someone else)", p.New)
		case b.Healthy && !b.Pending:
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			p.timedOut = true
			return fmt.Errorf("%s did not pass its first health check within %s (--timeout)", p.New, d.o.Timeout)
		case <-tick.Chan():
		}
	}
}

func (d *deployer) drain(ctx context.Context, p *deployPair) error {
	res, err := d.c.DrainBackend(ctx, d.o.App, p.Old, d.reason(p))
	p.DrainWaited = res.Waited
	if err != nil && (apiStatus(err) == http.StatusGatewayTimeout || ctx.Err() != nil) {
		d.setState(p, pairDraining)
	}
	return err
}

func (d *deployer) remove(ctx context.Context, p *deployPair) error {
	_, err := d.c.RemoveBackend(ctx, d.o.App, p.Old, d.reason(p))
	return err
}

// fail records that p failed at step, the first failure of the deploy
// if none came before.
func (d *deployer) fail(p *deployPair, step string, err error) {
	if errors.Is(err, context.Canceled) {
		err = errors.New("interrupted")
	}
	d.mu.Lock()
	p.FailedStep, p.Error = step, err.Error()
	d.mu.Unlock()
	d.failed.CompareAndSwap(nil, p)
	d.say(p, fmt.Sprintf("FAILED %s: %v", step, err))
}

func (d *deployer) setState(p *deployPair, state string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p.State, p.Meaning = state, pairMeaning(state, d.o.App, p.Old, p.New)
}

// pairMeaning says which of OLD and NEW serves in state, and what to do
// when that is not the end.
func pairMeaning(state, app, old, new string) string {
	switch state {
	case pairAdded:
		return fmt.Sprintf("%s is in the pool but gets no requests (its first check has not passed); %s serves", new, old)
	case pairHealthy:
		return fmt.Sprintf("%s and %s both serve", new, old)
	case pairDraining:
		return fmt.Sprintf("%s serves; %s gets no new requests but had some in flight: migrate backends drain %s %s, then remove it", new, old, app, old)
	case pairDrained:
		return fmt.Sprintf("%s serves; %s gets no requests and is still in the pool: migrate backends remove %s %s", new, old, app, old)
	case pairDone:
		return fmt.Sprintf("%s serves; %s removed", new, old)
	}
	return fmt.Sprintf("nothing changed: %s serves", old)
}

// say writes a progress line about p.
func (d *deployer) say(p *deployPair, msg string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fmt.Fprintf(d.progress, "%s [%d/%d] %s\n", d.o.clock.Now().Format("15:04:05"), p.Index, len(d.sum.Pairs), msg)
}

// finish writes the summary and returns the deploy's error, if it failed.
func (d *deployer) finish() error {
	first := d.failed.Load()
	d.sum.OK = first == nil
	d.sum.Seconds = d.o.clock.Since(d.start).Seconds()
	if d.o.Format == "json" {
		if err := writeJSONOut(d.o.IO.Out, d.sum); err != nil {
			return err
		}
	} else {
		d.writeSummary(d.o.IO.Out)
	}
	if first != nil {
		return deployFailed(first)
	}
	return nil
}

func (d *deployer) writeSummary(w io.Writer) {
	verdict := "done"
	if !d.sum.OK {
		verdict = "STOPPED"
	}
	fmt.Fprintf(w, "%s: deploy of %d backends on %s %s in %.1fs\n", d.sum.App, len(d.sum.Pairs), d.sum.Side, verdict, d.sum.Seconds)
	for _, p := range d.sum.Pairs {
		line := fmt.Sprintf("  %d/%d %s -> %s: %s", p.Index, len(d.sum.Pairs), p.Old, p.New, p.State)
		if p.State == pairDone {
			line += fmt.Sprintf(" (%d in flight at %s when its drain began)", p.DrainWaited, p.Old)
		}
		if p.Error != "" {
			line += fmt.Sprintf(", failed %s: %s", p.FailedStep, p.Error)
		}
		fmt.Fprintf(w, "%s\n      %s\n", line, p.Meaning)
	}
}

func findBackend(list []admin.Backend, url string) (admin.Backend, bool) {
	for _, b := range list {
		if admin.SameBackendURL(b.URL, url) {
			return b, true
		}
	}
	return admin.Backend{}, false
}

// apiStatus is the status of the admin API's answer in err, 0 if none.
func apiStatus(err error) int {
	var ae *admin.APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}
