package rollback

import (
	"context"
	"maps"
	"slices"

	"github.com/migratekit/migrate/state"
)

// What a Manager tells about the health of its dependencies: the state
// store and each app's rollback source.

// StoreStatus says whether the state store is up and how many decisions
// of this instance wait for it.
func (m *Manager) StoreStatus() state.Status {
	if m.store == nil {
		return state.Status{Up: true}
	}
	return m.store.Status()
}

// recordSource records the start and the end of an outage of v's source.
func (m *Manager) recordSource(v Verdict) {
	ma, err := m.get(v.App)
	if err != nil {
		return
	}
	ma.mu.Lock()
	changed := ma.sourceDown != v.SourceDown
	ma.sourceDown = v.SourceDown
	ma.mu.Unlock()
	switch {
	case changed && v.SourceDown:
		m.record(context.Background(), state.Event{App: v.App, Kind: state.KindSourceDown, Actor: state.ActorController,
			After: Insufficient, Reason: "rollback source unusable: " + v.Err})
	case changed:
		m.record(context.Background(), state.Event{App: v.App, Kind: state.KindSourceUp, Actor: state.ActorController,
			After: v.Result, Reason: "rollback source answers again"})
	}
}

// SourceUp reports whether app's rollback source answered its last
// evaluation; ok is false without a controller or before its first.
func (m *Manager) SourceUp(app string) (up, ok bool) {
	ma, err := m.get(app)
	if err != nil || ma.controller == nil {
		return false, false
	}
	return ma.controller.SourceUp()
}

// Apps returns the names of the managed apps, sorted.
func (m *Manager) Apps() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.apps))
}
