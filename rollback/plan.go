package rollback

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/state"
)

// A progressive plan (cutover.plan, for instance [5, 25, 50, 100]) moves an
// app's weight through its steps. The plan advances from a step only after
// step_min of pass verdicts in a row: the step's clock starts at the first
// pass verdict evaluated after the step began, and any verdict that does not
// pass stops it. An insufficient verdict holds the step and restarts its
// clock (the next pass starts it again), as a failing one does: step_min is
// always uninterrupted evidence that the new side is healthy at the step's
// weight. A failure that makes the controller roll back also pauses the
// plan until it is started again (Manager.StartPlan), at its first step or
// at the step given, never where it failed; a manual weight change ends it.
//
// The plan's position is in the state store: PlanStep, StepSince (the start
// of the step's clock; zero when no plan runs) and Paused. A restarted
// Manager resumes at the saved step; having seen no verdict yet, it starts
// the step's clock again at its first pass.

// Errors StartPlan returns and callers branch on.
var (
	// ErrNoPlan is returned for an app without cutover.plan.
	ErrNoPlan = errors.New("app has no cutover.plan")
	// ErrNoAnalysis is returned for an app whose verdicts no controller
	// gives: its plan could never advance.
	ErrNoAnalysis = errors.New("app has no rollback analysis for the plan to follow")
	// ErrNoStore is returned by a Manager without a state store, where a
	// plan's position cannot be kept.
	ErrNoStore = errors.New("no state store to keep the plan's position")
	// ErrPlanNotRunning is returned by PromotePlan for a plan that is not
	// started, or paused after a rollback: start it (again) first.
	ErrPlanNotRunning = errors.New("the plan is not running")
	// ErrPlanDone is returned by PromotePlan for a plan at its last step.
	ErrPlanDone = errors.New("the plan is at its last step")
	// ErrPlanRunning is returned by StartPlan for a step given to a plan
	// that runs (or is done) already.
	ErrPlanRunning = errors.New("the plan runs already")
	// ErrStepRange is returned by StartPlan for a step the plan does not
	// have.
	ErrStepRange = errors.New("no such plan step")
)

// errPlanMoved aborts a step whose plan changed meanwhile (paused, ended,
// or advanced by another instance).
var errPlanMoved = errors.New("the plan moved meanwhile")

// Plan states in PlanStatus.
const (
	PlanStopped = "stopped" // not started, or ended by a manual weight change
	PlanRunning = "running" // every verdict since the step's clock started passed
	PlanHolding = "holding" // waiting for a pass verdict to start the step's clock
	PlanPaused  = "paused"  // after a rollback, until the plan is started again
	PlanDone    = "done"    // at the last step
)

// PlanStatus is where an app's plan stands.
type PlanStatus struct {
	Steps   []int         `json:"steps"`
	Step    int           `json:"step"`   // index into Steps
	Weight  int           `json:"weight"` // Steps[Step]
	StepMin time.Duration `json:"step_min"`
	State   string        `json:"state"` // one of the Plan states
	// Since is when the step's clock started (running) or last started.
	Since time.Time `json:"since,omitzero"`
	// Verdict is the result of the last verdict.
	Verdict string `json:"verdict,omitempty"`
	// Next is the time left before the next step, while running.
	Next time.Duration `json:"next,omitempty"`
}

// plan follows one app's progressive plan: the steps, and what this process
// saw of the current step's verdicts.
type plan struct {
	steps   []int
	stepMin time.Duration

	mu       sync.Mutex
	step     int       // the step the rest is about; -1 before the first look
	seen     time.Time // verdicts at or before it were looked at
	passing  bool      // every verdict since runStart passed
	runStart time.Time // the first of those verdicts
}

// newPlan returns a's plan, nil without cutover.plan.
func newPlan(a *manifest.App) *plan {
	if len(a.Cutover.Plan) == 0 {
		return nil
	}
	return &plan{steps: a.Cutover.Plan, stepMin: a.Cutover.StepMin.Or(manifest.DefaultStepMin), step: -1}
}

// running reports whether st has a plan that may advance.
func (p *plan) running(st state.AppState) bool {
	return !st.StepSince.IsZero() && !st.Paused && st.PlanStep < len(p.steps)-1
}

// begin forgets the verdicts up to now: step's clock starts at the next
// pass.
func (p *plan) begin(step int, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.step, p.seen, p.passing, p.runStart = step, now, false, time.Time{}
}

// observe looks at the verdicts newer than those seen for the given step
// and returns the start of the current run of passes, zero when the last
// verdict did not pass.
func (p *plan) observe(step int, history []Verdict, now time.Time) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	if step != p.step {
		p.step, p.seen, p.passing, p.runStart = step, now, false, time.Time{}
		return time.Time{}
	}
	for _, v := range history {
		if !v.At.After(p.seen) {
			continue
		}
		p.seen = v.At
		switch {
		case v.Result != Pass:
			p.passing = false
		case !p.passing:
			p.passing, p.runStart = true, v.At
		}
	}
	if !p.passing {
		return time.Time{}
	}
	return p.runStart
}

// status is the plan's status in st, with v the last verdict.
func (p *plan) status(st state.AppState, v Verdict, now time.Time) PlanStatus {
	ps := PlanStatus{Steps: p.steps, Step: min(st.PlanStep, len(p.steps)-1), StepMin: p.stepMin, State: PlanStopped, Since: st.StepSince, Verdict: v.Result}
	ps.Weight = p.steps[ps.Step]
	switch {
	case st.StepSince.IsZero():
		ps.Step, ps.Weight, ps.Since = 0, p.steps[0], time.Time{}
	case st.Paused:
		ps.State = PlanPaused
	case st.PlanStep >= len(p.steps)-1:
		ps.State = PlanDone
	default:
		ps.State = PlanHolding
		p.mu.Lock()
		if p.step == st.PlanStep && p.passing {
			ps.State, ps.Since = PlanRunning, p.runStart
			ps.Next = max(0, p.stepMin-now.Sub(p.runStart))
		}
		p.mu.Unlock()
	}
	return ps
}

// StartPlan starts app's plan on behalf of actor, or resumes it after a
// rollback paused it: at its first step, or at fromStep (1 for the first)
// when it is not 0, never at the step that was running when it failed. A
// plan that runs (or is done) is left as it is when fromStep is 0; given a
// step, it is refused with ErrPlanRunning.
func (m *Manager) StartPlan(ctx context.Context, app, actor string, fromStep int) error {
	ma, err := m.get(app)
	if err != nil {
		return err
	}
	switch {
	case ma.plan == nil:
		return fmt.Errorf("starting the plan of %s: %w", app, ErrNoPlan)
	case ma.controller == nil:
		return fmt.Errorf("starting the plan of %s: %w", app, ErrNoAnalysis)
	case m.store == nil:
		return fmt.Errorf("starting the plan of %s: %w", app, ErrNoStore)
	case fromStep < 0 || fromStep > len(ma.plan.steps):
		return fmt.Errorf("starting the plan of %s at step %d: %w (it has steps 1 to %d)", app, fromStep, ErrStepRange, len(ma.plan.steps))
	}
	st, _, err := m.store.Get(ctx, app)
	if err != nil {
		return fmt.Errorf("reading the plan's position: %w", err)
	}
	p, step, verb := ma.plan, max(fromStep-1, 0), "started"
	if !st.StepSince.IsZero() {
		switch {
		case !st.Paused && fromStep == 0:
			return nil
		case !st.Paused:
			return fmt.Errorf("starting the plan of %s at step %d: %w at step %s (migrate cutover %s --promote moves it on)",
				app, fromStep, ErrPlanRunning, p.stepName(st.PlanStep), app)
		}
		verb = "resumed after a rollback"
	}
	now := m.clock.Now()
	reason := fmt.Sprintf("plan %s at step %s", verb, p.stepName(step))
	err = m.setWeight(ctx, app, p.steps[step], actor, reason, func(s *state.AppState) error {
		s.PlanStep, s.StepSince, s.Paused = step, now, false
		return nil
	})
	if err != nil && !errors.Is(err, state.ErrPending) {
		return err
	}
	p.begin(step, now)
	m.record(ctx, state.Event{App: app, Kind: state.KindPlanStep, Actor: actor, Before: p.stepName(st.PlanStep), After: p.stepName(step), Reason: reason})
	return err
}

// PromotePlan moves app's running plan on by hand, on behalf of actor,
// without waiting for its step_min of pass verdicts: to the next step, or
// with full to the last one (Argo Rollouts' promote and promote --full).
// The new step's clock starts afresh, so the plan goes on from there as
// usual. A paused plan is not promoted (a rollback paused it: resume it
// first, with StartPlan), nor one that is not started or is done.
func (m *Manager) PromotePlan(ctx context.Context, app, actor string, full bool) error {
	ma, err := m.get(app)
	if err != nil {
		return err
	}
	switch {
	case ma.plan == nil:
		return fmt.Errorf("promoting the plan of %s: %w", app, ErrNoPlan)
	case m.store == nil:
		return fmt.Errorf("promoting the plan of %s: %w", app, ErrNoStore)
	}
	st, _, err := m.store.Get(ctx, app)
	if err != nil {
		return fmt.Errorf("reading the plan's position: %w", err)
	}
	p := ma.plan
	switch {
	case st.StepSince.IsZero():
		return fmt.Errorf("promoting the plan of %s: %w (migrate cutover %s --plan starts it)", app, ErrPlanNotRunning, app)
	case st.Paused:
		return fmt.Errorf("promoting the plan of %s: %w: it is paused after a rollback (migrate cutover %s --plan resumes it)", app, ErrPlanNotRunning, app)
	case st.PlanStep >= len(p.steps)-1:
		return fmt.Errorf("promoting the plan of %s: %w", app, ErrPlanDone)
	}
	step, next := st.PlanStep, st.PlanStep+1
	if full {
		next = len(p.steps) - 1
	}
	now := m.clock.Now()
	reason := fmt.Sprintf("plan promoted by hand from step %s to %s", p.stepName(step), p.stepName(next))
	err = m.setWeight(ctx, app, p.steps[next], actor, reason, func(s *state.AppState) error {
		if s.PlanStep != step || s.StepSince.IsZero() || s.Paused {
			return errPlanMoved
		}
		s.PlanStep, s.StepSince = next, now
		return nil
	})
	if errors.Is(err, errPlanMoved) {
		return fmt.Errorf("promoting the plan of %s: %w; look again and retry", app, err)
	}
	if err != nil && !errors.Is(err, state.ErrPending) {
		return err
	}
	p.begin(next, now)
	m.log.Info("plan promoted", "app", app, "step", p.stepName(next), "actor", actor)
	m.record(ctx, state.Event{App: app, Kind: state.KindPlanStep, Actor: actor, Before: p.stepName(step), After: p.stepName(next), Reason: reason})
	return err
}

// PlanStatus returns where app's plan stands; ok is false when the app has
// no plan.
func (m *Manager) PlanStatus(app string) (PlanStatus, bool) {
	ma, err := m.get(app)
	if err != nil || ma.plan == nil {
		return PlanStatus{}, false
	}
	var st state.AppState
	if m.store != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		// A store that is down still answers its last known state.
		st, _, _ = m.store.Get(ctx, app)
	}
	var v Verdict
	if ma.controller != nil {
		v = ma.controller.Last()
	}
	return ma.plan.status(st, v, m.clock.Now()), true
}

// stepName is step for people: "2/4 (25%)".
func (p *plan) stepName(step int) string {
	if step < 0 || step >= len(p.steps) {
		return fmt.Sprintf("%d/%d", step+1, len(p.steps))
	}
	return fmt.Sprintf("%d/%d (%d%%)", step+1, len(p.steps), p.steps[step])
}

// runPlan looks at app's plan at every interval of its controller until ctx
// is done.
func (m *Manager) runPlan(ctx context.Context, app string, ma *managed) error {
	t := m.clock.NewTicker(ma.controller.Rules().Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.Chan():
			m.planTick(ctx, app, ma)
		}
	}
}

// planTick looks at the controller's new verdicts, saves when the step's
// clock started, and advances the plan once it ran for step_min.
func (m *Manager) planTick(ctx context.Context, app string, ma *managed) {
	st, _, err := m.store.Get(ctx, app)
	if err != nil {
		return // a store that is down takes no step
	}
	p, now := ma.plan, m.clock.Now()
	if !m.planRunning(p, st, now) {
		return
	}
	start := p.observe(st.PlanStep, ma.controller.History(), now)
	if start.IsZero() {
		return
	}
	if !st.StepSince.Equal(time.UnixMilli(start.UnixMilli())) {
		m.saveStepStart(ctx, app, st.PlanStep, start)
	}
	if now.Sub(start) >= p.stepMin {
		m.advance(ctx, app, p, st.PlanStep, now)
	}
}

// planRunning reports whether st's plan runs; when it does not, the plan
// forgets its verdicts so that a resumed plan starts its clock afresh.
func (m *Manager) planRunning(p *plan, st state.AppState, now time.Time) bool {
	if p.running(st) {
		return true
	}
	p.begin(-1, now)
	return false
}

// saveStepStart saves when the step's clock started, for the status of
// every instance.
func (m *Manager) saveStepStart(ctx context.Context, app string, step int, start time.Time) {
	_, err := m.store.Update(ctx, app, func(s *state.AppState) error {
		if s.PlanStep != step || s.StepSince.IsZero() || s.Paused {
			return errPlanMoved
		}
		s.StepSince = start
		return nil
	})
	if err != nil && !errors.Is(err, errPlanMoved) && !errors.Is(err, state.ErrPending) {
		m.log.Error("saving the plan step's start", "app", app, "err", err)
	}
}

// advance moves the plan from step to the next one, unless it moved
// meanwhile.
func (m *Manager) advance(ctx context.Context, app string, p *plan, step int, now time.Time) {
	next := step + 1
	reason := fmt.Sprintf("plan step %s passed for %s", p.stepName(step), p.stepMin)
	err := m.setWeight(ctx, app, p.steps[next], state.ActorController, reason, func(s *state.AppState) error {
		if s.PlanStep != step || s.StepSince.IsZero() || s.Paused {
			return errPlanMoved
		}
		s.PlanStep, s.StepSince = next, now
		return nil
	})
	if errors.Is(err, errPlanMoved) {
		return
	}
	if err != nil && !errors.Is(err, state.ErrPending) {
		m.log.Error("advancing the plan", "app", app, "step", next, "err", err)
		return
	}
	p.begin(next, now)
	m.log.Info("plan advanced", "app", app, "step", p.stepName(next))
	m.record(ctx, state.Event{App: app, Kind: state.KindPlanStep, Actor: state.ActorController, Before: p.stepName(step), After: p.stepName(next), Reason: reason})
}
