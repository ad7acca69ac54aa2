package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jonboulle/clockwork"

	"github.com/migratekit/migrate/internal/testsvc"
	"github.com/migratekit/migrate/manifest"
)

// Tests of the decisions taken while Redis is down: each on a
// redis-server of its own that it pauses (SIGSTOP) or kills.

// outageTimeout bounds the Redis calls of these tests' stores, so that a
// paused Redis is found out quickly.
const outageTimeout = 300 * time.Millisecond

// outageStore opens a store on srv in dir with its own clock.
func outageStore(t *testing.T, srv *testsvc.Redis, dir string, clock clockwork.Clock) Store {
	t.Helper()
	return openStore(t, manifest.State{Backend: BackendRedis, URL: srv.URL()},
		Options{DataDir: dir, Clock: clock, RedisTimeout: outageTimeout})
}

func rollbackFn(st *AppState) error {
	st.Weight, st.Phase, st.Paused = 0, "rolled_back", true
	return nil
}

// redisWeight is app's weight as Redis holds it.
func redisWeight(t *testing.T, srv *testsvc.Redis, app string) int {
	t.Helper()
	v, err := rawClient(t, srv.URL()).HGet(t.Context(), DefaultKeyPrefix+"apps", app).Result()
	if err != nil {
		t.Fatalf("reading %s from redis: %v", app, err)
	}
	st, err := decodeState(v)
	if err != nil {
		t.Fatal(err)
	}
	return st.Weight
}

// TestRedisRollbackWhileDownWins: two instances at weight 100; Redis
// stops (SIGSTOP) or dies; a rollback on one of them is applied there at
// once and kept, and when Redis is back it is written: the instance never
// goes back to the stale 100 it reads then, and the other one follows.
func TestRedisRollbackWhileDownWins(t *testing.T) {
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
			var logA bytes.Buffer
			a := openStore(t, manifest.State{Backend: BackendRedis, URL: srv.URL()}, Options{DataDir: t.TempDir(),
				Clock: clock, RedisTimeout: outageTimeout, Logger: slog.New(slog.NewTextHandler(&logA, nil))})
			b := outageStore(t, srv, t.TempDir(), clock)
			if err := a.SetWeight(t.Context(), "shop", 100); err != nil {
				t.Fatal(err)
			}
			bw := b.Watch(t.Context())
			waitState(t, bw, "shop", weightIs(100))

			tt.down(srv)
			clock.Advance(time.Second)
			rolledBack, err := a.Update(t.Context(), "shop", rollbackFn)
			if !errors.Is(err, ErrPending) || !errors.Is(err, ErrStoreDown) || rolledBack.Weight != 0 {
				t.Fatalf("rollback while down = %+v, %v; want weight 0 with %v", rolledBack, err, ErrPending)
			}
			aw := a.Watch(t.Context())
			if got := recvChange(t, aw); got.State.Weight != 0 {
				t.Errorf("a's state while down = %+v, want its rollback", got.State)
			}

			tt.back(srv)
			waitAdvancingFor(t, clock, bw, "shop", func(st AppState) bool { return st.Weight == 0 && st.Phase == "rolled_back" })
			waitAdvancingUntil(t, clock, "a up with nothing pending", func() bool { return a.Status().Up && a.Status().Pending == 0 })
			for _, st := range drain(aw) {
				if st.Weight != 0 {
					t.Errorf("a went back to weight %d after the outage: the rollback was undone", st.Weight)
				}
			}
			if got := redisWeight(t, srv, "shop"); got != 0 {
				t.Errorf("redis holds weight %d after the outage, want the rollback's 0", got)
			}
			// The outage and the recovery are logged once each.
			for _, line := range []string{`msg="state store down: serving the last known state"`, `msg="state store up again"`, `msg="decision taken while the state store was down is saved"`} {
				if n := strings.Count(logA.String(), line); n != 1 {
					t.Errorf("%d log lines %s, want 1:\n%s", n, line, logA.String())
				}
			}
		})
	}
}

// TestRedisLaterDecisionWins: while Redis is paused one instance rolls
// back and keeps it; Redis resumes and another instance, which never saw
// the rollback, raises the weight before the first writes its decision.
// The later decision (by their clocks) wins on both.
func TestRedisLaterDecisionWins(t *testing.T) {
	tests := []struct {
		name                 string
		rollbackAt, raiseAt  time.Duration // after the first write
		wantWeight           int
		wantSupersededEvents int
	}{
		{"the rollback is later", 10 * time.Second, 5 * time.Second, 0, 0},
		{"the raise is later", 5 * time.Second, 10 * time.Second, 100, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := testsvc.StartRedis(t)
			clockA, clockB := newFakeClock(), newFakeClock()
			var logA bytes.Buffer
			// a polls only when the test says: it must not write its
			// decision before b raised the weight.
			a := openStore(t, manifest.State{Backend: BackendRedis, URL: srv.URL()}, Options{DataDir: t.TempDir(),
				Clock: clockA, RedisTimeout: outageTimeout, PollInterval: time.Hour, Logger: slog.New(slog.NewTextHandler(&logA, nil))})
			b := outageStore(t, srv, t.TempDir(), clockB)
			if err := a.SetWeight(t.Context(), "shop", 50); err != nil {
				t.Fatal(err)
			}
			bw := b.Watch(t.Context())
			waitState(t, bw, "shop", weightIs(50))
			clockA.Advance(tt.rollbackAt)
			clockB.Advance(tt.raiseAt)

			srv.Pause()
			if _, err := a.Update(t.Context(), "shop", rollbackFn); !errors.Is(err, ErrPending) {
				t.Fatalf("rollback while paused: %v, want %v", err, ErrPending)
			}
			srv.Resume()
			if err := b.SetWeight(t.Context(), "shop", 100); err != nil {
				t.Fatal(err)
			}

			a.(*redisStore).poll(t.Context()) // what its next tick does
			if st := a.Status(); !st.Up || st.Pending != 0 {
				t.Errorf("a's status after its poll = %+v, want up, nothing pending", st)
			}
			waitState(t, a.Watch(t.Context()), "shop", weightIs(tt.wantWeight))
			waitAdvancingFor(t, clockB, bw, "shop", weightIs(tt.wantWeight))
			if got := redisWeight(t, srv, "shop"); got != tt.wantWeight {
				t.Errorf("redis holds weight %d, want %d", got, tt.wantWeight)
			}
			evs, err := b.Events(t.Context(), Query{App: "shop"})
			if err != nil {
				t.Fatal(err)
			}
			if got := countKinds(evs)[KindSuperseded]; got != tt.wantSupersededEvents {
				t.Errorf("%d superseded events, want %d: %+v", got, tt.wantSupersededEvents, evs)
			}
			if said := strings.Contains(logA.String(), "superseded by a later one"); said != (tt.wantSupersededEvents > 0) {
				t.Errorf("a's log says superseded: %v, want %v:\n%s", said, tt.wantSupersededEvents > 0, logA.String())
			}
		})
	}
}

// TestRedisStartsDownOnLastKnownState: an instance restarted while Redis
// is down starts on the last known state of its data dir, keeps a
// decision taken then across another restart, and writes it when Redis is
// back; an instance with no last known state refuses to start.
func TestRedisStartsDownOnLastKnownState(t *testing.T) {
	srv := testsvc.StartRedis(t)
	clock, dir := newFakeClock(), t.TempDir()
	cfg := manifest.State{Backend: BackendRedis, URL: srv.URL()}
	open := func() Store {
		s, err := OpenWith(t.Context(), cfg, Options{DataDir: dir, Clock: clock, RedisTimeout: outageTimeout})
		if err != nil {
			t.Fatalf("OpenWith() = %v, want it to start on the last known state", err)
		}
		return s
	}
	s := open()
	if err := s.SetWeight(t.Context(), "shop", 30); err != nil {
		t.Fatal(err)
	}
	s.Close()

	srv.Kill()
	s = open()
	if w, ok, err := s.Weight(t.Context(), "shop"); w != 30 || !ok || !errors.Is(err, ErrStoreDown) {
		t.Errorf("Weight() on a start while down = %d, %v, %v; want the last known 30 and %v", w, ok, err, ErrStoreDown)
	}
	if st := s.Status(); st.Up {
		t.Errorf("Status() = %+v, want down", st)
	}
	if _, err := s.Update(t.Context(), "shop", rollbackFn); !errors.Is(err, ErrPending) {
		t.Fatalf("rollback while down: %v", err)
	}
	s.Close()

	s = open() // restarted again, Redis still down
	defer s.Close()
	if w, _, _ := s.Weight(t.Context(), "shop"); w != 0 || s.Status().Pending != 1 {
		t.Errorf("after a restart: weight %d, status %+v; want the rollback, pending", w, s.Status())
	}
	_, err := OpenWith(t.Context(), cfg, Options{DataDir: t.TempDir(), Clock: clock, RedisTimeout: outageTimeout})
	if err == nil || !strings.Contains(err.Error(), "no last known state") || !strings.Contains(err.Error(), RedisLocalFile) {
		t.Errorf("OpenWith() with no last known state while down = %v, want a refusal naming %s", err, RedisLocalFile)
	}

	srv.Start()
	waitAdvancingUntil(t, clock, "up with nothing pending", func() bool { return s.Status().Up && s.Status().Pending == 0 })
	if got := redisWeight(t, srv, "shop"); got != 0 {
		t.Errorf("redis holds weight %d once back, want the rollback's 0", got)
	}
}

// TestRedisLocalFileDamaged: a local file that does not decode is refused
// with its path and what to do; one saved for another Redis is ignored.
func TestRedisLocalFileDamaged(t *testing.T) {
	srv := testsvc.StartRedis(t)
	cfg := manifest.State{Backend: BackendRedis, URL: srv.URL()}
	tests := []struct {
		name    string
		content string
		damaged bool
	}{
		{"garbage", "\x00\xffgarbage", true},
		{"truncated", `{"redis":"unix:///x","prefix":"migrate:","apps":[{"app":"shop","wei`, true},
		{"a weight out of range", `{"redis":"` + srv.URL() + `","prefix":"migrate:","saved_at":"2023-11-14T22:13:20Z","apps":[{"app":"shop","weight":300,"plan_step":0,"version":1}]}`, true},
		{"another redis", `{"redis":"redis://elsewhere:6379","prefix":"migrate:","saved_at":"2023-11-14T22:13:20Z","apps":[{"app":"shop","weight":30,"plan_step":0,"version":1}]}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, RedisLocalFile), []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := OpenWith(t.Context(), cfg, Options{DataDir: dir, Clock: newFakeClock(), KeyPrefix: uniquePrefix(t)})
			if !tt.damaged {
				if err != nil {
					t.Fatalf("OpenWith() = %v, want it to open", err)
				}
				defer s.Close()
				if _, ok, _ := s.Get(t.Context(), "shop"); ok {
					t.Error("the state saved for another redis was used")
				}
				return
			}
			if s != nil || !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), filepath.Join(dir, RedisLocalFile)) ||
				!strings.Contains(err.Error(), "move it aside") {
				t.Errorf("OpenWith() = %v, want a DamagedError naming %s", err, RedisLocalFile)
			}
		})
	}
}

// FuzzRedisLocalFile decodes local files of any content: a file decodeLocal
// takes holds only valid states, encodes again and decodes the same.
func FuzzRedisLocalFile(f *testing.F) {
	f.Add([]byte(`{"redis":"unix:///r.sock","prefix":"migrate:","saved_at":"2023-11-14T22:13:20Z",` +
		`"apps":[{"app":"shop","weight":30,"plan_step":1,"version":4,"updated_at":"2023-11-14T22:13:20Z"}],` +
		`"pending":[{"state":{"app":"shop","weight":0,"phase":"rolled_back","plan_step":1,"paused":true,"version":5},"base":4}],` +
		`"events":[{"at":"2023-11-14T22:13:20Z","app":"shop","kind":"rollback"}]}`))
	f.Add([]byte(`{"redis":"unix:///r.sock","prefix":"migrate:","saved_at":"2023-11-14T22:13:20Z","apps":[],` +
		`"backends":[{"app":"shop","side":"new","url":"http://10.1.0.7:3000","op":"added","at":"2023-11-14T22:13:20Z","actor":"api"}],` +
		`"pending_backends":[{"op":"set","entry":{"app":"shop","side":"old","url":"http://10.0.0.5:3000","op":"draining","at":"2023-11-14T22:13:21Z"}},` +
		`{"op":"reset","entry":{"app":"shop","side":"","url":"","op":"","at":"2023-11-14T22:13:22Z"}}]}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"apps":[{"app":""}]}`))
	f.Add([]byte(`{"pending_backends":[{"op":"drop","entry":{}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeLocal(b)
		if err != nil {
			return
		}
		for _, st := range got.Apps {
			if st.App == "" || st.validate() != nil {
				t.Fatalf("decodeLocal() took an invalid state %+v", st)
			}
		}
		for _, e := range got.Backends {
			if err := e.validate(); err != nil {
				t.Fatalf("decodeLocal() took an invalid live backend %+v: %v", e, err)
			}
		}
		for _, o := range got.PendingBackends {
			if err := o.validate(); err != nil {
				t.Fatalf("decodeLocal() took an invalid live backend change %+v: %v", o, err)
			}
		}
		again, err := decodeLocal(mustJSON(t, got))
		if err != nil {
			t.Fatalf("decodeLocal() of its own encoding: %v", err)
		}
		// An empty list and none are the same file: "pending": [] is
		// written back without the key (omitempty) and read as nil.
		if diff := cmp.Diff(again, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("encoded and decoded again (-again +first):\n%s", diff)
		}
	})
}

// waitAdvancingUntil advances clock by a poll interval every 50ms until
// cond holds.
func waitAdvancingUntil(t *testing.T, clock *clockwork.FakeClock, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(waitFor); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not %s within %s", what, waitFor)
		}
		clock.Advance(DefaultPollInterval)
	}
}

// drain returns the states ch holds now.
func drain(ch <-chan Change) []AppState {
	var out []AppState
	for {
		select {
		case c := <-ch:
			out = append(out, c.State)
		case <-time.After(100 * time.Millisecond):
			return out
		}
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
