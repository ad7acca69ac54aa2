package state

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jonboulle/clockwork"

	"github.com/migratekit/migrate/internal/testsvc"
	"github.com/migratekit/migrate/manifest"
)

// Tests of the Redis backend only: several instances, lost messages, lost
// Redis.

func redisBackend() backend { return backends()[1] }

// TestRedisRollbackReachesOtherInstance: a change made on one instance
// reaches another one through the published message alone (the fake clock
// never moves, so no re-read runs).
func TestRedisRollbackReachesOtherInstance(t *testing.T) {
	a, b := redisBackend().openPair(t, true)
	if err := a.SetWeight(t.Context(), "shop", 50); err != nil {
		t.Fatal(err)
	}
	waitState(t, b.Watch(t.Context()), "shop", weightIs(50))

	bw := b.Watch(t.Context())
	recvChange(t, bw) // shop at 50, as known
	rolledBack, err := a.Update(t.Context(), "shop", func(st *AppState) error {
		st.Weight, st.Paused, st.Phase = 0, true, "rolled_back"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got := recvChange(t, bw)
	if diff := cmp.Diff(got, Change{App: "shop", State: rolledBack}); diff != "" {
		t.Errorf("change seen by the other instance (-got +want):\n%s", diff)
	}
}

// TestRedisMissedMessageHeals: a state written without its message (as if
// the message was lost) reaches Watch at the next re-read.
func TestRedisMissedMessageHeals(t *testing.T) {
	b := redisBackend()
	prefix := b.prefix(t)
	clock := newFakeClock()
	s := openStore(t, b.cfg(t), Options{DataDir: t.TempDir(), Clock: clock, KeyPrefix: prefix})
	ch := s.Watch(t.Context())

	want := AppState{App: "shop", Weight: 75, Phase: "cutover", Version: 4, UpdatedAt: clock.Now()}
	raw, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	c := rawClient(t, testRedisURL(t))
	if err := c.HSet(t.Context(), newRedisKeys(prefix).apps, "shop", raw).Err(); err != nil {
		t.Fatal(err)
	}
	clock.Advance(DefaultPollInterval)
	got := recvChange(t, ch)
	if diff := cmp.Diff(got, Change{App: "shop", State: want}); diff != "" {
		t.Errorf("change after the re-read (-got +want):\n%s", diff)
	}
}

// TestRedisRestoresLostState: when Redis loses an app (flushed, restarted
// empty), the instance that knows it writes it back.
func TestRedisRestoresLostState(t *testing.T) {
	s := redisBackend().open(t)
	want, err := s.Update(t.Context(), "shop", func(st *AppState) error { st.Weight = 30; return nil })
	if err != nil {
		t.Fatal(err)
	}
	rs := s.Store.(*redisStore)
	c := rawClient(t, testRedisURL(t))
	if err := c.Del(t.Context(), rs.keys.apps).Err(); err != nil {
		t.Fatal(err)
	}
	rs.poll(t.Context()) // what the next tick does
	v, err := c.HGet(t.Context(), rs.keys.apps, "shop").Result()
	if err != nil {
		t.Fatalf("state not restored: %v", err)
	}
	got, err := decodeState(v)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("restored state (-got +want):\n%s", diff)
	}
}

// TestRedisOutage kills Redis under two instances and starts it again,
// empty: while it is down they answer the last known state, and a write
// is applied on its instance and kept; when Redis is back they write it
// and restore the state, deliver it again to their watchers, and record
// the outage and the events taken during it.
func TestRedisOutage(t *testing.T) {
	srv := testsvc.StartRedis(t)
	clock := newFakeClock()
	cfg := manifest.State{Backend: BackendRedis, URL: srv.URL()}
	dirA := t.TempDir()
	a := openStore(t, cfg, Options{DataDir: dirA, Clock: clock})
	b := openStore(t, cfg, Options{DataDir: t.TempDir(), Clock: clock})
	before, err := a.Update(t.Context(), "shop", func(st *AppState) error {
		st.Weight, st.Phase = 25, "cutover"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	bw := b.Watch(t.Context())
	waitState(t, bw, "shop", weightIs(25))

	srv.Kill()
	var want AppState // the decision a takes while Redis is down
	t.Run("down", func(t *testing.T) {
		for name, s := range map[string]Store{"a": a, "b": b} {
			got, ok, err := s.Get(t.Context(), "shop")
			if !errors.Is(err, ErrStoreDown) || !ok {
				t.Errorf("%s: Get() ok=%v err=%v, want the last known state and %v", name, ok, err, ErrStoreDown)
			}
			if diff := cmp.Diff(got, before); diff != "" {
				t.Errorf("%s: Get() while down (-got +want):\n%s", name, diff)
			}
			if st := s.Status(); st.Up || st.Err == "" || !st.Since.Equal(clock.Now()) {
				t.Errorf("%s: Status() = %+v, want down since now with the reason", name, st)
			}
		}
		var err error
		want, err = a.Update(t.Context(), "shop", func(st *AppState) error { st.Weight = 0; return nil })
		if !errors.Is(err, ErrStoreDown) || !errors.Is(err, ErrPending) || want.Weight != 0 {
			t.Errorf("Update() while down = %+v, %v; want weight 0 and %v, %v", want, err, ErrStoreDown, ErrPending)
		}
		if got, _, _ := a.Get(t.Context(), "shop"); !sameState(got, want) {
			t.Errorf("Get() after a decision while down = %+v, want it: %+v", got, want)
		}
		if st := a.Status(); st.Pending != 1 {
			t.Errorf("Status() = %+v, want 1 pending decision", st)
		}
		if _, err := a.Events(t.Context(), Query{}); !errors.Is(err, ErrStoreDown) {
			t.Errorf("Events() while down = %v, want %v", err, ErrStoreDown)
		}
		e, err := a.AppendEvent(t.Context(), Event{App: "shop", Kind: KindVerdict, Actor: ActorController, After: "insufficient"})
		if !errors.Is(err, ErrStoreDown) || !errors.Is(err, ErrPending) || e.ID != "" {
			t.Errorf("AppendEvent() while down = %+v, %v; want no ID and %v", e, err, ErrPending)
		}
		apps, err := a.Apps(t.Context())
		if diff := cmp.Diff(apps, []AppState{want}); diff != "" || !errors.Is(err, ErrStoreDown) {
			t.Errorf("Apps() while down = %v (-got +want):\n%s", err, diff)
		}
	})

	srv.Start()
	t.Run("back", func(t *testing.T) {
		aw := a.Watch(t.Context())
		recvChange(t, aw) // shop, as decided here
		// b may deliver its known state again first (it restores it in
		// the empty Redis); a never goes back to it.
		isDecision := func(st AppState) bool { return st.Weight == 0 && st.UpdatedAt.Equal(want.UpdatedAt) }
		waitAdvancingFor(t, clock, bw, "shop", isDecision)
		for _, st := range waitAdvancingFor(t, clock, aw, "shop", isDecision) {
			if st.Weight != 0 {
				t.Errorf("a: went back to %+v after the outage, want only its decision %+v", st, want)
			}
		}
		// a delivers its decision as it writes it, before its re-read
		// ends the outage.
		waitAdvancingUntil(t, clock, "a and b up", func() bool { return a.Status().Up && b.Status().Up })
		for name, s := range map[string]Store{"a": a, "b": b} {
			if st := s.Status(); !st.Up || st.Pending != 0 {
				t.Errorf("%s: Status() = %+v after the outage, want up, nothing pending", name, st)
			}
			if got, _, err := s.Get(t.Context(), "shop"); err != nil || !sameContent(got, want) {
				t.Errorf("%s: Get() after the outage = %+v, %v; want %+v", name, got, err, want)
			}
		}
		// The outage is in the shared events, once per instance, with the
		// event appended during it, and the instance's own audit log has
		// every event it appended.
		var evs []Event
		for deadline := time.Now().Add(waitFor); ; time.Sleep(5 * time.Millisecond) {
			if evs, err = a.Events(t.Context(), Query{}); err != nil {
				t.Fatal(err)
			}
			if len(evs) >= 5 || time.Now().After(deadline) {
				break
			}
		}
		if diff := cmp.Diff(countKinds(evs), map[string]int{KindStoreDown: 2, KindStoreUp: 2, KindVerdict: 1}); diff != "" {
			t.Errorf("events after the outage (-got +want):\n%s", diff)
		}
		// AppendEvent writes the audit log just after Redis: the store_up
		// event can be in the stream a moment before it is in the file.
		var kinds []string
		for deadline := time.Now().Add(waitFor); ; time.Sleep(5 * time.Millisecond) {
			kinds = kinds[:0]
			for _, e := range readAuditFile(t, dirA) {
				kinds = append(kinds, e.Kind)
			}
			if len(kinds) >= 3 || time.Now().After(deadline) {
				break
			}
		}
		if diff := cmp.Diff(kinds, []string{KindStoreDown, KindVerdict, KindStoreUp}); diff != "" {
			t.Errorf("audit log of a (-got +want):\n%s", diff)
		}
		// Writes work again and reach the other instance.
		if err := b.SetWeight(t.Context(), "shop", 60); err != nil {
			t.Fatal(err)
		}
		for got := waitAdvancing(t, clock, aw); got.State.Weight != 60; got = waitAdvancing(t, clock, aw) {
		}
	})
}

// waitAdvancing waits for the next change on ch, advancing the clock by a
// poll interval whenever none came for a while: the stores notice that
// Redis is back at a poll.
func waitAdvancing(t *testing.T, clock *clockwork.FakeClock, ch <-chan Change) Change {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case c, ok := <-ch:
			if !ok {
				t.Fatal("watch channel closed")
			}
			return c
		case <-time.After(50 * time.Millisecond):
			clock.Advance(DefaultPollInterval)
		case <-deadline:
			t.Fatalf("no change within %s", waitFor)
		}
	}
}

func countKinds(evs []Event) map[string]int {
	out := map[string]int{}
	for _, e := range evs {
		out[e.Kind]++
	}
	return out
}
