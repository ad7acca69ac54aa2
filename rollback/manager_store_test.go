package rollback

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/migratekit/migrate/internal/testsvc"
	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/state"
)

// historyTarget is a proxy app that remembers every weight it was set to.
type historyTarget struct {
	name string // "shop" when empty
	mu   sync.Mutex
	set  []int
}

func (t *historyTarget) Name() string {
	if t.name == "" {
		return "shop"
	}
	return t.name
}

func (t *historyTarget) Weight() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.set) == 0 {
		return 0
	}
	return t.set[len(t.set)-1]
}

func (t *historyTarget) SetWeight(w int) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.set = append(t.set, w)
	return nil
}

func (t *historyTarget) history() []int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.set)
}

// waitUntil polls cond every 10ms for up to 20s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not %s within 20s", what)
		}
	}
}

func openRedisStore(t *testing.T, url string) state.Store {
	t.Helper()
	s, err := state.OpenWith(t.Context(), manifest.State{Backend: state.BackendRedis, URL: url},
		state.Options{DataDir: t.TempDir(), RedisTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestManagerDecisionWhileStoreDown: with the state store (a real Redis)
// stopped or dead, a rollback or a weight change through the Manager is
// served at once and says it is pending; when the store is back the
// Manager never follows the stale weight Redis held, and a change made
// after that by another instance is followed.
func TestManagerDecisionWhileStoreDown(t *testing.T) {
	tests := []struct {
		name       string
		down, back func(*testsvc.Redis)
		decide     func(ctx context.Context, m *Manager) error
		want       int
	}{
		{"rollback, redis paused", (*testsvc.Redis).Pause, (*testsvc.Redis).Resume,
			func(ctx context.Context, m *Manager) error { return m.Rollback(ctx, "shop", state.ActorAPI, "test") }, 0},
		{"rollback, redis killed", (*testsvc.Redis).Kill, (*testsvc.Redis).Start,
			func(ctx context.Context, m *Manager) error { return m.Rollback(ctx, "shop", state.ActorAPI, "test") }, 0},
		{"lower weight, redis killed", (*testsvc.Redis).Kill, (*testsvc.Redis).Start,
			func(ctx context.Context, m *Manager) error {
				return m.SetWeight(ctx, "shop", 10, state.ActorAPI, "test")
			}, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := testsvc.StartRedis(t)
			store, other := openRedisStore(t, srv.URL()), openRedisStore(t, srv.URL())
			target := &historyTarget{}
			m := NewManager(ManagerOptions{Store: store})
			if err := m.Add(target, &manifest.App{Name: "shop"}, nil); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- m.Run(ctx) }()
			t.Cleanup(func() { cancel(); <-done })
			if err := m.SetWeight(t.Context(), "shop", 100, state.ActorAPI, "test"); err != nil {
				t.Fatal(err)
			}

			tt.down(srv)
			err := tt.decide(t.Context(), m)
			if !errors.Is(err, state.ErrPending) {
				t.Fatalf("decision while the store is down: %v, want %v", err, state.ErrPending)
			}
			if got := target.Weight(); got != tt.want {
				t.Fatalf("served weight %d right after the decision, want %d", got, tt.want)
			}
			decided := len(target.history())

			tt.back(srv)
			waitUntil(t, "store up with nothing pending", func() bool { st := m.StoreStatus(); return st.Up && st.Pending == 0 })
			// A later change by another instance is followed: every
			// change before it was, the stale 100 included if it came.
			if err := other.SetWeight(t.Context(), "shop", 42); err != nil {
				t.Fatal(err)
			}
			waitUntil(t, "following the other instance", func() bool { return target.Weight() == 42 })
			// The decision's event, kept during the outage, is in the
			// store's events.
			evs, err := other.Events(t.Context(), state.Query{App: "shop"})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(evs, func(e state.Event) bool { return e.After == strconv.Itoa(tt.want) && e.Actor == state.ActorAPI }) {
				t.Errorf("no event of the decision in %+v", evs)
			}
			h := target.history()
			for _, w := range h[decided : len(h)-1] {
				if w != tt.want {
					t.Errorf("weights served after the decision %v: it was undone", h[decided-1:])
					break
				}
			}
		})
	}
}

// TestStoreTargetRollbackWhileStoreDown: rollback watch's target is the
// store itself; a rollback while Redis is down is kept by the store and
// carried out whole (its event recorded), then written when Redis is back.
func TestStoreTargetRollbackWhileStoreDown(t *testing.T) {
	srv := testsvc.StartRedis(t)
	store, other := openRedisStore(t, srv.URL()), openRedisStore(t, srv.URL())
	if err := store.SetWeight(t.Context(), "shop", 100); err != nil {
		t.Fatal(err)
	}
	m := NewManager(ManagerOptions{Store: store})
	if err := m.Add(StoreTarget{Store: store, App: "shop"}, &manifest.App{Name: "shop"}, nil); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	if err := m.Rollback(t.Context(), "shop", state.ActorController, "test"); !errors.Is(err, state.ErrPending) {
		t.Fatalf("Rollback() while the store is down = %v, want %v", err, state.ErrPending)
	}
	srv.Start()
	waitUntil(t, "store up with nothing pending", func() bool { st := store.Status(); return st.Up && st.Pending == 0 })
	if w, _, err := other.Weight(t.Context(), "shop"); err != nil || w != 0 {
		t.Errorf("weight in redis after the outage = %d, %v; want the rollback's 0", w, err)
	}
	evs, err := other.Events(t.Context(), state.Query{App: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(evs, func(e state.Event) bool { return e.Kind == state.KindRollback }) {
		t.Errorf("no rollback event after the outage in %+v", evs)
	}
}
