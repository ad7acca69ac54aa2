package compare

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestStatsByDirection: pairs of one endpoint served by old and by new are
// counted apart, each labelled with its direction, and the bound on
// endpoints holds per direction.
func TestStatsByDirection(t *testing.T) {
	e := newTestEngine(t, Config{MaxEndpoints: 1})
	oldToNew := Pair{App: "shop", Request: Request{Method: "GET", Path: "/users/1"}, Primary: resp(200, `{"a":1}`), Candidate: resp(200, `{"a":1}`)}
	newToOld := oldToNew
	newToOld.Direction, newToOld.Primary = DirectionNewToOld, resp(500, `{"a":2}`)
	for range 3 {
		if got := e.Compare(oldToNew); got.Direction != DirectionOldToNew || got.Outcome != OutcomeMatch {
			t.Fatalf("old_to_new pair: %s %s", got.Direction, got.Outcome)
		}
	}
	if got := e.Compare(newToOld); got.Direction != DirectionNewToOld || got.Outcome != OutcomeDiff {
		t.Fatalf("new_to_old pair: %s %s", got.Direction, got.Outcome)
	}
	if got := e.Record("shop", DirectionNewToOld, "/users/:id", "POST", OutcomeSkippedUnsafe); got.Direction != DirectionNewToOld {
		t.Errorf("Record's direction = %q", got.Direction)
	}
	// One endpoint per direction: the second one of each is Other.
	if got := e.Record("shop", DirectionNewToOld, "/more", "GET", OutcomeDropped).Endpoint; got != Other {
		t.Errorf("second endpoint of new_to_old counts as %q, want %q", got, Other)
	}
	type row struct {
		Endpoint  string
		Direction Direction
		Requests  uint64
		Diffs     uint64
		Outcomes  map[Outcome]uint64
		Matrix    map[string]uint64
	}
	var got []row
	for _, s := range e.Stats("shop") {
		got = append(got, row{s.Endpoint, s.Direction, s.Requests, s.Diffs, s.Outcomes, s.StatusMatrix})
	}
	want := []row{
		{"/users/:id", DirectionOldToNew, 3, 0, map[Outcome]uint64{OutcomeMatch: 3}, map[string]uint64{"2xx->2xx": 3}},
		{"/users/:id", DirectionNewToOld, 1, 1, map[Outcome]uint64{OutcomeDiff: 1, OutcomeSkippedUnsafe: 1}, map[string]uint64{"5xx->2xx": 1}},
		{Other, DirectionNewToOld, 0, 0, map[Outcome]uint64{OutcomeDropped: 1}, map[string]uint64{}},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("Stats by direction (-got +want):\n%s", diff)
	}
}

// TestFlakyMemoryByDirection: the memory of the primary's last answer is
// per direction. Old and new answer alike each time, differently from
// each other: compared with the other side's answer, every field would
// look flaky and the real difference would pass as noise.
func TestFlakyMemoryByDirection(t *testing.T) {
	e := newTestEngine(t, Config{FlakyShare: 0.5})
	oldAnswer, newAnswer := resp(200, `{"price":10}`), resp(200, `{"price":12}`)
	for i := range 20 {
		p := Pair{App: "shop", Request: Request{Method: "GET", Path: "/products/1"}, Primary: oldAnswer, Candidate: newAnswer}
		if i%2 == 1 {
			p.Direction, p.Primary, p.Candidate = DirectionNewToOld, newAnswer, oldAnswer
		}
		if got := e.Compare(p); got.Outcome != OutcomeDiff {
			t.Fatalf("pair %d (%s): outcome %s, noisy %q; want diff", i, p.Direction.Norm(), got.Outcome, got.Noisy)
		}
	}
}

// TestStoreByDirection: a field keeps its examples per direction, and the
// report's examples are found by direction.
func TestStoreByDirection(t *testing.T) {
	s := openTestStore(t, filepath.Join(t.TempDir(), StoreFile), StoreOptions{PerField: 1})
	defer s.Close()
	p, r := diffPair("shop", "/users/:id", "/users/7", t0, "/v")
	mustAdd(t, s, p, r)
	p.Direction, p.At = DirectionNewToOld, t0.Add(time.Millisecond)
	p.Request.Path = "/users/8"
	mustAdd(t, s, p, r)
	if got := s.Stats(); got.Examples != 2 || got.Skipped != 0 {
		t.Errorf("store stats %+v, want 2 examples (one per direction), none skipped", got)
	}
	latest, err := s.LatestExamples(t.Context(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	for dir, path := range map[Direction]string{DirectionOldToNew: "/users/7", DirectionNewToOld: "/users/8"} {
		got, ok := latest.Get(dir, "/users/:id", "/v")
		if !ok || got.Request.Path != path || got.Direction != dir {
			t.Errorf("latest example of %s: %v %q %q, want %s", dir, ok, got.Direction, got.Request.Path, path)
		}
		ex, err := s.Examples(t.Context(), "shop", dir, "/users/:id")
		if err != nil {
			t.Fatal(err)
		}
		if len(ex["/v"]) != 1 || ex["/v"][0].Request.Path != path {
			t.Errorf("examples of %s: %+v, want one of %s", dir, ex, path)
		}
	}
}

// TestStoreMigratesDirection: a store written before directions existed
// opens with its examples counted as served by old.
func TestStoreMigratesDirection(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), StoreFile)
	dsn, err := storeDSN(path)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE schema_version (version INTEGER NOT NULL)`, storeMigrations[0], `INSERT INTO schema_version (version) VALUES (1)`,
		`INSERT INTO pairs VALUES (1, 0, 'diff', 'GET', 'h', '/users/7', '', '{}', NULL, 0, '{"status":200,"latency_ns":0}', NULL, '{"status":200,"latency_ns":0}', NULL, '[]', 'null')`,
		`INSERT INTO examples (app, endpoint, field, at, pair_id) VALUES ('shop', '/users/:id', '/v', 0, 1)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	s := openTestStore(t, path, StoreOptions{})
	defer s.Close()
	latest, err := s.LatestExamples(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := latest.Get(DirectionOldToNew, "/users/:id", "/v"); !ok || got.Request.Path != "/users/7" {
		t.Errorf("the old example after the migration: %v %+v", ok, latest)
	}
}

// TestNoiseFromCandidateSecondary: a pair served by new whose secondary is
// a second old (an instance of its candidate's side) measures noise
// between the two olds: a timestamp that differs in every answer is noise,
// a price that only new changed is a real difference.
func TestNoiseFromCandidateSecondary(t *testing.T) {
	e := newTestEngine(t, Config{})
	for i := range 20 {
		old := demoPair(i, 10) // primary old, secondary a second old
		p := Pair{App: "shop", Direction: DirectionNewToOld, Request: old.Request,
			Primary:   resp(200, fmt.Sprintf(`{"id":%d,"price":12,"ts":"2024-01-01T00:00:%02d.4Z"}`, i, i%60)),
			Candidate: old.Primary, Secondary: old.Secondary, SecondaryOfCandidate: true}
		got := e.Compare(p)
		if got.Outcome != OutcomeDiff || !cmp.Equal(got.Noisy, []string{"/ts"}) {
			t.Fatalf("pair %d: outcome %s, noisy %q; want diff with /ts as noise", i, got.Outcome, got.Noisy)
		}
	}
}
