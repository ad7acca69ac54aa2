package serve

import (
	"context"
	"errors"
	"time"

	"github.com/migratekit/migrate/lb"
	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/state"
)

// action is what a backend needs to be in line with the desired set.
type action int

const (
	addIt    action = iota // served, not in the pool: add
	drainIt                // in the pool, to drain
	removeIt               // in the pool, not desired: drain, then remove
	readdIt                // draining, desired served: drain, remove, add (lb has no undrain)
)

func (a action) String() string {
	return [...]string{"add", "drain", "remove", "re-add"}[a]
}

// step is one change of one backend.
type step struct {
	side, url string
	do        action
}

// want is what the desired set says of one backend.
type want struct {
	side, url string
	op        string // state.BackendAdded (served), BackendDraining or BackendRemoved
}

// desired is the manifest's backends of ma with overlay applied, by
// backendKey.
func desired(ma *manifest.App, overlay []state.LiveBackend) map[string]want {
	out := map[string]want{}
	for _, side := range []string{state.SideOld, state.SideNew} {
		for _, u := range manifestBackends(ma, side) {
			out[backendKey(side, u)] = want{side: side, url: u, op: state.BackendAdded}
		}
	}
	for _, e := range overlay {
		out[backendKey(e.Side, e.URL)] = want{side: e.Side, url: e.URL, op: e.Op}
	}
	return out
}

// plan lists the steps that bring the pools (have) in line with the
// desired set: adds first, so that a drain finds another backend in
// rotation.
func plan(ma *manifest.App, overlay []state.LiveBackend, have []lb.BackendStatus) []step {
	want := desired(ma, overlay)
	var adds, others []step
	seen := map[string]bool{}
	for _, b := range have {
		k := backendKey(b.Side, b.URL)
		seen[k] = true
		w, ok := want[k]
		switch {
		case !ok || w.op == state.BackendRemoved:
			others = append(others, step{b.Side, b.URL, removeIt})
		case w.op == state.BackendDraining && !b.Draining:
			others = append(others, step{b.Side, b.URL, drainIt})
		case w.op == state.BackendAdded && b.Draining:
			others = append(others, step{b.Side, b.URL, readdIt})
		}
	}
	for k, w := range want {
		if !seen[k] && w.op == state.BackendAdded {
			adds = append(adds, step{w.side, w.url, addIt})
		}
	}
	return append(adds, others...)
}

// apply carries out st on a: an add at once, a drain (out of rotation at
// once, then the wait for the requests in flight in a goroutine of its own
// bounded by the manifest's drain). A step that fails is tried
// again at the next retry.
func (l *LiveBackends) apply(ctx context.Context, a *lb.App, st step) {
	app := a.Name()
	if st.do == addIt {
		err := a.AddBackend(ctx, st.side, st.url)
		if err != nil && !errors.Is(err, lb.ErrBackendExists) {
			l.failed(app, st, err)
			return
		}
		delete(l.warned, app+"\n"+backendKey(st.side, st.url))
		l.log.Info("live backend applied", "app", app, "side", st.side, "backend", st.url, "step", st.do.String())
		return
	}
	key := app + "\n" + backendKey(st.side, st.url)
	if l.busy[key] {
		l.again[key] = true // the change came during the drain: once it ends
		return
	}
	if err := markDraining(a, st.url); err != nil {
		l.failed(app, st, err)
		return
	}
	l.busy[key] = true
	timeout := l.drainTimeout()
	l.wg.Go(func() { l.drainStep(a, st, key, timeout) })
}

// markDraining takes the backend at url out of rotation now (a drain
// that does not wait), so that it gets no new request from the moment the
// reconcile sees the change; drainStep waits for those in flight.
func markDraining(a *lb.App, url string) error {
	done, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := a.DrainBackend(done, url)
	if errors.Is(err, context.Canceled) || errors.Is(err, lb.ErrUnknownBackend) {
		return nil
	}
	return err
}

// drainStep drains st's backend (until timeout), then removes it (and adds it again) when
// st says so.
func (l *LiveBackends) drainStep(a *lb.App, st step, key string, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(l.base, timeout)
	waited, err := a.DrainBackend(ctx, st.url)
	cancel()
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.busy, key)
	if err == nil && st.do != drainIt {
		err = a.RemoveBackend(st.url)
	}
	if err == nil && st.do == readdIt {
		err = a.AddBackend(l.base, st.side, st.url)
	}
	switch {
	case errors.Is(err, lb.ErrUnknownBackend):
	case err != nil && l.base.Err() == nil:
		l.failed(a.Name(), st, err)
	case err == nil:
		delete(l.warned, key)
		l.log.Info("live backend applied", "app", a.Name(), "side", st.side, "backend", st.url, "step", st.do.String(), "waited_for", waited)
	}
	if l.again[key] && l.base.Err() == nil {
		delete(l.again, key)
		l.reconcileLocked(l.base, a.Name())
	}
}

func (l *LiveBackends) drainTimeout() time.Duration {
	return l.m.Global.Drain.Or(manifest.DefaultDrain)
}

// failed logs a step that failed, once per reason, and has the app tried
// again.
func (l *LiveBackends) failed(app string, st step, err error) {
	key := app + "\n" + backendKey(st.side, st.url)
	if l.warned[key] != err.Error() {
		l.log.Warn("live backend not applied yet: trying again", "app", app, "side", st.side, "backend", st.url,
			"step", st.do.String(), "err", err)
	}
	l.warned[key] = err.Error()
	l.retry[app] = true
}
