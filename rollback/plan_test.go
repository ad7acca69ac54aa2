package rollback

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jonboulle/clockwork"

	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/state"
)

// planTarget is a proxy app's weight.
type planTarget struct {
	mu sync.Mutex
	w  int
}

func (t *planTarget) Name() string { return "shop" }

func (t *planTarget) Weight() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.w
}

func (t *planTarget) SetWeight(w int) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.w = w
	return nil
}

// planSource answers a healthy old side and the new side it is set to.
type planSource struct {
	mu  sync.Mutex
	new SideSample
}

func (s *planSource) set(ss SideSample) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.new = ss
}

func (s *planSource) Sample(_ context.Context, _ string, window time.Duration) (Sample, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Sample{Window: window, Old: side(1000, 0), New: s.new}, nil
}

var (
	healthy = side(1000, 0)
	quiet   = side(0, 0)
	broken  = side(1000, 900)
)

// planRig is a Manager of one app "shop" with the plan [5, 25, 50, 100]
// and a one-minute step_min, on an embedded store in dir, driven by hand:
// each tick advances the clock by the interval, evaluates the rules once
// and looks at the plan once.
type planRig struct {
	t      *testing.T
	clock  *clockwork.FakeClock
	store  state.Store
	mgr    *Manager
	src    *planSource
	target *planTarget
}

func newPlanRig(t *testing.T, dir string, clock *clockwork.FakeClock) *planRig {
	t.Helper()
	store, err := state.OpenWith(t.Context(), manifest.State{}, state.Options{DataDir: dir, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	r := &planRig{t: t, clock: clock, store: store, src: &planSource{new: healthy}, target: &planTarget{}}
	r.mgr = NewManager(ManagerOptions{Store: store, Clock: clock})
	app := &manifest.App{Name: "shop", Cutover: manifest.Cutover{Plan: []int{5, 25, 50, 100}, StepMin: manifest.Duration(time.Minute)}}
	if err := r.mgr.Add(r.target, app, r.src); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *planRig) tick(n int) {
	ma, err := r.mgr.get("shop")
	if err != nil {
		r.t.Fatal(err)
	}
	for range n {
		r.clock.Advance(time.Second)
		ma.controller.Step(r.t.Context())
		r.mgr.planTick(r.t.Context(), "shop", ma)
	}
}

func (r *planRig) start() {
	if err := r.mgr.StartPlan(r.t.Context(), "shop", state.ActorCLI, 0); err != nil {
		r.t.Fatal(err)
	}
}

// position is the saved plan position and weight, and the plan's state.
type position struct {
	Step, Weight, Served int
	Paused               bool
	State                string
}

func (r *planRig) position() position {
	r.t.Helper()
	st, _, err := r.store.Get(r.t.Context(), "shop")
	if err != nil {
		r.t.Fatal(err)
	}
	ps, _ := r.mgr.PlanStatus("shop")
	return position{Step: st.PlanStep, Weight: st.Weight, Served: r.target.Weight(), Paused: st.Paused, State: ps.State}
}

// phase is one stretch of a plan test: traffic for a number of ticks, then
// the expected position.
type phase struct {
	name  string
	new   SideSample
	ticks int
	start bool // StartPlan before the ticks
	want  position
}

func runPhases(t *testing.T, r *planRig, phases []phase) {
	t.Helper()
	for _, ph := range phases {
		r.src.set(ph.new)
		if ph.start {
			r.start()
		}
		r.tick(ph.ticks)
		if diff := cmp.Diff(r.position(), ph.want); diff != "" {
			t.Fatalf("%s: position (-got +want):\n%s", ph.name, diff)
		}
	}
}

// A step lasts step_min from its first pass verdict, one interval after
// the step began: 61 ticks of one second.
func TestPlanAdvancesAfterStepMinOfPass(t *testing.T) {
	r := newPlanRig(t, t.TempDir(), clockwork.NewFakeClock())
	runPhases(t, r, []phase{
		{name: "started", new: healthy, start: true, want: position{Step: 0, Weight: 5, Served: 5, State: PlanHolding}},
		{name: "just short of step_min", new: healthy, ticks: 60, want: position{Step: 0, Weight: 5, Served: 5, State: PlanRunning}},
		{name: "step_min of pass", new: healthy, ticks: 1, want: position{Step: 1, Weight: 25, Served: 25, State: PlanHolding}},
		{name: "second step", new: healthy, ticks: 61, want: position{Step: 2, Weight: 50, Served: 50, State: PlanHolding}},
		{name: "last step", new: healthy, ticks: 61, want: position{Step: 3, Weight: 100, Served: 100, State: PlanDone}},
		{name: "stays at the last step", new: healthy, ticks: 200, want: position{Step: 3, Weight: 100, Served: 100, State: PlanDone}},
	})
	evs, err := r.store.Events(t.Context(), state.Query{App: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		if e.Kind == state.KindPlanStep {
			got = append(got, e.Actor+" "+e.After)
		}
	}
	want := []string{"cli 1/4 (5%)", "controller 2/4 (25%)", "controller 3/4 (50%)", "controller 4/4 (100%)"}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("plan_step events (-got +want):\n%s", diff)
	}
}

// Insufficient verdicts hold the step and restart its clock: the passes
// before them do not count.
func TestPlanInsufficientHolds(t *testing.T) {
	r := newPlanRig(t, t.TempDir(), clockwork.NewFakeClock())
	runPhases(t, r, []phase{
		{name: "passing", new: healthy, ticks: 40, start: true, want: position{Step: 0, Weight: 5, Served: 5, State: PlanRunning}},
		{name: "no traffic", new: quiet, ticks: 300, want: position{Step: 0, Weight: 5, Served: 5, State: PlanHolding}},
		{name: "passing again, short of step_min", new: healthy, ticks: 60, want: position{Step: 0, Weight: 5, Served: 5, State: PlanRunning}},
		{name: "step_min of pass", new: healthy, ticks: 1, want: position{Step: 1, Weight: 25, Served: 25, State: PlanHolding}},
	})
}

// A failure rolls back and pauses the plan; it stays paused until started
// again, and resumes at the step it was at.
func TestPlanFailPauses(t *testing.T) {
	r := newPlanRig(t, t.TempDir(), clockwork.NewFakeClock())
	runPhases(t, r, []phase{
		{name: "first step", new: healthy, ticks: 61, start: true, want: position{Step: 1, Weight: 25, Served: 25, State: PlanHolding}},
		{name: "passing", new: healthy, ticks: 30, want: position{Step: 1, Weight: 25, Served: 25, State: PlanRunning}},
		{name: "failure", new: broken, ticks: 1, want: position{Step: 1, Weight: 0, Served: 0, Paused: true, State: PlanPaused}},
		{name: "healthy again", new: healthy, ticks: 300, want: position{Step: 1, Weight: 0, Served: 0, Paused: true, State: PlanPaused}},
		{name: "resumed at the first step", new: healthy, start: true, want: position{Step: 0, Weight: 5, Served: 5, State: PlanHolding}},
		{name: "next step", new: healthy, ticks: 61, want: position{Step: 1, Weight: 25, Served: 25, State: PlanHolding}},
	})
}

// TestPlanResumesFromFirstStep: a rollback at the plan's last step (100%)
// pauses it; started again, it resumes at its first step, or at the step
// given, never at the one that failed.
func TestPlanResumesFromFirstStep(t *testing.T) {
	tests := []struct {
		name string
		from int
		want position
	}{
		{"first step", 0, position{Step: 0, Weight: 5, Served: 5, State: PlanHolding}},
		{"the step given", 3, position{Step: 2, Weight: 50, Served: 50, State: PlanHolding}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newPlanRig(t, t.TempDir(), clockwork.NewFakeClock())
			r.start()
			if err := r.promote(true); err != nil {
				t.Fatal(err)
			}
			runPhases(t, r, []phase{
				{name: "last step fails", new: broken, ticks: 2, want: position{Step: 3, Weight: 0, Served: 0, Paused: true, State: PlanPaused}},
			})
			r.src.set(healthy)
			if err := r.mgr.StartPlan(t.Context(), "shop", state.ActorCLI, tt.from); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(r.position(), tt.want); diff != "" {
				t.Errorf("position after starting again (-got +want):\n%s", diff)
			}
		})
	}
}

// TestStartPlanFromStepRefused: a step given to a running plan, or one the
// plan does not have, is refused and changes nothing.
func TestStartPlanFromStepRefused(t *testing.T) {
	r := newPlanRig(t, t.TempDir(), clockwork.NewFakeClock())
	if err := r.mgr.StartPlan(t.Context(), "shop", state.ActorCLI, 5); !errors.Is(err, ErrStepRange) {
		t.Errorf("StartPlan(step 5 of 4) = %v, want %v", err, ErrStepRange)
	}
	r.start()
	if err := r.mgr.StartPlan(t.Context(), "shop", state.ActorCLI, 2); !errors.Is(err, ErrPlanRunning) {
		t.Errorf("StartPlan(step 2) of a running plan = %v, want %v", err, ErrPlanRunning)
	}
	if diff := cmp.Diff(r.position(), position{Step: 0, Weight: 5, Served: 5, State: PlanHolding}); diff != "" {
		t.Errorf("position (-got +want):\n%s", diff)
	}
}

// A manual weight ends the plan.
func TestPlanManualWeightEnds(t *testing.T) {
	r := newPlanRig(t, t.TempDir(), clockwork.NewFakeClock())
	r.start()
	if err := r.mgr.SetWeight(t.Context(), "shop", 10, state.ActorCLI, "by hand"); err != nil {
		t.Fatal(err)
	}
	r.tick(300)
	if diff := cmp.Diff(r.position(), position{Step: 0, Weight: 10, Served: 10, State: PlanStopped}); diff != "" {
		t.Errorf("position (-got +want):\n%s", diff)
	}
}

// A new Manager on the same store resumes at the saved step, and starts
// the step's clock again at its first pass: the time before the restart
// does not count.
func TestPlanResumesAfterRestart(t *testing.T) {
	dir := t.TempDir()
	first := newPlanRig(t, dir, clockwork.NewFakeClock())
	runPhases(t, first, []phase{
		{name: "first step", new: healthy, ticks: 61, start: true, want: position{Step: 1, Weight: 25, Served: 25, State: PlanHolding}},
		{name: "most of the second", new: healthy, ticks: 50, want: position{Step: 1, Weight: 25, Served: 25, State: PlanRunning}},
	})
	if err := first.store.Close(); err != nil {
		t.Fatal(err)
	}
	second := newPlanRig(t, dir, clockwork.NewFakeClockAt(first.clock.Now().Add(time.Minute)))
	second.target.SetWeight(25) // as the proxy follows the store
	runPhases(t, second, []phase{
		{name: "restarted", new: healthy, want: position{Step: 1, Weight: 25, Served: 25, State: PlanHolding}},
		{name: "time before the restart does not count", new: healthy, ticks: 61, want: position{Step: 1, Weight: 25, Served: 25, State: PlanRunning}},
		{name: "step_min after the restart", new: healthy, ticks: 1, want: position{Step: 2, Weight: 50, Served: 50, State: PlanHolding}},
	})
}

func TestPlanStatus(t *testing.T) {
	r := newPlanRig(t, t.TempDir(), clockwork.NewFakeClock())
	r.start()
	r.tick(21)
	got, ok := r.mgr.PlanStatus("shop")
	if !ok {
		t.Fatal("PlanStatus: ok = false")
	}
	want := PlanStatus{Steps: []int{5, 25, 50, 100}, Step: 0, Weight: 5, StepMin: time.Minute, State: PlanRunning, Verdict: Pass, Next: 40 * time.Second}
	if diff := cmp.Diff(got, want, cmp.FilterPath(func(p cmp.Path) bool { return p.String() == "Since" }, cmp.Ignore())); diff != "" {
		t.Errorf("PlanStatus (-got +want):\n%s", diff)
	}
}

func TestStartPlanErrors(t *testing.T) {
	store, err := state.OpenWith(t.Context(), manifest.State{}, state.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	withPlan := manifest.Cutover{Plan: []int{50, 100}}
	tests := []struct {
		name  string
		store state.Store
		app   manifest.App
		src   Source
		want  error
	}{
		{name: "no plan", store: store, app: manifest.App{Name: "shop"}, src: &planSource{}, want: ErrNoPlan},
		{name: "no analysis", store: store, app: manifest.App{Name: "shop", Cutover: withPlan}, want: ErrNoAnalysis},
		{name: "no store", app: manifest.App{Name: "shop", Cutover: withPlan}, src: &planSource{}, want: ErrNoStore},
		{name: "unknown app", store: store, app: manifest.App{Name: "blog", Cutover: withPlan}, src: &planSource{}, want: ErrUnknownApp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewManager(ManagerOptions{Store: tt.store})
			if err := m.Add(&planTarget{}, &tt.app, tt.src); err != nil {
				t.Fatal(err)
			}
			err := m.StartPlan(t.Context(), "shop", state.ActorCLI, 0)
			if !errors.Is(err, tt.want) {
				t.Errorf("StartPlan() = %v, want %v", err, tt.want)
			}
		})
	}
}

// Manager.Run runs the plan: on the fake clock, a healthy new side takes
// the plan from its first step to the next.
func TestRunAdvancesPlan(t *testing.T) {
	r := newPlanRig(t, t.TempDir(), clockwork.NewFakeClock())
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.mgr.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	r.start()
	ma, err := r.mgr.get("shop")
	if err != nil {
		t.Fatal(err)
	}
	// Advance only once Run's two tickers (the controller's, the plan's)
	// are on the clock: an Advance before one exists is lost to it.
	waitCtx, stop := context.WithTimeout(ctx, 10*time.Second)
	defer stop()
	if err := r.clock.BlockUntilContext(waitCtx, 2); err != nil {
		t.Fatalf("Run's controller and plan tickers not on the fake clock within 10s: %v", err)
	}
	for i := 0; i < 300 && r.target.Weight() == 5; i++ {
		r.clock.Advance(time.Second)
		// Wait for the controller's verdict of this second, so that the
		// plan sees every second's verdict.
		now, deadline := r.clock.Now(), time.Now().Add(10*time.Second)
		for !ma.controller.Last().At.Equal(now) {
			if time.Now().After(deadline) {
				t.Fatalf("the controller did not evaluate at %s", now)
			}
			time.Sleep(time.Millisecond)
		}
	}
	if got := r.target.Weight(); got != 25 {
		t.Errorf("weight after 300s of pass = %d, want 25", got)
	}
}

// A new side that keeps failing after the rollback, while its window still
// holds the failures, is rolled back once: one event, not one a second.
func TestRollbackOnceWhileStillFailing(t *testing.T) {
	r := newPlanRig(t, t.TempDir(), clockwork.NewFakeClock())
	if err := r.mgr.SetWeight(t.Context(), "shop", 50, state.ActorCLI, "test"); err != nil {
		t.Fatal(err)
	}
	r.src.set(broken)
	r.tick(30)
	if got := r.target.Weight(); got != 0 {
		t.Fatalf("weight %d after 30 failing evaluations, want 0", got)
	}
	evs, err := r.store.Events(t.Context(), state.Query{App: "shop", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var rollbacks int
	for _, e := range evs {
		if e.Kind == state.KindRollback {
			rollbacks++
		}
	}
	if rollbacks != 1 {
		t.Errorf("%d rollback events, want 1", rollbacks)
	}
}

// With rollback.to: last_good, a failing step goes back to the step before
// it; started again, the plan resumes at its first step.
func TestRollbackToLastGood(t *testing.T) {
	r := newPlanRig(t, t.TempDir(), clockwork.NewFakeClock())
	r.mgr.apps["shop"].app.Rollback.To = "last_good"
	runPhases(t, r, []phase{
		{name: "first step", new: healthy, ticks: 61, start: true, want: position{Step: 1, Weight: 25, Served: 25, State: PlanHolding}},
		{name: "second step", new: healthy, ticks: 62, want: position{Step: 2, Weight: 50, Served: 50, State: PlanRunning}},
		{name: "failure", new: broken, ticks: 2, want: position{Step: 1, Weight: 25, Served: 25, Paused: true, State: PlanPaused}},
		{name: "resumed at the first step", new: healthy, start: true, want: position{Step: 0, Weight: 5, Served: 5, State: PlanHolding}},
	})
}

// promote is a phase step: PromotePlan by hand, then the position.
func (r *planRig) promote(full bool) error {
	return r.mgr.PromotePlan(r.t.Context(), "shop", state.ActorCLI, full)
}

// TestPlanPromote moves a running plan on by hand: to the next step at
// once, whatever the step's clock says; the step after it waits its own
// step_min again; --full goes to the last step; a promote event says so.
func TestPlanPromote(t *testing.T) {
	r := newPlanRig(t, t.TempDir(), clockwork.NewFakeClock())
	runPhases(t, r, []phase{
		{name: "started, ten seconds into the first step", new: healthy, ticks: 10, start: true, want: position{Step: 0, Weight: 5, Served: 5, State: PlanRunning}},
	})
	if err := r.promote(false); err != nil {
		t.Fatal(err)
	}
	runPhases(t, r, []phase{
		{name: "promoted", new: healthy, want: position{Step: 1, Weight: 25, Served: 25, State: PlanHolding}},
		{name: "the promoted step waits its step_min", new: healthy, ticks: 60, want: position{Step: 1, Weight: 25, Served: 25, State: PlanRunning}},
		{name: "and then advances", new: healthy, ticks: 1, want: position{Step: 2, Weight: 50, Served: 50, State: PlanHolding}},
	})
	if err := r.promote(true); err != nil {
		t.Fatal(err)
	}
	runPhases(t, r, []phase{
		{name: "promoted to the end", new: healthy, want: position{Step: 3, Weight: 100, Served: 100, State: PlanDone}},
	})
	if err := r.promote(false); !errors.Is(err, ErrPlanDone) {
		t.Errorf("PromotePlan at the last step = %v, want ErrPlanDone", err)
	}
	evs, err := r.store.Events(t.Context(), state.Query{App: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	var promoted []string
	for _, e := range evs {
		if e.Kind == state.KindPlanStep && e.Actor == state.ActorCLI && strings.HasPrefix(e.Reason, "plan promoted") {
			promoted = append(promoted, e.Before+" -> "+e.After+": "+e.Reason)
		}
	}
	want := []string{
		"1/4 (5%) -> 2/4 (25%): plan promoted by hand from step 1/4 (5%) to 2/4 (25%)",
		"3/4 (50%) -> 4/4 (100%): plan promoted by hand from step 3/4 (50%) to 4/4 (100%)",
	}
	if diff := cmp.Diff(promoted, want); diff != "" {
		t.Errorf("promote events (-got +want):\n%s", diff)
	}
}

// TestPlanPromoteRefuses: a plan that is not started, or paused by a
// rollback, is not promoted, and nothing moves.
func TestPlanPromoteRefuses(t *testing.T) {
	r := newPlanRig(t, t.TempDir(), clockwork.NewFakeClock())
	if err := r.promote(false); !errors.Is(err, ErrPlanNotRunning) {
		t.Errorf("PromotePlan before the start = %v, want ErrPlanNotRunning", err)
	}
	runPhases(t, r, []phase{
		{name: "started", new: healthy, ticks: 5, start: true, want: position{Step: 0, Weight: 5, Served: 5, State: PlanRunning}},
		{name: "rolled back", new: broken, ticks: 1, want: position{Step: 0, Weight: 0, Served: 0, Paused: true, State: PlanPaused}},
	})
	if err := r.promote(true); !errors.Is(err, ErrPlanNotRunning) {
		t.Errorf("PromotePlan while paused = %v, want ErrPlanNotRunning", err)
	}
	if diff := cmp.Diff(r.position(), position{Step: 0, Weight: 0, Served: 0, Paused: true, State: PlanPaused}); diff != "" {
		t.Errorf("position after refused promotes (-got +want):\n%s", diff)
	}
}
