package serve

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/migratekit/migrate/internal/testsvc"
	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/rollback"
	"github.com/migratekit/migrate/state"
)

// TestShadowLeavesSharedWeight: a `migrate shadow` instance started beside
// a serve instance on one Redis keeps its own clients on old and leaves
// the shared weight, and so the other instance's clients, as they are.
func TestShadowLeavesSharedWeight(t *testing.T) {
	oldB, newB := backend(t, 200, "old"), backend(t, 200, "new")
	redis := testsvc.StartRedis(t)
	yaml := fmt.Sprintf(`defaults:
  listen: 127.0.0.1:0
  admin: {listen: 127.0.0.1:0}
  state: {backend: redis, url: %q}
apps:
  shop:
    old: {backends: [%s]}
    new: {backends: [%s]}
`, redis.URL(), oldB.URL, newB.URL)
	served, _ := start(t, yaml)
	if err := served.Manager.SetWeight(t.Context(), "shop", 60, state.ActorAPI, "test"); err != nil {
		t.Fatal(err)
	}

	m, err := manifest.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	shadow, err := New(ctx, Options{Manifest: m, DataDir: t.TempDir(), Shadow: true})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- shadow.Run(ctx) }()
	defer func() { cancel(); <-done }()

	if st, _, err := served.store.Get(t.Context(), "shop"); err != nil || st.Weight != 60 {
		t.Errorf("shared state after the shadow instance started = %+v, %v; want weight 60 as it was", st, err)
	}
	if w := shadow.Proxy.App("shop").Weight(); w != 0 {
		t.Errorf("shadow instance serves weight %d, want 0", w)
	}
	if p, _ := shadow.Manager.Phase("shop"); p != rollback.PhaseShadow {
		t.Errorf("shadow instance's phase %q, want %q", p, rollback.PhaseShadow)
	}
	// A later change on the serve instance is not followed by the shadow
	// instance; the serve instance keeps what it set. The shadow
	// instance's Manager has taken the change in (Followed) before its
	// weight is read, so the check does not pass by coming too early.
	seen := shadow.Manager.Followed()
	if err := served.Manager.SetWeight(t.Context(), "shop", 70, state.ActorAPI, "test"); err != nil {
		t.Fatal(err)
	}
	if st, _, _ := shadow.store.Get(t.Context(), "shop"); st.Weight != 70 {
		t.Errorf("shadow instance's store reads weight %d, want the shared 70", st.Weight)
	}
	waitWeight(t, served, "shop", 70, time.Now())
	for deadline := time.Now().Add(10 * time.Second); shadow.Manager.Followed() == seen; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the shadow instance took no state change from the store in 10s")
		}
	}
	if w := shadow.Proxy.App("shop").Weight(); w != 0 {
		t.Errorf("shadow instance followed the shared weight to %d", w)
	}
}
