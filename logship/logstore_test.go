package logship

import (
	"fmt"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jonboulle/clockwork"
)

func openStore(t *testing.T, opts LogStoreOptions) *LogStore {
	t.Helper()
	s, err := OpenLogStore(t.Context(), filepath.Join(t.TempDir(), LogStoreFile), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// line is an event of app shop whose raw line is its id and side.
func line(id, side string, at time.Time) Event {
	return Event{ID: id, App: "shop", Side: side, Time: at, Host: "web1", Record: Record{Raw: []byte(id + " " + side)}}
}

// ids returns the ids of stored lines.
func ids(t *testing.T, lines []StoredLine) []string {
	t.Helper()
	out := []string{}
	for _, l := range lines {
		ev, err := DecodeEventJSON(l.JSON)
		if err != nil {
			t.Fatalf("stored line %q: %v", l.JSON, err)
		}
		out = append(out, ev.ID)
	}
	return out
}

func TestLogStoreDedupe(t *testing.T) {
	s := openStore(t, LogStoreOptions{})
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	first := []Event{line("a", "old", at), line("b", "old", at), line("a", "new", at)}
	added, err := s.Add(t.Context(), first)
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.Add(t.Context(), []Event{line("b", "old", at), line("c", "old", at)})
	if err != nil {
		t.Fatal(err)
	}
	got := []int{len(added), len(again)}
	if diff := cmp.Diff(got, []int{3, 1}); diff != "" {
		t.Errorf("added (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(s.Stats(), LogStoreStats{Stored: 4, Duplicates: 1, Lines: 4}); diff != "" {
		t.Errorf("Stats (-got +want):\n%s", diff)
	}
}

func TestLogStoreBounds(t *testing.T) {
	clock := clockwork.NewFakeClockAt(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	s := openStore(t, LogStoreOptions{MaxLines: 5, MaxAge: time.Minute, Clock: clock})
	add := func(from, to int) {
		var evs []Event
		for i := from; i < to; i++ {
			evs = append(evs, line(fmt.Sprint(i), "old", clock.Now()))
		}
		if _, err := s.Add(t.Context(), evs); err != nil {
			t.Fatal(err)
		}
	}
	add(0, 8) // 0-2 dropped by count
	clock.Advance(2 * time.Minute)
	add(8, 10) // 3-7 dropped by age
	got, err := s.Query(t.Context(), LogQuery{App: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ids(t, got), []string{"8", "9"}); diff != "" {
		t.Errorf("kept (-got +want):\n%s", diff)
	}
	want := LogStoreStats{Stored: 10, EvictedCount: 3, EvictedAge: 5, Lines: 2}
	if diff := cmp.Diff(s.Stats(), want); diff != "" {
		t.Errorf("Stats (-got +want):\n%s", diff)
	}
}

func TestLogStoreQuery(t *testing.T) {
	s := openStore(t, LogStoreOptions{})
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	evs := []Event{line("a", "old", at), line("b", "new", at.Add(time.Second)), line("c", "old", at.Add(2*time.Second)),
		line("d", "new", at.Add(3*time.Second)), {ID: "x", App: "other", Side: "old", Time: at, Record: Record{Raw: []byte("x")}}}
	if _, err := s.Add(t.Context(), evs); err != nil {
		t.Fatal(err)
	}
	all, err := s.Query(t.Context(), LogQuery{App: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		q    LogQuery
		want []string
	}{
		{"both sides, oldest first", LogQuery{App: "shop"}, []string{"a", "b", "c", "d"}},
		{"one side", LogQuery{App: "shop", Side: "new"}, []string{"b", "d"}},
		{"grep", LogQuery{App: "shop", Grep: regexp.MustCompile(`^[ac] `)}, []string{"a", "c"}},
		{"since", LogQuery{App: "shop", Since: at.Add(2 * time.Second)}, []string{"c", "d"}},
		{"newest only", LogQuery{App: "shop", Limit: 2}, []string{"c", "d"}},
		{"after a cursor", LogQuery{App: "shop", After: all[1].Seq, Limit: 1}, []string{"c"}},
		{"another app", LogQuery{App: "other"}, []string{"x"}},
		{"nothing", LogQuery{App: "shop", Side: "new", Grep: regexp.MustCompile("old")}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Query(t.Context(), tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(ids(t, got), tt.want); diff != "" {
				t.Errorf("Query (-got +want):\n%s", diff)
			}
		})
	}
	if _, err := s.Query(t.Context(), LogQuery{}); err == nil {
		t.Error("a query without an app did not fail")
	}
}

func TestLogStoreChanged(t *testing.T) {
	s := openStore(t, LogStoreOptions{})
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ch := s.Changed()
	if _, err := s.Add(t.Context(), []Event{line("a", "old", at)}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	default:
		t.Fatal("Changed was not closed by an Add that stored a line")
	}
	ch = s.Changed()
	if _, err := s.Add(t.Context(), []Event{line("a", "old", at)}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
		t.Fatal("Changed was closed by an Add that stored only a duplicate")
	default:
	}
}

func TestLogStoreReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), LogStoreFile)
	s, err := OpenLogStore(t.Context(), path, LogStoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if _, err := s.Add(t.Context(), []Event{line("a", "old", at), line("b", "old", at)}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = OpenLogStore(t.Context(), path, LogStoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	added, err := s.Add(t.Context(), []Event{line("a", "old", at)})
	if err != nil {
		t.Fatal(err)
	}
	got := []int{len(added), s.Stats().Lines}
	if diff := cmp.Diff(got, []int{0, 2}); diff != "" {
		t.Errorf("after reopening, added and lines (-got +want):\n%s", diff)
	}
}
