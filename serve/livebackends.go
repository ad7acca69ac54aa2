package serve

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/migratekit/migrate/lb"
	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/state"
)

// Live backends shared across instances. The state store keeps every
// app's live backend changes as an overlay on the manifest (package
// state); each instance serves, on each side of each app, the manifest's
// backends with the overlay applied, the live state winning:
//
//   - added: served, listed by the manifest or not;
//   - draining: gets no new requests, listed by the manifest or not;
//   - removed: not served, listed by the manifest or not.
//
// An entry is retired (deleted from the store) once the manifest agrees
// with it: an added backend the manifest lists, a removed one it does not
// list. `migrate backends reset APP` drops an app's overlay: the
// manifest's backends are served again.
//
// LiveBackends applies that to the proxy with lb.App's methods (add,
// drain, drain then remove) at start, on every change the store reports
// (another instance's change arrives by the store's notification), after
// a reload (Reconcile), and again every retryEvery while a step was
// refused (the last backend of a pool, requests still in flight).

// retryEvery is how often an app whose reconcile could not finish is
// tried again.
const retryEvery = time.Second

// LiveBackends keeps this instance's backends in line with the manifest
// and the store's overlay, and carries out the admin API's live backend
// changes through the store (livebackends_ops.go).
type LiveBackends struct {
	store state.Store
	proxy *lb.Proxy
	log   *slog.Logger
	clock clockwork.Clock

	mu     sync.Mutex // serialises reconciles and changes
	m      *manifest.Manifest
	last   map[string][]state.LiveBackend // app -> overlay of its last reconcile
	busy   map[string]bool                // app\nkey -> a drain of ours runs
	again  map[string]bool                // app\nkey -> reconcile when its drain ends
	retry  map[string]bool                // apps whose last reconcile did not finish
	warned map[string]string              // app\nkey -> the last failure logged

	base context.Context // the drains' context, ended by close
	stop context.CancelFunc
	wg   sync.WaitGroup
}

// newLiveBackends applies the overlay to proxy's apps once, at start.
func newLiveBackends(ctx context.Context, store state.Store, proxy *lb.Proxy, m *manifest.Manifest, log *slog.Logger) *LiveBackends {
	l := &LiveBackends{store: store, proxy: proxy, log: log, clock: clockwork.NewRealClock(), m: m,
		last: map[string][]state.LiveBackend{}, busy: map[string]bool{}, again: map[string]bool{}, retry: map[string]bool{}, warned: map[string]string{}}
	l.base, l.stop = context.WithCancel(context.Background())
	l.Reconcile(ctx, m)
	return l
}

// Run applies the store's changes until ctx is done.
func (l *LiveBackends) Run(ctx context.Context) error {
	changes := l.store.WatchBackends(ctx)
	tick := l.clock.NewTicker(retryEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case c, ok := <-changes:
			if !ok {
				return nil
			}
			l.reconcileApp(ctx, c.App)
		case <-tick.Chan():
			for _, app := range l.retrying() {
				l.reconcileApp(ctx, app)
			}
		}
	}
}

// Reconcile makes m the manifest the overlay applies to and brings every
// served app in line: the reload calls it once the proxy serves m.
func (l *LiveBackends) Reconcile(ctx context.Context, m *manifest.Manifest) {
	l.mu.Lock()
	l.m = m
	l.mu.Unlock()
	for _, a := range l.proxy.Apps() {
		l.reconcileApp(ctx, a.Name())
	}
}

// Live returns app's overlay as of its last reconcile.
func (l *LiveBackends) Live(app string) []state.LiveBackend {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.last[app])
}

// close ends the drains and waits for them.
func (l *LiveBackends) close() {
	l.stop()
	l.wg.Wait()
}

func (l *LiveBackends) retrying() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, 0, len(l.retry))
	for app := range l.retry {
		out = append(out, app)
	}
	return out
}

// reconcileApp reads app's overlay, retires the entries the manifest
// agrees with, and applies the rest to the proxy.
func (l *LiveBackends) reconcileApp(ctx context.Context, app string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reconcileLocked(ctx, app)
}

func (l *LiveBackends) reconcileLocked(ctx context.Context, app string) {
	a, ma := l.proxy.App(app), l.m.Apps[app]
	if a == nil || ma == nil {
		return
	}
	overlay, err := l.store.LiveBackends(ctx, app)
	if err != nil && !errors.Is(err, state.ErrStoreDown) {
		l.log.Warn("reading live backends", "app", app, "err", err)
		l.retry[app] = true
		return
	}
	overlay = l.retire(ctx, ma, overlay)
	l.last[app] = overlay
	delete(l.retry, app)
	for _, st := range plan(ma, overlay, a.Backends()) {
		l.apply(ctx, a, st)
	}
}

// retire deletes from the store the entries of overlay the manifest
// agrees with, and returns the others.
func (l *LiveBackends) retire(ctx context.Context, ma *manifest.App, overlay []state.LiveBackend) []state.LiveBackend {
	var keep []state.LiveBackend
	for _, e := range overlay {
		why := agrees(ma, e)
		if why == "" {
			keep = append(keep, e)
			continue
		}
		ok, err := l.store.RetireBackend(ctx, e)
		if err != nil && !errors.Is(err, state.ErrPending) {
			l.log.Warn("retiring a live backend", "app", e.App, "backend", e.URL, "err", err)
		}
		if ok || errors.Is(err, state.ErrPending) {
			l.log.Info("live backend retired: the manifest agrees with it", "app", e.App, "side", e.Side, "backend", e.URL, "op", e.Op)
			l.record(ctx, state.Event{App: e.App, Kind: state.KindBackendRetired, Actor: state.ActorStore,
				Before: e.Side + " " + e.URL, After: e.Op, Reason: why})
		}
	}
	return keep
}

// agrees says why the manifest agrees with e (then e is retired), or "".
func agrees(ma *manifest.App, e state.LiveBackend) string {
	listed := listedBy(ma, e.Side, e.URL)
	switch {
	case e.Op == state.BackendAdded && listed:
		return "the manifest lists it now"
	case e.Op == state.BackendRemoved && !listed:
		return "the manifest no longer lists it"
	}
	return ""
}

// listedBy reports whether the manifest lists url on side of ma.
func listedBy(ma *manifest.App, side, raw string) bool {
	for _, u := range manifestBackends(ma, side) {
		if backendKey(side, u) == backendKey(side, raw) {
			return true
		}
	}
	return false
}

func manifestBackends(ma *manifest.App, side string) []string {
	if side == state.SideOld {
		return ma.Old.Backends
	}
	return ma.New.Backends
}

// backendKey identifies a backend of a side as lb does: scheme and host
// without case, the path with or without its trailing slash.
func backendKey(side, raw string) string {
	raw = strings.TrimSpace(raw)
	u, err := url.Parse(raw)
	if err != nil {
		return side + " " + raw
	}
	return side + " " + strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host) +
		strings.TrimSuffix(u.EscapedPath(), "/") + "?" + u.RawQuery
}
