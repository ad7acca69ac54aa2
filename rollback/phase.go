package rollback

import (
	"fmt"

	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/state"
)

// Phases: where an app's move stands on an instance. One word each, in the
// state store, the admin API's status, `migrate status`, the dashboard and
// the demo.
const (
	// PhaseShadow: every client on old, sampled requests mirrored to new
	// and compared (weight 0 with shadowing, or `migrate shadow`).
	PhaseShadow = "shadow"
	// PhaseOld: every client on old, nothing mirrored.
	PhaseOld = "old"
	// PhaseSplit: clients split between old and new (weight 1-99).
	PhaseSplit = "split"
	// PhaseNew: every client on new (weight 100).
	PhaseNew = "new"
	// PhaseRolledBack: a rollback sent the clients back and paused the
	// plan; it lasts until the weight is set again.
	PhaseRolledBack = "rolled_back"
)

// PhaseOf names the phase of an app served at weight w that mirrors
// sampled requests to the other side (mirrored) or not.
func PhaseOf(w int, mirrored bool) string {
	switch {
	case w <= 0 && mirrored:
		return PhaseShadow
	case w <= 0:
		return PhaseOld
	case w >= 100:
		return PhaseNew
	}
	return PhaseSplit
}

// mirrors reports whether a samples requests for the other side.
func mirrors(a *manifest.App) bool {
	return a.Shadow.Sample != nil && *a.Shadow.Sample > 0
}

// Phase returns app's phase on this instance: shadow while ShadowPhase
// holds, rolled_back while the saved state says so at the weight served,
// else the phase of the weight served; ok is false for an app the Manager
// does not manage.
func (m *Manager) Phase(app string) (string, bool) {
	ma, err := m.get(app)
	if err != nil {
		return "", false
	}
	w := ma.target.Weight()
	ma.mu.Lock()
	defer ma.mu.Unlock()
	switch {
	case ma.shadow:
		return PhaseShadow, true
	case ma.saved.Phase == PhaseRolledBack && ma.saved.Weight == w:
		return PhaseRolledBack, true
	}
	return PhaseOf(w, mirrors(ma.app)), true
}

// ShadowPhase puts app in the shadow phase on this instance (`migrate
// shadow`): the caller serves every client from old, and the Manager
// leaves the saved weight as it is and does not follow it, so that other
// instances keep theirs and this one keeps its clients on old. A weight
// change, a plan or a rollback made through this Manager ends the shadow
// phase here: the instance then serves and follows the saved weight as
// any other. Call it before Run (serve.New does): Run first delivers
// every saved weight, which an app not yet in the shadow phase follows.
func (m *Manager) ShadowPhase(app string) error {
	ma, err := m.get(app)
	if err != nil {
		return fmt.Errorf("starting the shadow phase: %w", err)
	}
	ma.mu.Lock()
	defer ma.mu.Unlock()
	ma.shadow = true
	return nil
}

// endShadow ends the shadow phase of ma, if it was in it.
func (ma *managed) endShadow() {
	ma.mu.Lock()
	defer ma.mu.Unlock()
	ma.shadow = false
}

// remember records st as ma's saved state unless it knows a later one,
// and reports whether it did.
func (ma *managed) remember(st state.AppState) bool {
	ma.mu.Lock()
	defer ma.mu.Unlock()
	if st.Version >= ma.saved.Version || st.UpdatedAt.After(ma.saved.UpdatedAt) {
		ma.saved = st
		return true
	}
	return false
}

// rollingBack marks ma rolled back to weight w, before the proxy moves:
// its phase says rolled_back from then on, while the store saves the
// rollback (remember then records what it saved), or if it cannot.
func (ma *managed) rollingBack(w int) {
	ma.mu.Lock()
	defer ma.mu.Unlock()
	ma.saved.Weight, ma.saved.Phase = w, PhaseRolledBack
}

// follows records st, delivered by the store, and reports whether the
// proxy follows its weight: st is not older than the state known here
// and the app is not in the shadow phase.
func (ma *managed) follows(st state.AppState) bool {
	if !ma.remember(st) {
		return false
	}
	ma.mu.Lock()
	defer ma.mu.Unlock()
	return !ma.shadow
}
