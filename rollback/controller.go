package rollback

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
)

// DefaultHistory is how many verdicts a Controller keeps by default: five
// minutes at the default interval.
const DefaultHistory = 300

// ControllerOptions configure NewController.
type ControllerOptions struct {
	// Clock drives the evaluations (nil: real time).
	Clock clockwork.Clock
	// Logger receives verdict changes and actions (nil: discarded).
	Logger *slog.Logger
	// History is how many verdicts are kept (default DefaultHistory).
	History int
	// OnVerdict, when set, is called with every verdict whose result
	// differs from the previous one's, whose source error appears or
	// clears, and that acts (or would, on a dry run): the events of a
	// verdict change. It runs on the controller's goroutine, before the
	// actions, and must not block.
	OnVerdict func(Verdict)
}

// Controller evaluates one app's rules every interval and acts when they
// fail: after Rules.Breaches failing evaluations in a row, or at once when
// the fast breaker fails. Having acted, it does not act again until a
// verdict passes or is insufficient (the new side, now without traffic,
// soon is), or until Reset.
//
// On a dry run it never calls Actions.Rollback: the verdict that would
// have acted is recorded with DryRun set (Act stays false) and passed to
// Actions.DryRun when Actions implements DryRunner.
//
// A source error makes the verdict insufficient with Err set, or failing
// with on_no_data: rollback. A source that fails (rather than answering
// with no data) is down: the controller logs each outage and recovery and
// keeps evaluating every interval, so the verdicts come back with it.
type Controller struct {
	app       string
	rules     atomic.Pointer[Rules] // a reload replaces them (SetRules)
	src       Source
	act       Actions
	clock     clockwork.Clock
	log       *slog.Logger
	onVerdict func(Verdict)

	mu        sync.Mutex
	history   []Verdict // ring of up to cap(history) verdicts
	next      int       // where the next verdict goes once the ring is full
	last      Verdict
	breaches  int
	acted     bool
	downSince time.Time // when the source went down; zero while it is up
}

// NewController returns a controller of app's rules (defaults applied to
// the settings left at zero) reading src and acting through act (nil:
// verdicts are only recorded and logged).
func NewController(app string, rules Rules, src Source, act Actions, opts ControllerOptions) *Controller {
	c := &Controller{
		app:       app,
		src:       src,
		act:       act,
		clock:     opts.Clock,
		log:       opts.Logger,
		onVerdict: opts.OnVerdict,
	}
	if c.clock == nil {
		c.clock = clockwork.NewRealClock()
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	n := opts.History
	if n <= 0 {
		n = DefaultHistory
	}
	c.history = make([]Verdict, 0, n)
	c.SetRules(rules)
	return c
}

// Rules returns the rules the controller evaluates, defaults applied.
func (c *Controller) Rules() Rules { return *c.rules.Load() }

// SetRules makes the controller evaluate rules (defaults applied) from its
// next step on (a reload); its history and breach count stay.
func (c *Controller) SetRules(rules Rules) {
	r := rules.withDefaults()
	c.rules.Store(&r)
}

// Run evaluates the rules every Rules.Interval until ctx is done, then
// returns nil. An interval changed by SetRules applies after the next
// step.
func (c *Controller) Run(ctx context.Context) error {
	every := c.Rules().Interval
	t := c.clock.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.Chan():
			c.Step(ctx)
			if iv := c.Rules().Interval; iv != every {
				every = iv
				t.Reset(every)
			}
		}
	}
}

// Step evaluates the rules once, now, records the verdict and acts on it;
// Run calls it every interval. A Step cut short by ctx is returned but
// neither recorded nor acted on.
func (c *Controller) Step(ctx context.Context) Verdict {
	v := c.evaluate(ctx)
	if ctx.Err() != nil {
		return v
	}
	changed := c.record(&v)
	c.logSource(v)
	if changed {
		c.logVerdict(v)
		if c.onVerdict != nil {
			c.onVerdict(v)
		}
	}
	switch {
	case v.Act:
		c.rollback(ctx, v)
	case v.DryRun:
		c.dryRun(ctx, v)
	}
	return v
}

// evaluate samples the source (the fast breaker's window first) and
// applies the rules.
func (c *Controller) evaluate(ctx context.Context) Verdict {
	rules := c.Rules()
	var fast *Sample
	if !rules.FastBreaker.Disabled {
		s, err := c.src.Sample(ctx, c.app, rules.FastBreaker.Window)
		if err != nil {
			return c.noData(err)
		}
		fast = &s
	}
	s, err := c.src.Sample(ctx, c.app, rules.Window)
	if err != nil {
		return c.noData(err)
	}
	v := evaluate(rules, s, fast, c.recent(ctx, rules))
	v.App = c.app
	if v.At.IsZero() {
		v.At = c.clock.Now()
	}
	return v
}

// recent samples the recent windows of a source whose short windows are
// exact. A window the source cannot give is left out: the whole window
// decides alone, as it does for other sources.
func (c *Controller) recent(ctx context.Context, rules Rules) []Sample {
	if x, ok := c.src.(ExactWindows); !ok || !x.ExactWindows() {
		return nil
	}
	var ss []Sample
	for _, w := range rules.RecentWindows() {
		s, err := c.src.Sample(ctx, c.app, w)
		if err != nil {
			c.log.Debug("sampling a recent window", "app", c.app, "window", w, "err", err)
			continue
		}
		ss = append(ss, s)
	}
	return ss
}

// noData is the verdict of a failed source.
func (c *Controller) noData(err error) Verdict {
	v := Verdict{App: c.app, At: c.clock.Now(), Result: Insufficient, Err: err.Error(), SourceDown: !errors.Is(err, ErrNoData)}
	ch := Check{Rule: RuleOnNoData, Result: Insufficient, Reason: "no data (on_no_data: hold): " + v.Err}
	if c.Rules().OnNoData == OnNoDataRollback {
		v.Result, ch.Result, ch.Reason = Fail, Fail, "no data (on_no_data: rollback): "+v.Err
	}
	v.Checks = []Check{ch}
	return v
}

// record counts breaches, decides whether v acts, keeps v, and says
// whether it is a change worth an event.
func (c *Controller) record(v *Verdict) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v.Result == Fail {
		c.breaches++
	} else {
		c.breaches = 0
		c.acted = false
	}
	v.Breaches = c.breaches
	rules := c.Rules()
	if !c.acted && (c.breaches >= rules.Breaches || fastFailed(*v)) {
		c.acted = true
		if rules.DryRun {
			v.DryRun = true
		} else {
			v.Act = true
		}
	}
	prev := c.last
	c.last = *v
	if len(c.history) < cap(c.history) {
		c.history = append(c.history, *v)
	} else {
		c.history[c.next] = *v
		c.next = (c.next + 1) % len(c.history)
	}
	return v.Result != prev.Result || (v.Err == "") != (prev.Err == "") || v.SourceDown != prev.SourceDown || v.Act || v.DryRun
}

// logSource logs the start and the end of a source outage.
func (c *Controller) logSource(v Verdict) {
	c.mu.Lock()
	since := c.downSince
	switch {
	case v.SourceDown && since.IsZero():
		c.downSince = v.At
	case !v.SourceDown && !since.IsZero():
		c.downSince = time.Time{}
	}
	c.mu.Unlock()
	switch {
	case v.SourceDown && since.IsZero():
		c.log.Warn("rollback source down: verdicts are insufficient until it answers again", "app", c.app, "err", v.Err)
	case !v.SourceDown && !since.IsZero():
		c.log.Info("rollback source up again", "app", c.app, "down_for", v.At.Sub(since).String())
	}
}

// SourceUp reports whether the source answered the last evaluation; ok
// is false before the first one.
func (c *Controller) SourceUp() (up, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.last.SourceDown, !c.last.At.IsZero()
}

func fastFailed(v Verdict) bool {
	for _, ch := range v.Checks {
		if ch.Rule == RuleFastBreaker && ch.Result == Fail {
			return true
		}
	}
	return false
}

// rollback calls the actions. When they fail, the next failing verdict
// tries again.
func (c *Controller) rollback(ctx context.Context, v Verdict) {
	c.log.Warn("rolling back", "app", c.app, "breaches", v.Breaches, "reason", v.Reason())
	if c.act == nil {
		return
	}
	if err := c.act.Rollback(ctx, v); err != nil {
		c.log.Error("rolling back", "app", c.app, "err", err)
		c.mu.Lock()
		c.acted = false
		c.mu.Unlock()
	}
}

func (c *Controller) dryRun(ctx context.Context, v Verdict) {
	c.log.Warn("dry run: would roll back", "app", c.app, "breaches", v.Breaches, "reason", v.Reason())
	if d, ok := c.act.(DryRunner); ok {
		if err := d.DryRun(ctx, v); err != nil {
			c.log.Error("reporting dry run", "app", c.app, "err", err)
		}
	}
}

func (c *Controller) logVerdict(v Verdict) {
	c.log.Info("rollback verdict", "app", c.app, "result", v.Result, "breaches", v.Breaches, "reason", v.Reason())
}

// Reset forgets the breaches and that the controller acted, so that the
// next failing verdicts act again (after the weight was restored by hand,
// for instance).
func (c *Controller) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.breaches = 0
	c.acted = false
}

// History returns the kept verdicts, oldest first.
func (c *Controller) History() []Verdict {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Verdict, 0, len(c.history))
	out = append(out, c.history[c.next:]...)
	return append(out, c.history[:c.next]...)
}

// Last returns the latest verdict; its Result is empty before the first.
func (c *Controller) Last() Verdict {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}
