package state

import (
	"context"
	"maps"
	"slices"
)

// The hub's live backends: every app's overlay as last read or written,
// and the WatchBackends channels to tell when one changes. Like the apps'
// states, an overlay offered by this instance (its own write, or one read
// after a change notification) wins over a re-read that began before it.

// liveOf returns app's overlay, sorted.
func (h *hub) liveOf(app string) []LiveBackend {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.live[app])
}

// allLive returns every entry, sorted by app, side and URL.
func (h *hub) allLive() []LiveBackend {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.allLiveLocked()
}

func (h *hub) allLiveLocked() []LiveBackend {
	var out []LiveBackend
	for _, app := range slices.Sorted(maps.Keys(h.live)) {
		out = append(out, h.live[app]...)
	}
	return out
}

// offerLive records es as app's overlay and tells the watchers if it
// changed.
func (h *hub) offerLive(app string, es []LiveBackend) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	h.ltouched[app] = h.seq
	h.setLiveLocked(app, es, false)
}

// replaceLive records the overlays read from the backend (all of them:
// an app missing from byApp has none) after mark returned since, leaving
// alone the apps offered an overlay in between. With all, every app's
// overlay is delivered to the watchers again, changed or not.
func (h *hub) replaceLive(byApp map[string][]LiveBackend, since uint64, all bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	apps := slices.Collect(maps.Keys(byApp))
	for app := range h.live {
		if _, ok := byApp[app]; !ok {
			apps = append(apps, app)
		}
	}
	for _, app := range apps {
		if h.ltouched[app] > since {
			continue
		}
		h.setLiveLocked(app, byApp[app], all)
	}
}

func (h *hub) setLiveLocked(app string, es []LiveBackend, always bool) {
	es = slices.Clone(es)
	sortLive(es)
	if sameOverlay(h.live[app], es) {
		if always {
			h.notifyLiveLocked(app, es)
		}
		return
	}
	h.gen++
	if len(es) == 0 {
		delete(h.live, app)
	} else {
		h.live[app] = es
	}
	h.notifyLiveLocked(app, es)
}

func (h *hub) notifyLiveLocked(app string, es []LiveBackend) {
	for w := range h.lwatch {
		w.add(app, BackendsChange{App: app, Backends: slices.Clone(es)})
	}
}

// watchLive starts a watcher that first gets every app's overlay.
func (h *hub) watchLive(ctx context.Context) <-chan BackendsChange {
	w := newWatcher[BackendsChange]()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(w.out)
		return w.out
	}
	for _, app := range slices.Sorted(maps.Keys(h.live)) {
		w.add(app, BackendsChange{App: app, Backends: slices.Clone(h.live[app])})
	}
	h.lwatch[w] = struct{}{}
	startLocked(h, ctx, w, func() { delete(h.lwatch, w) })
	return w.out
}

// groupLive groups entries by app.
func groupLive(es []LiveBackend) map[string][]LiveBackend {
	out := map[string][]LiveBackend{}
	for _, e := range es {
		out[e.App] = append(out[e.App], e)
	}
	return out
}
