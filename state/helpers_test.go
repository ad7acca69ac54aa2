package state

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/redis/go-redis/v9"

	"github.com/migratekit/migrate/manifest"
)

// waitFor is how long a test waits for something that should happen at
// once (a published change, a restarted server): generous, so a slow
// machine does not fail the test, which fails only if it never happens.
const waitFor = 20 * time.Second

// backend opens stores of one backend for the tests that hold for both.
type backend struct {
	name string
	// cfg returns the state section of a fresh, empty store; the stores
	// opened with one cfg and one Options.KeyPrefix share their state.
	cfg    func(t *testing.T) manifest.State
	prefix func(t *testing.T) string
}

func backends() []backend {
	return []backend{
		{
			name:   BackendEmbedded,
			cfg:    func(*testing.T) manifest.State { return manifest.State{} },
			prefix: func(*testing.T) string { return "" },
		},
		{
			name:   BackendRedis,
			cfg:    func(t *testing.T) manifest.State { return manifest.State{Backend: BackendRedis, URL: testRedisURL(t)} },
			prefix: uniquePrefix,
		},
	}
}

// forEachBackend runs f as a subtest per backend.
func forEachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) { f(t, b) })
	}
}

// testStore is a store opened by a test, with its fake clock and data dir.
type testStore struct {
	Store
	clock *clockwork.FakeClock
	dir   string
}

func newFakeClock() *clockwork.FakeClock {
	return clockwork.NewFakeClockAt(time.UnixMilli(1_700_000_000_000).UTC())
}

// open opens a store of b with a fresh state, in a fresh data dir, with a
// fake clock; it is closed at the end of the test.
func (b backend) open(t *testing.T) testStore {
	t.Helper()
	s, _ := b.openPair(t, false)
	return s
}

// openPair opens a store of b and, with two, a second instance sharing its
// state (embedded: the same data dir; Redis: the same key prefix, its own
// data dir), both on one fake clock.
func (b backend) openPair(t *testing.T, two bool) (testStore, testStore) {
	t.Helper()
	clock, cfg, prefix := newFakeClock(), b.cfg(t), b.prefix(t)
	dir := t.TempDir()
	a := testStore{openStore(t, cfg, Options{DataDir: dir, Clock: clock, KeyPrefix: prefix}), clock, dir}
	if !two {
		return a, testStore{}
	}
	if b.name == BackendRedis {
		dir = t.TempDir()
	}
	return a, testStore{openStore(t, cfg, Options{DataDir: dir, Clock: clock, KeyPrefix: prefix}), clock, dir}
}

func openStore(t *testing.T, cfg manifest.State, opts Options) Store {
	t.Helper()
	s, err := OpenWith(t.Context(), cfg, opts)
	if err != nil {
		t.Fatalf("OpenWith: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// testRedisURL is the shared test Redis; tests that need it fail without
// it, since scripts/test always provides one.
func testRedisURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("MIGRATE_TEST_REDIS")
	if u == "" {
		t.Fatal("MIGRATE_TEST_REDIS is not set: run scripts/test, which starts a redis-server and sets it")
	}
	return u
}

// uniquePrefix keeps the keys of one test apart from every other test on
// the shared Redis, and deletes them at the end.
func uniquePrefix(t *testing.T) string {
	b := make([]byte, 6)
	rand.Read(b)
	prefix := "migrate-test:" + hex.EncodeToString(b) + ":"
	url := testRedisURL(t)
	t.Cleanup(func() {
		o, err := redis.ParseURL(url)
		if err != nil {
			t.Fatal(err)
		}
		c := redis.NewClient(o)
		defer c.Close()
		k := newRedisKeys(prefix)
		if err := c.Del(context.Background(), k.apps, k.events, k.backends).Err(); err != nil {
			t.Errorf("deleting test keys: %v", err)
		}
	})
	return prefix
}

// rawClient is a plain go-redis client for a test to look behind the store.
func rawClient(t *testing.T, url string) *redis.Client {
	t.Helper()
	o, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(o)
	t.Cleanup(func() { c.Close() })
	return c
}

// recvChange waits for the next change on ch, failing the test if none
// comes or the channel closes.
func recvChange(t *testing.T, ch <-chan Change) Change {
	t.Helper()
	select {
	case c, ok := <-ch:
		if !ok {
			t.Fatal("watch channel closed")
		}
		return c
	case <-time.After(waitFor):
		t.Fatalf("no change within %s", waitFor)
	}
	return Change{}
}

// waitState receives changes from ch until app reaches a state for which
// done is true, and returns the states seen for app on the way.
func waitState(t *testing.T, ch <-chan Change, app string, done func(AppState) bool) []AppState {
	t.Helper()
	return waitAdvancingFor(t, nil, ch, app, done)
}

// waitAdvancingFor is waitState advancing clock (unless nil) by a poll
// interval whenever no change came for a while.
func waitAdvancingFor(t *testing.T, clock *clockwork.FakeClock, ch <-chan Change, app string, done func(AppState) bool) []AppState {
	t.Helper()
	var seen []AppState
	deadline := time.After(waitFor)
	for {
		select {
		case c, ok := <-ch:
			if !ok {
				t.Fatalf("watch channel closed; saw %+v", seen)
			}
			if c.App != app {
				continue
			}
			seen = append(seen, c.State)
			if done(c.State) {
				return seen
			}
		case <-time.After(50 * time.Millisecond):
			if clock != nil {
				clock.Advance(DefaultPollInterval)
			}
		case <-deadline:
			t.Fatalf("%s did not reach the wanted state within %s; saw %+v", app, waitFor, seen)
		}
	}
}

func weightIs(w int) func(AppState) bool { return func(s AppState) bool { return s.Weight == w } }

func readAuditFile(t *testing.T, dir string) []Event {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, AuditLogFile))
	if err != nil {
		t.Fatal(err)
	}
	evs, err := ReadAuditLog(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("audit log: %v\n%s", err, strings.TrimSpace(string(b)))
	}
	return evs
}
