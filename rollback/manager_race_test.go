package rollback

import (
	"context"
	"slices"
	"testing"

	"github.com/migratekit/migrate/state"
)

// heldStore is a store whose Watch delivers only what the test sends on
// changes, and which calls onUpdate (when set) before each Update: the
// test decides when the Manager sees a change and looks at the Manager
// while a decision is being saved.
type heldStore struct {
	state.Store
	changes  chan state.Change
	onUpdate func()
}

func (s *heldStore) Watch(ctx context.Context) <-chan state.Change {
	out := make(chan state.Change)
	go func() {
		defer close(out)
		for {
			select {
			case c := <-s.changes:
				select {
				case out <- c:
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

func (s *heldStore) Update(ctx context.Context, app string, fn func(*state.AppState) error) (state.AppState, error) {
	if s.onUpdate != nil {
		s.onUpdate()
	}
	return s.Store.Update(ctx, app, fn)
}

// TestManagerPhaseWhileRollbackSaves: from the moment a rollback has moved
// the proxy, the app's phase says rolled_back, also while the store is
// still saving it (the admin API's status, the dashboard).
func TestManagerPhaseWhileRollbackSaves(t *testing.T) {
	store := &heldStore{Store: openEmbeddedStore(t), changes: make(chan state.Change)}
	m, targets := managerOf(t, store, "shop")
	ctx := t.Context()
	if err := m.SetWeight(ctx, "shop", 100, state.ActorAPI, "test"); err != nil {
		t.Fatal(err)
	}
	var during string
	store.onUpdate = func() {
		if targets["shop"].Weight() == 0 {
			during, _ = m.Phase("shop")
		}
	}
	if err := m.Rollback(ctx, "shop", state.ActorAPI, "test"); err != nil {
		t.Fatal(err)
	}
	if during != PhaseRolledBack {
		t.Errorf("phase %q while the rollback was being saved (proxy at 0), want %q", during, PhaseRolledBack)
	}
}

// TestManagerFollowsNoStaleState: a saved state delivered after this
// instance decided a newer one (the echo of its own earlier write, which
// the follower took before the decision) is not served: a rollback is
// never undone by the weight it rolled back from.
func TestManagerFollowsNoStaleState(t *testing.T) {
	store := &heldStore{Store: openEmbeddedStore(t), changes: make(chan state.Change)}
	m, targets := managerOf(t, store, "shop")
	runManager(t, m)
	ctx := t.Context()
	if err := m.SetWeight(ctx, "shop", 100, state.ActorAPI, "test"); err != nil {
		t.Fatal(err)
	}
	echo, _, err := store.Get(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Rollback(ctx, "shop", state.ActorAPI, "test"); err != nil {
		t.Fatal(err)
	}
	store.changes <- state.Change{App: "shop", State: echo}
	// A later change from another instance, sent after the echo: once it
	// is served, the echo was looked at.
	if err := store.Store.SetWeight(ctx, "shop", 20); err != nil {
		t.Fatal(err)
	}
	later, _, err := store.Get(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	store.changes <- state.Change{App: "shop", State: later}
	waitUntil(t, "the later change served", func() bool { return targets["shop"].Weight() == 20 })
	want := []int{100, 0, 20}
	if got := targets["shop"].history(); !slices.Equal(got, want) {
		t.Errorf("weights served %v, want %v: the stale echo of 100 was served after the rollback", got, want)
	}
}
