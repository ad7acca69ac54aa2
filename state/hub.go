package state

import (
	"context"
	"slices"
	"strings"
	"sync"
)

// hub is a store's last known state of every app and the watchers to tell
// when it changes. Both backends feed it: their own updates (offer, gated on
// Version, so a late answer never replaces a newer state) and the periodic
// re-read of the backend (replace, which is the truth but yields to any
// offer made while it was reading).
type hub struct {
	mu       sync.Mutex
	known    map[string]AppState
	touched  map[string]uint64 // app -> seq of its last offer
	seq      uint64
	gen      uint64 // counts the changes of known
	watchers map[*watcher[Change]]struct{}
	// live is every app's live backends (backends_hub.go).
	live     map[string][]LiveBackend
	ltouched map[string]uint64
	lwatch   map[*watcher[BackendsChange]]struct{}
	closed   bool
	done     chan struct{}
	wg       sync.WaitGroup
}

func newHub() *hub {
	return &hub{
		known:    map[string]AppState{},
		touched:  map[string]uint64{},
		watchers: map[*watcher[Change]]struct{}{},
		live:     map[string][]LiveBackend{},
		ltouched: map[string]uint64{},
		lwatch:   map[*watcher[BackendsChange]]struct{}{},
		done:     make(chan struct{}),
	}
}

// get returns the last known state of app.
func (h *hub) get(app string) (AppState, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st, ok := h.known[app]
	return st, ok
}

// all returns the last known state of every app, sorted by name.
func (h *hub) all() []AppState {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sortedLocked()
}

func (h *hub) sortedLocked() []AppState {
	out := make([]AppState, 0, len(h.known))
	for _, st := range h.known {
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b AppState) int { return strings.Compare(a.App, b.App) })
	return out
}

// offer records st if it is newer (higher Version) than the known state of
// its app, and tells the watchers.
func (h *hub) offer(st AppState) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if cur, ok := h.known[st.App]; ok && cur.Version >= st.Version {
		return
	}
	h.seq++
	h.touched[st.App] = h.seq
	h.setLocked(st)
}

// snapshot returns every known state, sorted by name, every live backend,
// and the generation of that set: it changes whenever a state or an
// overlay does.
func (h *hub) snapshot() ([]AppState, []LiveBackend, uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sortedLocked(), h.allLiveLocked(), h.gen
}

// mark returns a token for replace: offers made after it win over the
// states replace is given.
func (h *hub) mark() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seq
}

// replace records the states read from the backend after mark returned
// since, leaving alone the apps offered a state in between (the read may
// predate it). Apps missing from states are kept. With all, every app is
// delivered to the watchers again, changed or not.
func (h *hub) replace(states []AppState, since uint64, all bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, st := range states {
		if h.touched[st.App] > since {
			continue
		}
		if cur, ok := h.known[st.App]; ok && sameState(cur, st) {
			continue
		}
		h.setLocked(st)
	}
	if all {
		for _, st := range h.known {
			h.notifyLocked(st)
		}
	}
}

func (h *hub) setLocked(st AppState) {
	h.gen++
	h.known[st.App] = st
	h.notifyLocked(st)
}

func (h *hub) notifyLocked(st AppState) {
	for w := range h.watchers {
		w.add(st.App, Change{App: st.App, State: st})
	}
}

// watch starts a watcher that first gets every known state. Its goroutine
// stops when ctx is done or the hub is closed.
func (h *hub) watch(ctx context.Context) <-chan Change {
	w := newWatcher[Change]()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(w.out)
		return w.out
	}
	for _, st := range h.sortedLocked() {
		w.add(st.App, Change{App: st.App, State: st})
	}
	h.watchers[w] = struct{}{}
	startLocked(h, ctx, w, func() { delete(h.watchers, w) })
	return w.out
}

// startLocked runs w until ctx is done or the hub is closed, then calls
// forget under the hub's lock.
func startLocked[C any](h *hub, ctx context.Context, w *watcher[C], forget func()) {
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			forget()
		}()
		w.run(ctx, h.done)
	}()
}

// close stops every watcher and waits for them.
func (h *hub) close() {
	h.mu.Lock()
	if !h.closed {
		h.closed = true
		close(h.done)
	}
	h.mu.Unlock()
	h.wg.Wait()
}

// watcher queues the changes one Watch channel has not taken yet, one per
// app (the latest), in the order the apps first changed. C is what the
// channel carries (Change, BackendsChange).
type watcher[C any] struct {
	mu      sync.Mutex
	pending map[string]C
	order   []string
	wake    chan struct{}
	out     chan C
}

func newWatcher[C any]() *watcher[C] {
	return &watcher[C]{pending: map[string]C{}, wake: make(chan struct{}, 1), out: make(chan C)}
}

func (w *watcher[C]) add(app string, c C) {
	w.mu.Lock()
	if _, ok := w.pending[app]; !ok {
		w.order = append(w.order, app)
	}
	w.pending[app] = c
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *watcher[C]) pop() (C, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.order) == 0 {
		var zero C
		return zero, false
	}
	app := w.order[0]
	w.order = w.order[1:]
	c := w.pending[app]
	delete(w.pending, app)
	return c, true
}

func (w *watcher[C]) run(ctx context.Context, done <-chan struct{}) {
	defer close(w.out)
	for {
		c, ok := w.pop()
		if !ok {
			select {
			case <-w.wake:
				continue
			case <-ctx.Done():
				return
			case <-done:
				return
			}
		}
		select {
		case w.out <- c:
		case <-ctx.Done():
			return
		case <-done:
			return
		}
	}
}
