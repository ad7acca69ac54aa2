package rollback

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/state"
)

func TestPhaseOf(t *testing.T) {
	tests := []struct {
		weight   int
		mirrored bool
		want     string
	}{
		{0, true, PhaseShadow},
		{0, false, PhaseOld},
		{1, true, PhaseSplit},
		{99, false, PhaseSplit},
		{100, true, PhaseNew},
		{100, false, PhaseNew},
	}
	for _, tt := range tests {
		if got := PhaseOf(tt.weight, tt.mirrored); got != tt.want {
			t.Errorf("PhaseOf(%d, %v) = %q, want %q", tt.weight, tt.mirrored, got, tt.want)
		}
	}
}

// managerOn is a Manager of the named apps (shop mirroring 100%, the
// others nothing) on store, following it until the test ends.
func managerOn(t *testing.T, store state.Store, apps ...string) (*Manager, map[string]*historyTarget) {
	t.Helper()
	m, targets := managerOf(t, store, apps...)
	runManager(t, m)
	return m, targets
}

// managerOf is managerOn's Manager, not running yet.
func managerOf(t *testing.T, store state.Store, apps ...string) (*Manager, map[string]*historyTarget) {
	t.Helper()
	m := NewManager(ManagerOptions{Store: store})
	targets := map[string]*historyTarget{}
	for _, name := range apps {
		a := &manifest.App{Name: name}
		if name == "shop" {
			a.Shadow.Sample = new(manifest.Percent(1))
		}
		targets[name] = &historyTarget{name: name}
		if err := m.Add(targets[name], a, nil); err != nil {
			t.Fatal(err)
		}
	}
	return m, targets
}

// runManager runs m until the test ends.
func runManager(t *testing.T, m *Manager) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// TestManagerPhase walks an app through the phases with the Manager's
// own writes.
func TestManagerPhase(t *testing.T) {
	store := openEmbeddedStore(t)
	m, _ := managerOn(t, store, "shop", "blog")
	phase := func(app string) string {
		p, ok := m.Phase(app)
		if !ok {
			t.Fatalf("no phase for %s", app)
		}
		return p
	}
	ctx := t.Context()
	var got []string
	got = append(got, phase("shop"), phase("blog"))
	if err := m.SetWeight(ctx, "shop", 30, state.ActorAPI, "test"); err != nil {
		t.Fatal(err)
	}
	got = append(got, phase("shop"))
	if err := m.SetWeight(ctx, "shop", 100, state.ActorAPI, "test"); err != nil {
		t.Fatal(err)
	}
	got = append(got, phase("shop"))
	if err := m.Rollback(ctx, "shop", state.ActorAPI, "test"); err != nil {
		t.Fatal(err)
	}
	got = append(got, phase("shop"))
	if err := m.SetWeight(ctx, "shop", 0, state.ActorAPI, "test"); err != nil {
		t.Fatal(err)
	}
	got = append(got, phase("shop"))
	want := []string{PhaseShadow, PhaseOld, PhaseSplit, PhaseNew, PhaseRolledBack, PhaseShadow}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("phases (-got +want):\n%s", diff)
	}
	if st, _, _ := store.Get(ctx, "shop"); st.Phase != PhaseShadow {
		t.Errorf("saved phase %q, want %q", st.Phase, PhaseShadow)
	}
}

// TestManagerShadowPhase: an app in the shadow phase here follows no
// saved weight (another app on the same Manager does) and its phase says
// shadow; a weight set through the Manager ends it. The shadow phase
// starts before Run, as serve.New starts it: Run's first delivery is the
// saved 60, which an app not yet in the shadow phase follows.
func TestManagerShadowPhase(t *testing.T) {
	store := openEmbeddedStore(t)
	ctx := t.Context()
	if err := store.SetWeight(ctx, "shop", 60); err != nil {
		t.Fatal(err)
	}
	m, targets := managerOf(t, store, "shop", "blog")
	if err := m.ShadowPhase("shop"); err != nil {
		t.Fatal(err)
	}
	runManager(t, m)
	if p, _ := m.Phase("shop"); p != PhaseShadow {
		t.Errorf("phase %q in the shadow phase, want %q", p, PhaseShadow)
	}
	// Changes saved by other instances: shop's first, then blog's. The
	// Manager follows them in that order, so once blog moved, shop's was
	// looked at.
	if err := store.SetWeight(ctx, "shop", 80); err != nil {
		t.Fatal(err)
	}
	if err := store.SetWeight(ctx, "blog", 30); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "blog followed", func() bool { return targets["blog"].Weight() == 30 })
	if h := targets["shop"].history(); len(h) != 0 {
		t.Errorf("shop in the shadow phase was set to %v, want no change", h)
	}
	if st, _, _ := store.Get(ctx, "shop"); st.Weight != 80 {
		t.Errorf("saved weight of shop %d, want 80: the shadow phase changes nothing saved", st.Weight)
	}

	if err := m.SetWeight(ctx, "shop", 25, state.ActorAPI, "cutover"); err != nil {
		t.Fatal(err)
	}
	if p, _ := m.Phase("shop"); p != PhaseSplit {
		t.Errorf("phase %q after a weight set here, want %q", p, PhaseSplit)
	}
	if err := store.SetWeight(ctx, "shop", 40); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "shop followed after its shadow phase", func() bool { return targets["shop"].Weight() == 40 })
}

func openEmbeddedStore(t *testing.T) state.Store {
	t.Helper()
	s, err := state.OpenWith(t.Context(), manifest.State{}, state.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
