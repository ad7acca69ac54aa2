package state

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/migratekit/migrate/internal/testsvc"
)

func live(app, side, url, op string) LiveBackend {
	return LiveBackend{App: app, Side: side, URL: url, Op: op, Actor: ActorAPI, Reason: "test"}
}

// waitLive receives overlays from ch until app's is one for which done is
// true, advancing clock (unless nil) by a poll interval when none came
// for a while.
func waitLive(t *testing.T, clock interface{ Advance(time.Duration) }, ch <-chan BackendsChange, app string, done func([]LiveBackend) bool) []LiveBackend {
	t.Helper()
	deadline := time.After(waitFor)
	var seen [][]LiveBackend
	for {
		select {
		case c, ok := <-ch:
			if !ok {
				t.Fatalf("watch channel closed; saw %+v", seen)
			}
			if c.App != app {
				continue
			}
			seen = append(seen, c.Backends)
			if done(c.Backends) {
				return c.Backends
			}
		case <-time.After(50 * time.Millisecond):
			if clock != nil {
				clock.Advance(DefaultPollInterval)
			}
		case <-deadline:
			t.Fatalf("%s's live backends did not reach the wanted overlay within %s; saw %+v", app, waitFor, seen)
		}
	}
}

func ops(es []LiveBackend) string {
	var b strings.Builder
	for _, e := range es {
		b.WriteString(e.Side + " " + e.URL + " " + e.Op + ";")
	}
	return b.String()
}

func opsAre(want string) func([]LiveBackend) bool {
	return func(es []LiveBackend) bool { return ops(es) == want }
}

// TestLiveBackendsRoundTrip: set, read, the latest op per backend, retire
// only what is still there, reset, on both stores.
func TestLiveBackendsRoundTrip(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t)
		ctx := t.Context()
		added, err := s.SetBackend(ctx, live("shop", SideNew, " http://10.1.0.7:3000 ", BackendAdded))
		if err != nil {
			t.Fatal(err)
		}
		if added.URL != "http://10.1.0.7:3000" || !added.At.Equal(s.clock.Now()) {
			t.Errorf("SetBackend() = %+v, want the URL trimmed and At now", added)
		}
		s.clock.Advance(time.Second)
		if _, err := s.SetBackend(ctx, live("shop", SideOld, "http://10.0.0.5:3000", BackendRemoved)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetBackend(ctx, live("other", SideOld, "http://10.0.0.9:3000", BackendDraining)); err != nil {
			t.Fatal(err)
		}
		drained, err := s.SetBackend(ctx, live("shop", SideNew, "http://10.1.0.7:3000", BackendDraining))
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.LiveBackends(ctx, "shop")
		if err != nil {
			t.Fatal(err)
		}
		if want := "new http://10.1.0.7:3000 draining;old http://10.0.0.5:3000 removed;"; ops(got) != want {
			t.Fatalf("LiveBackends() = %s, want %s", ops(got), want)
		}
		if ok, err := s.RetireBackend(ctx, added); ok || err != nil {
			t.Errorf("RetireBackend(an older entry) = %v, %v; want false: the backend changed since", ok, err)
		}
		if ok, err := s.RetireBackend(ctx, drained); !ok || err != nil {
			t.Errorf("RetireBackend(the entry) = %v, %v; want true", ok, err)
		}
		if n, err := s.ResetBackends(ctx, "shop"); n != 1 || err != nil {
			t.Errorf("ResetBackends() = %d, %v; want 1 deleted", n, err)
		}
		got, _ = s.LiveBackends(ctx, "shop")
		other, _ := s.LiveBackends(ctx, "other")
		if len(got) != 0 || len(other) != 1 {
			t.Errorf("after the reset of shop: shop %s, other %s; want none, and other's kept", ops(got), ops(other))
		}
	})
}

// TestLiveBackendsRefused: an entry the store cannot keep is refused with
// what is wrong, and nothing is stored.
func TestLiveBackendsRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t)
		for _, e := range []LiveBackend{
			live("", SideNew, "http://10.1.0.7:3000", BackendAdded),
			live("shop", "middle", "http://10.1.0.7:3000", BackendAdded),
			live("shop", SideNew, "ftp://10.1.0.7", BackendAdded),
			live("shop", SideNew, "http://10.1.0.7:3000", "paused"),
			live("shop", SideNew, "", BackendAdded),
		} {
			if _, err := s.SetBackend(t.Context(), e); !errors.Is(err, ErrInvalid) {
				t.Errorf("SetBackend(%+v) = %v, want %v", e, err, ErrInvalid)
			}
		}
		if got, _ := s.LiveBackends(t.Context(), "shop"); len(got) != 0 {
			t.Errorf("stored %s after refusals", ops(got))
		}
	})
}

// TestLiveBackendsKeepWeight: a backend change on one instance and a
// weight change on another, at once, both stay: the overlay is not part
// of the app's state.
func TestLiveBackendsKeepWeight(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		a, c := b.openPair(t, true)
		ctx := t.Context()
		if err := a.SetWeight(ctx, "shop", 30); err != nil {
			t.Fatal(err)
		}
		if _, err := c.SetBackend(ctx, live("shop", SideNew, "http://10.1.0.7:3000", BackendAdded)); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Update(ctx, "shop", rollbackFn); err != nil {
			t.Fatal(err)
		}
		if _, err := c.SetBackend(ctx, live("shop", SideNew, "http://10.1.0.8:3000", BackendAdded)); err != nil {
			t.Fatal(err)
		}
		st, _, err := c.Get(ctx, "shop")
		if err != nil || st.Weight != 0 || st.Phase != "rolled_back" {
			t.Errorf("state after the backend changes = %+v, %v; want the rollback kept", st, err)
		}
		if got, _ := a.LiveBackends(ctx, "shop"); len(got) != 2 {
			t.Errorf("live backends = %s, want both", ops(got))
		}
	})
}

// TestLiveBackendsReachOtherInstance: a change made on one Redis store
// reaches the other's WatchBackends by the change notification: the fake
// clock never moves, so the re-read never runs. On the embedded store
// (another process on the same state.db) the re-read brings it.
func TestLiveBackendsReachOtherInstance(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		a, c := b.openPair(t, true)
		ctx := t.Context()
		var clock interface{ Advance(time.Duration) }
		if b.name == BackendEmbedded {
			clock = a.clock
		}
		cw := c.WatchBackends(ctx)
		if _, err := a.SetBackend(ctx, live("shop", SideNew, "http://10.1.0.7:3000", BackendAdded)); err != nil {
			t.Fatal(err)
		}
		waitLive(t, clock, cw, "shop", opsAre("new http://10.1.0.7:3000 added;"))
		if _, err := a.SetBackend(ctx, live("shop", SideNew, "http://10.1.0.7:3000", BackendRemoved)); err != nil {
			t.Fatal(err)
		}
		waitLive(t, clock, cw, "shop", opsAre("new http://10.1.0.7:3000 removed;"))
		if _, err := a.ResetBackends(ctx, "shop"); err != nil {
			t.Fatal(err)
		}
		waitLive(t, clock, cw, "shop", opsAre(""))
	})
}

// TestLiveBackendsWhileRedisDown: a change made while Redis is paused or
// dead is in force on its instance at once, kept in the local file (a
// restart keeps it), and written when Redis is back, where the other
// instance takes it; the entries Redis lost when it restarted empty are
// written back from the last known ones. A change made meanwhile on the
// other instance, later, wins over the pending one.
func TestLiveBackendsWhileRedisDown(t *testing.T) {
	tests := []struct {
		name       string
		down, back func(*testsvc.Redis)
	}{
		{"paused", (*testsvc.Redis).Pause, (*testsvc.Redis).Resume},
		{"killed and restarted empty", (*testsvc.Redis).Kill, (*testsvc.Redis).Start},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := testsvc.StartRedis(t)
			clock := newFakeClock()
			dirA := t.TempDir()
			a := outageStore(t, srv, dirA, clock)
			c := outageStore(t, srv, t.TempDir(), clock)
			ctx := t.Context()
			if err := a.SetWeight(ctx, "shop", 10); err != nil {
				t.Fatal(err)
			}
			if _, err := a.SetBackend(ctx, live("shop", SideOld, "http://10.0.0.5:3000", BackendDraining)); err != nil {
				t.Fatal(err)
			}
			cw := c.WatchBackends(ctx)
			waitLive(t, nil, cw, "shop", opsAre("old http://10.0.0.5:3000 draining;"))

			tt.down(srv)
			clock.Advance(time.Second)
			_, err := a.SetBackend(ctx, live("shop", SideNew, "http://10.1.0.7:3000", BackendAdded))
			if !errors.Is(err, ErrPending) || !errors.Is(err, ErrStoreDown) {
				t.Fatalf("SetBackend while down = %v, want it kept here (%v)", err, ErrPending)
			}
			here, _ := a.LiveBackends(ctx, "shop")
			if want := "new http://10.1.0.7:3000 added;old http://10.0.0.5:3000 draining;"; ops(here) != want {
				t.Errorf("a's live backends while down = %s, want %s", ops(here), want)
			}
			if st := a.Status(); st.PendingBackends != 1 {
				t.Errorf("a's status while down = %+v, want 1 pending backend change", st)
			}
			// Kept in the local file: what a restart would start on.
			_, _, known, err := loadLocal(dirA, srv.URL(), DefaultKeyPrefix, t.Logf)
			if err != nil || ops(known) != ops(here) {
				t.Errorf("local file holds %s, %v; want %s", ops(known), err, ops(here))
			}

			tt.back(srv)
			want := "new http://10.1.0.7:3000 added;old http://10.0.0.5:3000 draining;"
			waitLive(t, clock, cw, "shop", opsAre(want))
			waitAdvancingUntil(t, clock, "a up with nothing pending", func() bool {
				st := a.Status()
				return st.Up && st.PendingBackends == 0
			})
			if got, err := c.LiveBackends(ctx, "shop"); err != nil || ops(got) != want {
				t.Errorf("redis holds %s, %v after the outage; want %s", ops(got), err, want)
			}
			if w, _, _ := c.Weight(ctx, "shop"); w != 10 {
				t.Errorf("weight after the outage = %d, want 10 untouched", w)
			}
		})
	}
}

// TestLiveBackendLaterChangeWins: while Redis is paused, instance a drains
// a backend; Redis resumes and b, which never saw it, adds that backend
// back later: a's pending drain, older, does not replace it.
func TestLiveBackendLaterChangeWins(t *testing.T) {
	srv := testsvc.StartRedis(t)
	clock := newFakeClock()
	a := outageStore(t, srv, t.TempDir(), clock)
	b := outageStore(t, srv, t.TempDir(), clock)
	ctx := t.Context()
	if err := a.SetWeight(ctx, "shop", 10); err != nil {
		t.Fatal(err)
	}
	srv.Pause()
	if _, err := a.SetBackend(ctx, live("shop", SideNew, "http://10.1.0.7:3000", BackendDraining)); !errors.Is(err, ErrPending) {
		t.Fatalf("SetBackend while down = %v, want %v", err, ErrPending)
	}
	srv.Resume()
	clock.Advance(time.Second)
	later, err := b.SetBackend(ctx, live("shop", SideNew, "http://10.1.0.7:3000", BackendAdded))
	if err != nil {
		t.Fatal(err)
	}
	waitAdvancingUntil(t, clock, "a's change written", func() bool { return a.Status().Up && a.Status().PendingBackends == 0 })
	got, err := b.LiveBackends(ctx, "shop")
	if err != nil || len(got) != 1 || !sameLive(got[0], later) {
		t.Errorf("live backends = %+v, %v; want b's later add %+v", got, err, later)
	}
}

// TestDecodeLive: a stored entry that is not one gives an error saying
// what is wrong, never a panic or a half entry.
func TestDecodeLive(t *testing.T) {
	good := `{"app":"shop","side":"new","url":"http://10.1.0.7:3000","op":"added","at":"2023-11-14T22:13:20Z","actor":"api"}`
	tests := []struct {
		name, in, wantErr string
	}{
		{"good", good, ""},
		{"not json", `{"app":`, "decoding live backend"},
		{"unknown field", strings.Replace(good, `"actor"`, `"who"`, 1), `unknown field "who"`},
		{"trailing data", good + `{}`, "data after"},
		{"no app", strings.Replace(good, `"shop"`, `""`, 1), "without app"},
		{"bad side", strings.Replace(good, `"new"`, `"blue"`, 1), `side "blue"`},
		{"bad op", strings.Replace(good, `"added"`, `"gone"`, 1), `op "gone"`},
		{"no time", strings.Replace(good, `"2023-11-14T22:13:20Z"`, `"0001-01-01T00:00:00Z"`, 1), "no time"},
		{"bad url", strings.Replace(good, `http://10.1.0.7:3000`, `tcp://10.1.0.7:3000`, 1), "not http:// or https://"},
		{"wrong type", strings.Replace(good, `"shop"`, `7`, 1), "cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeLive([]byte(tt.in))
			if tt.wantErr == "" {
				if err != nil || got.App != "shop" {
					t.Errorf("decodeLive() = %+v, %v; want the entry", got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("decodeLive() error = %v, want one containing %q", err, tt.wantErr)
			}
			if got != (LiveBackend{}) {
				t.Errorf("decodeLive() returned %+v with its error, want nothing", got)
			}
		})
	}
}

func FuzzDecodeLive(f *testing.F) {
	f.Add([]byte(`{"app":"shop","side":"new","url":"http://10.1.0.7:3000","op":"added","at":"2023-11-14T22:13:20Z"}`))
	f.Add([]byte(`{"app":"shop","side":"old","url":"https://[::1]:1/x","op":"removed","at":"2023-11-14T22:13:20.5Z","reason":"r"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeLive(b)
		if err != nil {
			return
		}
		if err := e.validate(); err != nil {
			t.Fatalf("decodeLive() took an invalid entry %+v: %v", e, err)
		}
		again, err := decodeLive(mustJSON(t, e))
		if err != nil {
			t.Fatalf("decodeLive() of its own encoding: %v", err)
		}
		if diff := cmp.Diff(again, e, cmpopts.EquateApproxTime(0)); diff != "" {
			t.Errorf("encoded and decoded again (-again +first):\n%s", diff)
		}
	})
}
