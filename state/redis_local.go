package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// RedisLocalFile is the Redis store's file in the data dir: the last known
// state and live backends of every app, the decisions and live backend
// changes this instance made while Redis was down and has not written
// yet, and the events it could not append then.
// It lets an instance start on the last known state while Redis is down,
// and keeps a decision across a restart until Redis takes it. It is
// replaced whole (write, fsync, rename) at every change.
const RedisLocalFile = "redis-state.json"

// maxQueuedEvents bounds the events kept for Redis while it is down; the
// oldest go first (every one is in the audit log).
const maxQueuedEvents = 1000

// pendingDecision is an Update taken while Redis was down.
type pendingDecision struct {
	// State is what to write; its UpdatedAt is when it was decided.
	State AppState `json:"state"`
	// Base is the Version of the state it was decided on: a state saved
	// in Redis with a higher Version was written since, by another
	// instance, and the later decision of the two wins.
	Base int64 `json:"base"`
}

// localFile is the content of RedisLocalFile.
type localFile struct {
	Redis   string            `json:"redis"`  // the URL without its password
	Prefix  string            `json:"prefix"` // the key prefix
	SavedAt time.Time         `json:"saved_at"`
	Apps    []AppState        `json:"apps"`
	Pending []pendingDecision `json:"pending,omitempty"`
	Events  []Event           `json:"events,omitempty"`
	// Backends are the last known live backends of every app.
	Backends []LiveBackend `json:"backends,omitempty"`
	// PendingBackends are the live backend changes made while Redis was
	// down, in the order they were made.
	PendingBackends []backendOp `json:"pending_backends,omitempty"`
}

// local is the Redis store's local file and the pending decisions and
// queued events it holds; safe for concurrent use.
type local struct {
	path, redis, prefix string

	mu      sync.Mutex
	pending map[string]pendingDecision
	live    []backendOp // pending live backend changes, in order
	events  []Event
	dropped int    // queued events dropped over the bound
	dirty   bool   // pending or events changed since the last save
	saved   bool   // the file was saved once
	gen     uint64 // the hub generation last saved
}

// loadLocal reads the local file in dir (none is an empty one) and
// returns it with its last known states and live backends. A file that
// does not decode is a DamagedError; one written for another Redis or key
// prefix is left out, with a warning.
func loadLocal(dir, redis, prefix string, warn func(string, ...any)) (*local, []AppState, []LiveBackend, error) {
	l := &local{path: filepath.Join(dir, RedisLocalFile), redis: redis, prefix: prefix, pending: map[string]pendingDecision{}}
	b, err := os.ReadFile(l.path)
	if errors.Is(err, os.ErrNotExist) {
		return l, nil, nil, nil
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("reading %s: %w", l.path, err)
	}
	f, err := decodeLocal(b)
	if err != nil {
		return nil, nil, nil, &DamagedError{Path: l.path, Err: err}
	}
	if f.Redis != redis || f.Prefix != prefix {
		warn("ignoring the last known state saved for another redis or key prefix",
			"path", l.path, "saved_for", f.Redis, "saved_prefix", f.Prefix, "pending_decisions", len(f.Pending),
			"pending_backend_changes", len(f.PendingBackends))
		return l, nil, nil, nil
	}
	for _, p := range f.Pending {
		l.pending[p.State.App] = p
	}
	l.events = f.Events
	l.live = f.PendingBackends
	return l, f.Apps, f.Backends, nil
}

// decodeLocal decodes a local file strictly and checks every state in it.
func decodeLocal(b []byte) (localFile, error) {
	var f localFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return localFile{}, fmt.Errorf("decoding: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return localFile{}, errors.New("decoding: data after the JSON object")
	}
	states := slices.Clone(f.Apps)
	for _, p := range f.Pending {
		states = append(states, p.State)
	}
	for _, st := range states {
		if st.App == "" {
			return localFile{}, fmt.Errorf("an app state without app: %w", ErrInvalid)
		}
		if err := st.validate(); err != nil {
			return localFile{}, fmt.Errorf("state of %s: %w", st.App, err)
		}
	}
	for _, e := range f.Events {
		if e.Kind == "" {
			return localFile{}, fmt.Errorf("an event without kind: %w", ErrInvalid)
		}
	}
	for i, e := range f.Backends {
		if err := e.validate(); err != nil {
			return localFile{}, fmt.Errorf("backends[%d]: %w", i, err)
		}
	}
	for i, o := range f.PendingBackends {
		if err := o.validate(); err != nil {
			return localFile{}, fmt.Errorf("pending_backends[%d]: %w", i, err)
		}
	}
	return f, nil
}

// hasPending reports whether app has a decision Redis has not taken.
func (l *local) hasPending(app string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.pending[app]
	return ok
}

// pendingOf returns app's pending decision.
func (l *local) pendingOf(app string) (pendingDecision, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p, ok := l.pending[app]
	return p, ok
}

// pendings returns the pending decisions, oldest decision first.
func (l *local) pendings() []pendingDecision {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]pendingDecision, 0, len(l.pending))
	for _, p := range l.pending {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b pendingDecision) int { return a.State.UpdatedAt.Compare(b.State.UpdatedAt) })
	return out
}

// count returns how many decisions are pending.
func (l *local) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.pending)
}

// put keeps p as its app's pending decision.
func (l *local) put(p pendingDecision) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pending[p.State.App] = p
	l.dirty = true
}

// resolve forgets p once Redis took it or a later decision replaced it,
// unless a newer decision for its app came meanwhile.
func (l *local) resolve(p pendingDecision) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if cur, ok := l.pending[p.State.App]; ok && sameState(cur.State, p.State) {
		delete(l.pending, p.State.App)
		l.dirty = true
	}
}

// putLive keeps o, a live backend change, for Redis.
func (l *local) putLive(o backendOp) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.live = append(l.live, o)
	l.dirty = true
}

// pendingLive returns the pending live backend changes, in order.
func (l *local) pendingLive() []backendOp {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.live)
}

// hasPendingLive reports whether a live backend change is pending.
func (l *local) hasPendingLive() bool { return l.countLive() > 0 }

// countLive returns how many live backend changes are pending.
func (l *local) countLive() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.live)
}

// resolveLive forgets o, the first pending live backend change, once
// Redis took it.
func (l *local) resolveLive(o backendOp) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.live) > 0 && l.live[0].Op == o.Op && sameLive(l.live[0].Entry, o.Entry) {
		l.live = slices.Delete(l.live, 0, 1)
		l.dirty = true
	}
}

// queue keeps e for Redis, dropping the oldest over the bound.
func (l *local) queue(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.events) >= maxQueuedEvents {
		l.events = slices.Delete(l.events, 0, 1)
		l.dropped++
	}
	l.events = append(l.events, e)
	l.dirty = true
}

// queued returns the events kept for Redis, oldest first.
func (l *local) queued() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events)
}

// sent forgets the first n queued events.
func (l *local) sent(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = slices.Delete(l.events, 0, min(n, len(l.events)))
	l.dirty = true
}

// save writes the file when it changed since the last save: the pending
// decisions and live backend changes, the queued events, or the hub's
// states and live backends (its generation gen).
func (l *local) save(known []AppState, live []LiveBackend, gen uint64, now time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.saved && !l.dirty && l.gen == gen {
		return nil
	}
	f := localFile{Redis: l.redis, Prefix: l.prefix, SavedAt: millis(now), Apps: known, Events: l.events,
		Backends: live, PendingBackends: l.live}
	for _, p := range l.pending {
		f.Pending = append(f.Pending, p)
	}
	slices.SortFunc(f.Pending, func(a, b pendingDecision) int { return strings.Compare(a.State.App, b.State.App) })
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", l.path, err)
	}
	if err := writeFileAtomic(l.path, append(b, '\n')); err != nil {
		return err
	}
	l.saved, l.dirty, l.gen = true, false, gen
	return nil
}

// writeFileAtomic replaces path with b: a temporary file beside it,
// fsynced, renamed over it, and the directory fsynced, so a crash leaves
// the old file or the new one.
func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
