package serve

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/migratekit/migrate/admin"
	"github.com/migratekit/migrate/lb"
	"github.com/migratekit/migrate/state"
)

// The admin API's live backend changes, shared through the state store:
// each is checked and applied on this instance's proxy at once, written
// to the store as an overlay entry (the other instances follow on its
// notification), and recorded as an event. While the store is down the
// change is in force here and the error wraps state.ErrPending: written
// when the store is back, and the other instances follow then.

// List is app's backends as this instance's proxy has them.
func (l *LiveBackends) List(_ context.Context, app string) ([]admin.Backend, error) {
	a, err := l.app(app)
	if err != nil {
		return nil, err
	}
	return admin.BackendsOf(a), nil
}

// Add adds the backend at url to side of app: served once it passes its
// first check, here and on every instance, whether the manifest lists it
// or not (until the manifest does, or a reset).
func (l *LiveBackends) Add(ctx context.Context, app, side, url, actor, reason string) error {
	a, err := l.app(app)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := a.AddBackend(ctx, side, url); err != nil {
		if !knownBackendErr(err) { // about the backend given: its URL, scheme or name
			err = fmt.Errorf("%w: %w", admin.ErrBadBackend, err)
		}
		return err
	}
	e := state.LiveBackend{App: app, Side: side, URL: url, Op: state.BackendAdded, Actor: actor, Reason: reason}
	err = l.save(ctx, e)
	if err != nil && !errors.Is(err, state.ErrPending) {
		l.undoAdd(a, side, url)
		return err
	}
	l.record(ctx, state.Event{App: app, Kind: state.KindBackendAdd, Actor: actor, After: side + " " + url, Reason: reason})
	return err
}

// undoAdd takes out a backend added here whose entry the store refused.
func (l *LiveBackends) undoAdd(a *lb.App, side, url string) {
	st := step{side: side, url: url, do: removeIt}
	key := a.Name() + "\n" + backendKey(side, url)
	l.busy[key] = true
	timeout := l.drainTimeout()
	l.wg.Go(func() { l.drainStep(a, st, key, timeout) })
}

// Drain sends the backend at url no new request, here and on every
// instance, and waits until ctx is done for those in flight here; waited
// is how many were in flight when it began.
func (l *LiveBackends) Drain(ctx context.Context, app, url, actor, reason string) (int64, error) {
	a, err := l.app(app)
	if err != nil {
		return 0, err
	}
	b, serr := l.startDrain(ctx, a, url, actor, reason)
	if serr != nil && !errors.Is(serr, state.ErrPending) {
		return 0, serr
	}
	waited, err := a.DrainBackend(ctx, b.URL)
	after := fmt.Sprintf("drained, waited for %d", waited)
	if err != nil {
		after = fmt.Sprintf("draining, %d in flight at its start, not idle when the drain ended", waited)
	}
	l.record(context.WithoutCancel(ctx), state.Event{App: app, Kind: state.KindBackendDrain, Actor: actor,
		Before: b.Side + " " + b.URL, After: after, Reason: reason})
	return waited, errors.Join(err, serr)
}

// startDrain writes the draining entry of the backend at url of a; it
// refuses to drain the last one of its pool in rotation.
func (l *LiveBackends) startDrain(ctx context.Context, a *lb.App, url, actor, reason string) (lb.BackendStatus, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, err := drainable(a, url)
	if err != nil {
		return b, err
	}
	e := state.LiveBackend{App: a.Name(), Side: b.Side, URL: b.URL, Op: state.BackendDraining, Actor: actor, Reason: reason}
	return b, l.save(ctx, e)
}

// drainable finds the backend at url of a and refuses to drain the last
// one of its pool in rotation, before anything is written.
func drainable(a *lb.App, url string) (lb.BackendStatus, error) {
	all := a.Backends()
	var found *lb.BackendStatus
	others := 0
	for i, b := range all {
		if backendKey(b.Side, b.URL) == backendKey(b.Side, url) {
			found = &all[i]
		}
	}
	if found == nil {
		return lb.BackendStatus{}, fmt.Errorf("backend %s of %s: %w", url, a.Name(), lb.ErrUnknownBackend)
	}
	for _, b := range all {
		if b.Side == found.Side && b.URL != found.URL && b.Healthy {
			others++
		}
	}
	if found.Healthy && others == 0 {
		return lb.BackendStatus{}, fmt.Errorf("draining backend %s: %w in rotation: add another first", url, lb.ErrLastBackend)
	}
	return *found, nil
}

// Remove removes the drained backend at url, here and on every instance,
// whether the manifest lists it or not (until it no longer does, or a
// reset).
func (l *LiveBackends) Remove(ctx context.Context, app, url, actor, reason string) error {
	a, err := l.app(app)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	side := ""
	for _, b := range a.Backends() {
		if backendKey(b.Side, b.URL) == backendKey(b.Side, url) {
			side, url = b.Side, b.URL
		}
	}
	if err := a.RemoveBackend(url); err != nil {
		return err
	}
	e := state.LiveBackend{App: app, Side: side, URL: url, Op: state.BackendRemoved, Actor: actor, Reason: reason}
	serr := l.save(ctx, e)
	if serr != nil && !errors.Is(serr, state.ErrPending) {
		l.retry[app] = true // the reconcile puts it back as the store has it
		return serr
	}
	l.record(ctx, state.Event{App: app, Kind: state.KindBackendRemove, Actor: actor, Before: side + " " + url, Reason: reason})
	return serr
}

// Reset drops app's live backend changes on every instance: the
// manifest's backends are served again (those added live are drained and
// removed, those removed live are added back).
func (l *LiveBackends) Reset(ctx context.Context, app, actor string) error {
	if _, err := l.app(app); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.store.ResetBackends(ctx, app)
	if err != nil && !errors.Is(err, state.ErrPending) {
		return fmt.Errorf("resetting live backends of %s: %w", app, err)
	}
	l.reconcileLocked(ctx, app)
	l.record(ctx, state.Event{App: app, Kind: state.KindBackendsReset, Actor: actor,
		After: strconv.Itoa(n), Reason: "the manifest's backends are served again"})
	return err
}

// save writes e to the store; state.ErrPending (kept here) is returned as
// it is, for the caller to answer 202.
func (l *LiveBackends) save(ctx context.Context, e state.LiveBackend) error {
	saved, err := l.store.SetBackend(ctx, e)
	if err != nil && !errors.Is(err, state.ErrPending) {
		return fmt.Errorf("saving live backend %s of %s: %w", e.URL, e.App, err)
	}
	if err == nil || errors.Is(err, state.ErrPending) {
		l.last[e.App] = upsertLive(l.last[e.App], saved)
	}
	return err
}

// upsertLive is es with e in place of the entry of its backend.
func upsertLive(es []state.LiveBackend, e state.LiveBackend) []state.LiveBackend {
	out := make([]state.LiveBackend, 0, len(es)+1)
	for _, o := range es {
		if o.Side != e.Side || o.URL != e.URL {
			out = append(out, o)
		}
	}
	return append(out, e)
}

func (l *LiveBackends) app(name string) (*lb.App, error) {
	if a := l.proxy.App(name); a != nil {
		return a, nil
	}
	return nil, fmt.Errorf("app %q: %w", name, ErrUnknownApp)
}

// record appends e to the store's events (kept for the store while it is
// down), logging an error.
func (l *LiveBackends) record(ctx context.Context, e state.Event) {
	_, err := l.store.AppendEvent(ctx, e)
	if err != nil && !errors.Is(err, state.ErrPending) {
		l.log.Error("recording event", "app", e.App, "kind", e.Kind, "err", err)
	}
}

// knownBackendErr reports whether err is one of lb's live-backend
// sentinels.
func knownBackendErr(err error) bool {
	for _, s := range []error{lb.ErrUnknownBackend, lb.ErrBackendExists, lb.ErrUnknownSide, lb.ErrLastBackend, lb.ErrNotDrained} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}
