package compare

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jonboulle/clockwork"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func openTestStore(t testing.TB, path string, opts StoreOptions) *Store {
	t.Helper()
	s, err := OpenStore(context.Background(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// diffPair builds a pair of GET path captured at at, and its result with
// one JSON difference per field.
func diffPair(app, endpoint, path string, at time.Time, fields ...string) (Pair, Result) {
	p := Pair{
		App: app, Endpoint: endpoint, At: at,
		Request:   Request{Method: "GET", Path: path, Host: app + ".example.com", Header: http.Header{"Accept": {"application/json"}}},
		Primary:   Response{Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"v":1}`), Latency: 12 * time.Millisecond},
		Candidate: Response{Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"v":2}`), Latency: 15 * time.Millisecond},
	}
	r := Result{App: app, Endpoint: endpoint, Method: "GET", Outcome: OutcomeDiff, PrimaryStatus: 200, CandidateStatus: 200,
		PrimaryLatency: 12 * time.Millisecond, CandidateLatency: 15 * time.Millisecond}
	for _, f := range fields {
		r.Diffs = append(r.Diffs, Difference{Kind: KindJSON, Path: f, Field: f, Primary: "1", Candidate: "2"})
	}
	return p, r
}

func mustAdd(t testing.TB, s *Store, p Pair, r Result) {
	t.Helper()
	if err := s.Add(context.Background(), p, r); err != nil {
		t.Fatal(err)
	}
}

func TestStoreRoundTrip(t *testing.T) {
	s := openTestStore(t, filepath.Join(t.TempDir(), "data", StoreFile), StoreOptions{})
	defer s.Close()
	p, r := diffPair("shop", "/users/:id", "/users/7", t0, "/v", "/w")
	p.Request.RawQuery = "page=2"
	p.Candidate.Err, p.Candidate.Timeout = errors.New("deadline"), true
	r.Diffs = append(r.Diffs, Difference{Kind: KindJSON, Path: "/v", Field: "/v", Primary: "3", Candidate: "4"})
	r.Noisy = []string{"/w"}
	mustAdd(t, s, p, r)

	want := Sample{
		App: "shop", Direction: DirectionOldToNew, Endpoint: "/users/:id", At: t0, Outcome: OutcomeDiff,
		Request: p.Request, Primary: p.Primary, Candidate: p.Candidate, Diffs: r.Diffs, Noisy: []string{"/w"},
	}
	got, err := s.Examples(t.Context(), "shop", "", "/users/:id")
	if err != nil {
		t.Fatal(err)
	}
	wantV, wantW := want, want
	wantV.ID, wantV.Field = got["/v"][0].ID, "/v"
	wantW.ID, wantW.Field = got["/w"][0].ID, "/w"
	if diff := cmp.Diff(got, map[string][]Sample{"/v": {wantV}, "/w": {wantW}}, cmpErrText); diff != "" {
		t.Errorf("Examples mismatch (-got +want):\n%s", diff)
	}
	one, err := s.Example(t.Context(), wantW.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(one, wantW, cmpErrText); diff != "" {
		t.Errorf("Example mismatch (-got +want):\n%s", diff)
	}
	if _, err := s.Example(t.Context(), 9999); !errors.Is(err, ErrNoSample) {
		t.Errorf("Example(9999) error = %v, want ErrNoSample", err)
	}
	latest, err := s.LatestExamples(t.Context(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(latest, Examples{DirectionOldToNew: {"/users/:id": {"/v": wantV, "/w": wantW}}}, cmpErrText); diff != "" {
		t.Errorf("LatestExamples mismatch (-got +want):\n%s", diff)
	}
}

// add is one Add of the retention tests: a pair captured at t0+offset
// differing in fields.
type add struct {
	offset time.Duration
	fields []string
}

func TestStoreRetention(t *testing.T) {
	tests := []struct {
		name string
		opts StoreOptions
		adds []add
		// want maps field -> offsets of its examples, newest first.
		want      map[string][]time.Duration
		wantStats StoreStats
	}{
		{
			name: "newest per field when every pair counts",
			opts: StoreOptions{PerField: 3, MinInterval: -1},
			adds: []add{{1, []string{"a"}}, {2, []string{"a", "b"}}, {3, []string{"a"}}, {4, []string{"a"}}, {5, []string{"a"}}},
			want: map[string][]time.Duration{"a": {5, 4, 3}, "b": {2}},
			// a: 5 stored, 2 replaced; b: 1.
			wantStats: StoreStats{Examples: 4, Stored: 6},
		},
		{
			name:      "a full field skips pairs older than its newest",
			opts:      StoreOptions{PerField: 2, MinInterval: -1},
			adds:      []add{{10, []string{"a"}}, {20, []string{"a"}}, {5, []string{"a"}}, {15, []string{"a"}}, {20, []string{"a"}}},
			want:      map[string][]time.Duration{"a": {20, 20}},
			wantStats: StoreStats{Examples: 2, Stored: 3, Skipped: 2},
		},
		{
			name: "a full field is refreshed at most every MinInterval",
			opts: StoreOptions{PerField: 2, MinInterval: time.Second},
			adds: []add{
				{0, []string{"a"}}, {100 * time.Millisecond, []string{"a"}}, // fills a
				{500 * time.Millisecond, []string{"a"}},  // < newest+1s: skipped
				{1100 * time.Millisecond, []string{"a"}}, // replaces 0
				{2000 * time.Millisecond, []string{"a"}}, // < 1.1s+1s: skipped
				{2100 * time.Millisecond, []string{"a"}}, // replaces 100ms
			},
			want:      map[string][]time.Duration{"a": {2100 * time.Millisecond, 1100 * time.Millisecond}},
			wantStats: StoreStats{Examples: 2, Stored: 4, Skipped: 2},
		},
		{
			name: "MaxExamples refuses growth but not replacement",
			opts: StoreOptions{PerField: 2, MinInterval: -1, MaxExamples: 3},
			adds: []add{{1, []string{"a", "b"}}, {2, []string{"a", "b", "c"}}, {3, []string{"a"}}},
			// after the first add: a1 b1 (2); second: a2 grows (3), b and c refused; third: a replaces.
			want:      map[string][]time.Duration{"a": {3, 2}, "b": {1}},
			wantStats: StoreStats{Examples: 3, Stored: 4, Refused: 2},
		},
		{
			name:      "repeated field in one pair is one example",
			opts:      StoreOptions{},
			adds:      []add{{1, []string{"/items/*/p", "/items/*/p", "/items/*/p"}}},
			want:      map[string][]time.Duration{"/items/*/p": {1}},
			wantStats: StoreStats{Examples: 1, Stored: 1},
		},
		{
			name:      "no diffs, nothing stored",
			opts:      StoreOptions{},
			adds:      []add{{1, nil}},
			want:      map[string][]time.Duration{},
			wantStats: StoreStats{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTestStore(t, filepath.Join(t.TempDir(), StoreFile), tt.opts)
			defer s.Close()
			for _, a := range tt.adds {
				p, r := diffPair("shop", "/x", "/x", t0.Add(a.offset), a.fields...)
				mustAdd(t, s, p, r)
			}
			if diff := cmp.Diff(exampleOffsets(t, s, "shop", "/x"), tt.want); diff != "" {
				t.Errorf("examples mismatch (-got +want):\n%s", diff)
			}
			if diff := cmp.Diff(s.Stats(), tt.wantStats); diff != "" {
				t.Errorf("Stats mismatch (-got +want):\n%s", diff)
			}
			if got, want := countRows(t, s, "examples"), tt.wantStats.Examples; got != want {
				t.Errorf("examples rows = %d, want %d", got, want)
			}
		})
	}
}

// exampleOffsets returns an endpoint's examples as offsets from t0, by
// field, newest first.
func exampleOffsets(t *testing.T, s *Store, app, endpoint string) map[string][]time.Duration {
	t.Helper()
	ex, err := s.Examples(t.Context(), app, "", endpoint)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]time.Duration{}
	for f, samples := range ex {
		for _, sm := range samples {
			out[f] = append(out[f], sm.At.Sub(t0))
		}
	}
	return out
}

func countRows(t testing.TB, s *Store, table string) int {
	t.Helper()
	var n int
	if err := s.db.QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestStoreSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), StoreFile)
	s := openTestStore(t, path, StoreOptions{PerField: 4, MinInterval: time.Minute})
	for i := range 4 {
		p, r := diffPair("shop", "/x", "/x", t0.Add(time.Duration(i)*time.Second), "a")
		mustAdd(t, s, p, r)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopened with a smaller PerField: the oldest go; the field is full
	// and its newest is remembered, so a pair within MinInterval is skipped.
	s = openTestStore(t, path, StoreOptions{PerField: 2, MinInterval: time.Minute})
	defer s.Close()
	p, r := diffPair("shop", "/x", "/x", t0.Add(30*time.Second), "a")
	mustAdd(t, s, p, r)
	got := exampleOffsets(t, s, "shop", "/x")
	want := map[string][]time.Duration{"a": {3 * time.Second, 2 * time.Second}}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("examples after reopen mismatch (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(s.Stats(), StoreStats{Examples: 2, Skipped: 1}); diff != "" {
		t.Errorf("Stats mismatch (-got +want):\n%s", diff)
	}
	if got := countRows(t, s, "pairs"); got != 2 {
		t.Errorf("pairs rows = %d, want 2 (a pair goes with its last example)", got)
	}
}

func TestStoreStampsUndatedPairs(t *testing.T) {
	clock := clockwork.NewFakeClockAt(t0.Add(time.Hour))
	s := openTestStore(t, filepath.Join(t.TempDir(), StoreFile), StoreOptions{Clock: clock})
	defer s.Close()
	p, r := diffPair("shop", "/x", "/x", time.Time{}, "a")
	mustAdd(t, s, p, r)
	got := exampleOffsets(t, s, "shop", "/x")
	if diff := cmp.Diff(got, map[string][]time.Duration{"a": {time.Hour}}); diff != "" {
		t.Errorf("examples mismatch (-got +want):\n%s", diff)
	}
}

func TestStoreCapsBodies(t *testing.T) {
	s := openTestStore(t, filepath.Join(t.TempDir(), StoreFile), StoreOptions{MaxBody: 8})
	defer s.Close()
	p, r := diffPair("shop", "/x", "/x", t0, "a")
	p.Request.Body = []byte("0123456789")
	p.Primary.Body = []byte("short")
	p.Candidate.Body = []byte("abcdefghijkl")
	mustAdd(t, s, p, r)
	ex, err := s.Examples(t.Context(), "shop", "", "/x")
	if err != nil {
		t.Fatal(err)
	}
	sm := ex["a"][0]
	got := []any{string(sm.Request.Body), sm.RequestTruncated, string(sm.Primary.Body), sm.Primary.Truncated, string(sm.Candidate.Body), sm.Candidate.Truncated}
	want := []any{"01234567", true, "short", false, "abcdefgh", true}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("bodies mismatch (-got +want):\n%s", diff)
	}
}

func TestOpenStoreErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		path string
		opts StoreOptions
	}{
		{"bad JSON pattern", filepath.Join(dir, "a.db"), StoreOptions{RedactJSON: []string{"password"}}},
		{"path is a directory", dir, StoreOptions{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := OpenStore(t.Context(), tt.path, tt.opts)
			if err == nil {
				s.Close()
				t.Fatalf("OpenStore(%s) succeeded", tt.path)
			}
		})
	}
}

func TestStoreRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), StoreFile)
	s := openTestStore(t, path, StoreOptions{})
	if _, err := s.db.Exec(`UPDATE schema_version SET version = 99`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := OpenStore(t.Context(), path, StoreOptions{}); err == nil {
		s.Close()
		t.Fatal("OpenStore accepted a schema from the future")
	}
}

func TestStoreConcurrentAdds(t *testing.T) {
	s := openTestStore(t, filepath.Join(t.TempDir(), StoreFile), StoreOptions{PerField: 3, MinInterval: -1})
	defer s.Close()
	errc := make(chan error, 4)
	for w := range 4 {
		go func() {
			for i := range 50 {
				p, r := diffPair("shop", fmt.Sprintf("/e%d", i%2), "/x", t0.Add(time.Duration(w*1000+i)), "a", "b")
				if err := s.Add(context.Background(), p, r); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
	}
	for range 4 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	if got, want := maxPerKey(t, s), 3; got != want {
		t.Errorf("most examples of one key = %d, want %d", got, want)
	}
	if got, want := countRows(t, s, "examples"), 2*2*3; got != want {
		t.Errorf("examples rows = %d, want %d", got, want)
	}
	if got, want := s.Stats().Examples, 12; got != want {
		t.Errorf("Stats().Examples = %d, want %d", got, want)
	}
}

func maxPerKey(t testing.TB, s *Store) int {
	t.Helper()
	var n int
	err := s.db.QueryRow(`SELECT COALESCE(MAX(c), 0) FROM (SELECT COUNT(*) AS c FROM examples GROUP BY app, endpoint, field)`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
