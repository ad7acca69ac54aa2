package rollback

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"golang.org/x/sync/errgroup"

	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/state"
)

// Target is the running proxy's view of one app: what a weight change acts
// on (*lb.App).
type Target interface {
	Name() string
	Weight() int
	SetWeight(w int) error
}

// ManagerOptions are a Manager's dependencies.
type ManagerOptions struct {
	Store  state.Store
	Logger *slog.Logger    // nil: discard
	Clock  clockwork.Clock // nil: real time
}

// Manager carries out weight changes and rollbacks for the apps of one
// instance: it applies them to the proxy, saves them in the state store so
// every instance follows, records an event for each, runs the rollback
// hooks and notifies the apps' webhooks. It also follows the changes other
// instances make (Run). A store that is down never stops a rollback: the
// proxy is changed first, the store when it can be.
type Manager struct {
	store state.Store
	log   *slog.Logger
	clock clockwork.Clock

	mu       sync.Mutex
	apps     map[string]*managed
	webhooks map[string]*Webhook // by URL
	group    *errgroup.Group     // while Run runs: where apps' goroutines go
	runCtx   context.Context
	followed atomic.Int64 // state changes taken from the store (Followed)
}

type managed struct {
	target     Target
	app        *manifest.App
	controller *Controller
	webhook    *Webhook
	plan       *plan              // nil without cutover.plan
	stop       context.CancelFunc // ends its controller and plan (Remove)

	// decide serialises this instance's decisions on the app (a weight
	// set, a rollback: proxy, store, remember) with the following of the
	// states the store delivers (check, then proxy): a delivered state is
	// served whole before a decision or checked against it after, so an
	// older state never lands on the proxy after a newer decision.
	decide sync.Mutex

	mu         sync.Mutex
	saved      state.AppState // the last state the store delivered, or the rollback being saved here
	shadow     bool           // in the shadow phase here (ShadowPhase)
	sourceDown bool           // the last verdict's source was down
}

// NewManager returns a Manager with no apps.
func NewManager(opts ManagerOptions) *Manager {
	m := &Manager{store: opts.Store, log: opts.Logger, clock: opts.Clock, apps: map[string]*managed{}, webhooks: map[string]*Webhook{}}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.clock == nil {
		m.clock = clockwork.NewRealClock()
	}
	return m
}

// Add manages app through t. With a source, a Controller evaluates the
// app's rollback rules and acts through the Manager.
func (m *Manager) Add(t Target, a *manifest.App, src Source) error {
	rules, err := RulesFrom(a)
	if err != nil {
		return fmt.Errorf("apps.%s.rollback: %w", a.Name, err)
	}
	ma := &managed{target: t, app: a, plan: newPlan(a)}
	if a.Notify.Webhook != "" {
		if ma.webhook, err = m.webhook(a.Notify.Webhook); err != nil {
			return fmt.Errorf("apps.%s.notify.webhook: %w", a.Name, err)
		}
	}
	if src != nil {
		ma.controller = NewController(a.Name, rules, src, appActions{m, a.Name}, ControllerOptions{
			Clock: m.clock, Logger: m.log, OnVerdict: m.onVerdict,
		})
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.apps[a.Name] = ma
	return nil
}

// UpdateRules makes app's controller evaluate the rollback rules of a
// (a reload): its verdict history, breach count and source stay. It
// reports whether the rules changed. A change of the cutover plan or of
// the webhook is not applied (notApplied names it): they need a restart.
func (m *Manager) UpdateRules(a *manifest.App) (changed bool, notApplied []string, err error) {
	ma, err := m.get(a.Name)
	if err != nil {
		return false, nil, err
	}
	rules, err := RulesFrom(a)
	if err != nil {
		return false, nil, fmt.Errorf("apps.%s.rollback: %w", a.Name, err)
	}
	if ma.controller != nil && !reflect.DeepEqual(ma.controller.Rules(), rules.withDefaults()) {
		ma.controller.SetRules(rules)
		changed = true
	}
	if !slices.Equal(a.Cutover.Plan, ma.app.Cutover.Plan) || a.Cutover.StepMin != ma.app.Cutover.StepMin {
		notApplied = append(notApplied, "apps."+a.Name+".cutover.plan")
	}
	if a.Notify.Webhook != ma.app.Notify.Webhook {
		notApplied = append(notApplied, "apps."+a.Name+".notify.webhook")
	}
	return changed, notApplied, nil
}

func (m *Manager) webhook(url string) (*Webhook, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if w := m.webhooks[url]; w != nil {
		return w, nil
	}
	w, err := NewWebhook(url, WebhookOptions{Logger: m.log, Clock: m.clock})
	if err != nil {
		return nil, err
	}
	m.webhooks[url] = w
	if m.group != nil { // an app added while running (AddRunning)
		ctx := m.runCtx
		m.group.Go(func() error { return w.Run(ctx) })
	}
	return w, nil
}

func (m *Manager) get(app string) (*managed, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ma := m.apps[app]
	if ma == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownApp, app)
	}
	return ma, nil
}

// ErrUnknownApp is returned for an app the Manager does not manage.
var ErrUnknownApp = errors.New("app is not served by this instance")

// SetWeight sets app's weight on behalf of actor: saved first, so that a
// weight the store refused is never served, then applied, then recorded.
// A weight set by hand ends the app's progressive plan. While the state
// store is down the weight is applied here and kept for the store: the
// error then wraps state.ErrPending.
func (m *Manager) SetWeight(ctx context.Context, app string, w int, actor, reason string) error {
	return m.setWeight(ctx, app, w, actor, reason, func(s *state.AppState) error {
		s.StepSince = time.Time{}
		return nil
	})
}

// setWeight is SetWeight with plan changing the plan's position in the
// same update; an error from plan saves nothing and is returned wrapped.
func (m *Manager) setWeight(ctx context.Context, app string, w int, actor, reason string, plan func(*state.AppState) error) error {
	ma, err := m.get(app)
	if err != nil {
		return err
	}
	if w < 0 || w > 100 {
		return fmt.Errorf("setting weight %d: %w", w, state.ErrWeightRange)
	}
	ma.decide.Lock()
	defer ma.decide.Unlock()
	before := ma.target.Weight()
	var pending error
	if m.store != nil {
		st, err := m.store.Update(ctx, app, func(s *state.AppState) error {
			s.Weight, s.Phase = w, PhaseOf(w, mirrors(ma.app))
			if w > 0 {
				s.Paused = false
			}
			return plan(s)
		})
		if err == nil || errors.Is(err, state.ErrPending) {
			ma.remember(st)
		}
		switch {
		case errors.Is(err, state.ErrPending):
			pending = fmt.Errorf("saving the weight: %w", err)
		case err != nil:
			return fmt.Errorf("saving the weight: %w", err)
		}
	}
	if err := ma.target.SetWeight(w); err != nil {
		return err
	}
	ma.endShadow()
	if ma.controller != nil && w > before {
		ma.controller.Reset()
	}
	m.record(ctx, state.Event{App: app, Kind: state.KindWeight, Actor: actor, Before: strconv.Itoa(before), After: strconv.Itoa(w), Reason: reason})
	return pending
}

// Rollback sends every client of app back to old on behalf of actor (cli,
// api): the proxy first, then the store, then the event, hooks and
// notifications. While the state store is down the rollback is in force
// here and kept for the store: the error then wraps state.ErrPending.
func (m *Manager) Rollback(ctx context.Context, app, actor, reason string) error {
	return m.rollback(ctx, app, actor, reason, nil, false)
}

func (m *Manager) rollback(ctx context.Context, app, actor, reason string, v *Verdict, dry bool) error {
	ma, err := m.get(app)
	if err != nil {
		return err
	}
	ma.decide.Lock()
	before := ma.target.Weight()
	ev := Event{At: m.clock.Now(), App: app, Kind: EventRollback, Actor: actor, Reason: reason, WeightBefore: before, DryRun: dry, Verdict: v}
	var errs []error
	if !dry {
		to, step := m.rollbackTarget(ctx, ma)
		ev.WeightAfter = to
		ma.rollingBack(to)
		if err := ma.target.SetWeight(to); err != nil {
			ma.decide.Unlock()
			return err
		}
		ma.endShadow()
		if m.store != nil {
			st, err := m.store.Update(ctx, app, func(s *state.AppState) error {
				s.Weight, s.Phase, s.Paused = to, PhaseRolledBack, true
				if step >= 0 {
					s.PlanStep = step
				}
				return nil
			})
			if err == nil || errors.Is(err, state.ErrPending) {
				ma.remember(st)
			}
			if err != nil {
				// The proxy already sends everyone back. A store that is
				// down keeps the rollback and writes it once back (the
				// other instances follow then); another error is
				// retried by the next failing verdict.
				errs = append(errs, fmt.Errorf("saving the rollback: %w", err))
			}
		}
	} else {
		ev.WeightAfter = before
		ev.Reason = "dry run: " + reason
	}
	ma.decide.Unlock()
	se := state.Event{App: app, Kind: state.KindRollback, Actor: actor, Before: strconv.Itoa(before), After: strconv.Itoa(ev.WeightAfter), Reason: ev.Reason}
	m.record(ctx, se)
	m.log.Warn("rollback", "app", app, "actor", actor, "from", before, "dry_run", dry, "reason", ev.Reason)
	if ma.webhook != nil {
		ma.webhook.Notify(ev)
	}
	if hooks := ma.app.Rollback.Hooks; len(hooks) > 0 {
		// Hooks have their own timeouts; they must not hold the controller.
		go func() {
			if err := RunHooks(context.WithoutCancel(ctx), hooks, ev, m.log); err != nil {
				m.log.Error("rollback hooks", "app", app, "err", err)
			}
		}()
	}
	return errors.Join(errs...)
}

// rollbackTarget is where a rollback sets the weight: 0, or with
// rollback.to: last_good during a plan, the weight of the step before the
// current one (the last that passed), and that step.
func (m *Manager) rollbackTarget(ctx context.Context, ma *managed) (weight, step int) {
	plan := ma.app.Cutover.Plan
	if ma.app.Rollback.To != "last_good" || m.store == nil || len(plan) == 0 {
		return 0, -1
	}
	st, ok, err := m.store.Get(ctx, ma.app.Name)
	if err != nil || !ok || st.StepSince.IsZero() || st.PlanStep < 1 || st.PlanStep > len(plan) {
		return 0, -1
	}
	return plan[st.PlanStep-1], st.PlanStep - 1
}

func (m *Manager) record(ctx context.Context, e state.Event) {
	if m.store == nil {
		return
	}
	_, err := m.store.AppendEvent(ctx, e)
	switch {
	case errors.Is(err, state.ErrPending):
		m.log.Debug("event kept until the state store is back", "app", e.App, "kind", e.Kind)
	case err != nil:
		m.log.Error("recording event", "app", e.App, "kind", e.Kind, "err", err)
	}
}

func (m *Manager) onVerdict(v Verdict) {
	m.recordSource(v)
	var b strings.Builder
	for _, c := range v.Checks {
		if c.Result != Pass {
			if b.Len() > 0 {
				b.WriteString("; ")
			}
			b.WriteString(c.Reason)
		}
	}
	if v.Err != "" {
		b.WriteString(v.Err)
	}
	m.record(context.Background(), state.Event{App: v.App, Kind: state.KindVerdict, Actor: state.ActorController, After: v.Result, Reason: b.String()})
}

// appActions are the controller's Actions for one app.
type appActions struct {
	m   *Manager
	app string
}

func (a appActions) Rollback(ctx context.Context, v Verdict) error {
	if ma, err := a.m.get(a.app); err == nil && ma.target.Weight() == 0 {
		// Every client is on old already (a rollback another instance or a
		// person made): nothing to do, nothing to notify again.
		return nil
	}
	err := a.m.rollback(ctx, a.app, state.ActorController, reasonOf(v), &v, false)
	if errors.Is(err, state.ErrPending) {
		return nil // done here; the store takes it when it is back
	}
	return err
}

func (a appActions) DryRun(ctx context.Context, v Verdict) error {
	return a.m.rollback(ctx, a.app, state.ActorController, reasonOf(v), &v, true)
}

func reasonOf(v Verdict) string {
	var parts []string
	for _, c := range v.Checks {
		if c.Result == Fail {
			parts = append(parts, c.Reason)
		}
	}
	if len(parts) == 0 && v.Err != "" {
		parts = append(parts, v.Err)
	}
	return strings.Join(parts, "; ")
}

// Verdict returns the last verdict of app's controller; ok is false when
// the app has none yet.
func (m *Manager) Verdict(app string) (v Verdict, ok bool) {
	ma, err := m.get(app)
	if err != nil || ma.controller == nil {
		return Verdict{}, false
	}
	v = ma.controller.Last()
	return v, !v.At.IsZero()
}

// Events returns the recorded events q selects.
func (m *Manager) Events(ctx context.Context, q state.Query) ([]state.Event, error) {
	if m.store == nil {
		return nil, nil
	}
	return m.store.Events(ctx, q)
}

// Run runs the controllers, the progressive plans and the webhooks and follows the weights other
// instances save, until ctx is done.
func (m *Manager) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	m.mu.Lock()
	m.group, m.runCtx = g, gctx
	for name, ma := range m.apps {
		m.startApp(name, ma)
	}
	for _, w := range m.webhooks {
		g.Go(func() error { return w.Run(gctx) })
	}
	m.mu.Unlock()
	if m.store != nil {
		g.Go(func() error { m.follow(gctx); return nil })
	}
	err := g.Wait()
	m.mu.Lock()
	m.group, m.runCtx = nil, nil
	m.mu.Unlock()
	return err
}

// startApp runs app's controller and plan under a context of their own
// (m.mu held, Run running).
func (m *Manager) startApp(name string, ma *managed) {
	ctx, stop := context.WithCancel(m.runCtx)
	ma.stop = stop
	if ma.controller != nil {
		m.group.Go(func() error { return ma.controller.Run(ctx) })
	}
	if ma.plan != nil && ma.controller != nil && m.store != nil {
		m.group.Go(func() error { return m.runPlan(ctx, name, ma) })
	}
}

// Rules are the rollback rules app's controller evaluates now, defaults
// applied; ok is false for an app with no controller.
func (m *Manager) Rules(app string) (r Rules, ok bool) {
	ma, err := m.get(app)
	if err != nil || ma.controller == nil {
		return Rules{}, false
	}
	return ma.controller.Rules(), true
}

// AddRunning adds an app as Add does and, when the Manager runs, starts
// its controller and plan at once (an app a reload adds).
func (m *Manager) AddRunning(t Target, a *manifest.App, src Source) error {
	if err := m.Add(t, a, src); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.group != nil {
		m.startApp(a.Name, m.apps[a.Name])
	}
	return nil
}

// Remove stops managing app (a reload removed it): its controller and
// plan stop; its saved state stays in the store.
func (m *Manager) Remove(app string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ma := m.apps[app]; ma != nil {
		if ma.stop != nil {
			ma.stop()
		}
		delete(m.apps, app)
	}
}

// follow applies the weights saved by this or another instance, except to
// an app in the shadow phase here.
func (m *Manager) follow(ctx context.Context) {
	for ch := range m.store.Watch(ctx) {
		if ma, err := m.get(ch.App); err == nil {
			m.apply(ma, ch.State)
		}
		m.followed.Add(1)
	}
}

// Followed is how many state changes this instance has taken from the
// store (by its change notification or its poll) and dealt with: served,
// or left because the app is in the shadow phase here or the change is
// older than what it knows.
func (m *Manager) Followed() int64 { return m.followed.Load() }

// apply serves st's weight, unless the app is in the shadow phase here or
// st is older than what this instance knows (a decision taken here after
// the store delivered st).
func (m *Manager) apply(ma *managed, st state.AppState) {
	ma.decide.Lock()
	defer ma.decide.Unlock()
	if !ma.follows(st) || ma.target.Weight() == st.Weight {
		return
	}
	if err := ma.target.SetWeight(st.Weight); err != nil {
		m.log.Error("following the saved weight", "app", st.App, "err", err)
		return
	}
	m.log.Info("weight followed from the state store", "app", st.App, "weight", st.Weight)
}
