package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/migratekit/migrate/admin"
	"github.com/migratekit/migrate/lb"
	"github.com/migratekit/migrate/state"
)

// liveBackends carries out the admin API's backend changes.
func (i *Instance) liveBackends() admin.Backends {
	return &localBackends{proxy: i.Proxy, store: i.store, log: i.log}
}

// localBackends carries out the admin API's live backend changes on this
// instance's proxy alone, recording an event for each (admin.Backends).
type localBackends struct {
	proxy *lb.Proxy
	store state.Store // nil: no events
	log   *slog.Logger
}

// List is app's backends as the proxy has them.
func (l *localBackends) List(_ context.Context, app string) ([]admin.Backend, error) {
	a, err := l.app(app)
	if err != nil {
		return nil, err
	}
	return admin.BackendsOf(a), nil
}

// Add adds the backend to side; an error of lb's that is none of its
// sentinels is about the backend given (its URL, scheme or name), which
// wraps admin.ErrBadBackend.
func (l *localBackends) Add(ctx context.Context, app, side, url, actor, reason string) error {
	a, err := l.app(app)
	if err != nil {
		return err
	}
	if err := a.AddBackend(ctx, side, url); err != nil {
		if !knownBackendErr(err) {
			err = fmt.Errorf("%w: %w", admin.ErrBadBackend, err)
		}
		return err
	}
	l.record(ctx, state.Event{App: app, Kind: admin.EventBackendAdd, Actor: actor, After: side + " " + url, Reason: reason})
	return nil
}

// Drain drains the backend; the event is recorded when the drain begins
// (the backend gets no new request from then), whether or not its
// requests in flight end before ctx.
func (l *localBackends) Drain(ctx context.Context, app, url, actor, reason string) (int64, error) {
	a, err := l.app(app)
	if err != nil {
		return 0, err
	}
	side := sideOf(a, url)
	waited, err := a.DrainBackend(ctx, url)
	after := fmt.Sprintf("drained, waited for %d", waited)
	if err != nil {
		after = fmt.Sprintf("draining, %d in flight at its start, not idle when the drain ended", waited)
	}
	if err == nil || ctx.Err() != nil {
		l.record(context.WithoutCancel(ctx), state.Event{App: app, Kind: admin.EventBackendDrain, Actor: actor, Before: side + " " + url,
			After: after, Reason: reason})
	}
	return waited, err
}

// Remove removes the drained backend.
func (l *localBackends) Remove(ctx context.Context, app, url, actor, reason string) error {
	a, err := l.app(app)
	if err != nil {
		return err
	}
	side := sideOf(a, url)
	if err := a.RemoveBackend(url); err != nil {
		return err
	}
	l.record(ctx, state.Event{App: app, Kind: admin.EventBackendRemove, Actor: actor, Before: side + " " + url, Reason: reason})
	return nil
}

func (l *localBackends) app(name string) (*lb.App, error) {
	if a := l.proxy.App(name); a != nil {
		return a, nil
	}
	return nil, fmt.Errorf("app %q: %w", name, ErrUnknownApp)
}

// sideOf is the side of a's backend at url ("" when it has none).
func sideOf(a *lb.App, url string) string {
	for _, b := range a.Backends() {
		if b.URL == url {
			return b.Side
		}
	}
	return ""
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

// record appends e to the store's events, as the weight changes' are
// (rollback.Manager): kept for the store while it is down.
func (l *localBackends) record(ctx context.Context, e state.Event) {
	if l.store == nil {
		return
	}
	_, err := l.store.AppendEvent(ctx, e)
	switch {
	case errors.Is(err, state.ErrPending):
		l.log.Debug("event kept until the state store is back", "app", e.App, "kind", e.Kind)
	case err != nil:
		l.log.Error("recording event", "app", e.App, "kind", e.Kind, "err", err)
	}
}
