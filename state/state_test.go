package state

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The tests in this file hold for every backend.

func TestWeightRoundTrip(t *testing.T) {
	type set struct {
		app    string
		weight int
	}
	tests := []struct {
		name string
		sets []set
		want map[string]int // app -> weight; absent apps are checked for ok=false
	}{
		{"one app", []set{{"shop", 25}}, map[string]int{"shop": 25}},
		{"overwrite", []set{{"shop", 25}, {"shop", 50}, {"shop", 0}}, map[string]int{"shop": 0}},
		{"bounds", []set{{"a", 0}, {"b", 100}}, map[string]int{"a": 0, "b": 100}},
		{"apps are separate", []set{{"a", 5}, {"b", 95}, {"a", 10}}, map[string]int{"a": 10, "b": 95}},
		{"unknown app", nil, map[string]int{}},
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := b.open(t)
				for _, st := range tt.sets {
					if err := s.SetWeight(t.Context(), st.app, st.weight); err != nil {
						t.Fatal(err)
					}
				}
				got := readWeights(t, s, "a", "b", "shop", "never-set")
				if diff := cmp.Diff(got, tt.want); diff != "" {
					t.Errorf("weights mismatch (-got +want):\n%s", diff)
				}
			})
		}
	})
}

// readWeights returns the saved weights of apps, leaving out those with
// ok=false.
func readWeights(t *testing.T, s Store, apps ...string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, app := range apps {
		w, ok, err := s.Weight(t.Context(), app)
		if err != nil {
			t.Fatalf("Weight(%q): %v", app, err)
		}
		if ok {
			out[app] = w
		} else if w != 0 {
			t.Errorf("Weight(%q) = %d, false; want 0 with ok=false", app, w)
		}
	}
	return out
}

func TestSetWeightRejects(t *testing.T) {
	tests := []struct {
		name    string
		app     string
		weight  int
		wantErr error
	}{
		{"negative", "shop", -1, ErrWeightRange},
		{"over 100", "shop", 101, ErrWeightRange},
		{"no app", "", 10, ErrNoApp},
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := b.open(t)
				if err := s.SetWeight(t.Context(), "shop", 30); err != nil {
					t.Fatal(err)
				}
				err := s.SetWeight(t.Context(), tt.app, tt.weight)
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("SetWeight(%q, %d) = %v, want %v", tt.app, tt.weight, err, tt.wantErr)
				}
				got := readWeights(t, s, "shop")
				if diff := cmp.Diff(got, map[string]int{"shop": 30}); diff != "" {
					t.Errorf("weight changed by a rejected set (-got +want):\n%s", diff)
				}
			})
		}
	})
}

var errTest = errors.New("test refuses")

func TestUpdate(t *testing.T) {
	t0 := newFakeClock().Now()
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	type step struct {
		advance time.Duration // clock advance before the update
		fn      func(*AppState) error
		wantErr error
	}
	tests := []struct {
		name  string
		steps []step
		want  AppState // Get afterwards
		ok    bool
	}{
		{
			name:  "new app",
			steps: []step{{fn: func(s *AppState) error { s.Weight, s.Phase = 5, "cutover"; return nil }}},
			want:  AppState{App: "shop", Weight: 5, Phase: "cutover", Version: 1, UpdatedAt: t0},
			ok:    true,
		},
		{
			name: "keeps what fn leaves",
			steps: []step{
				{fn: func(s *AppState) error {
					s.PlanStep, s.StepSince, s.Phase = 2, at(-time.Minute), "cutover"
					return nil
				}},
				{advance: time.Second, fn: func(s *AppState) error { s.Weight = 50; return nil }},
				{advance: time.Second, fn: func(s *AppState) error { s.Paused = true; return nil }},
			},
			want: AppState{App: "shop", Weight: 50, Phase: "cutover", PlanStep: 2, StepSince: at(-time.Minute),
				Paused: true, Version: 3, UpdatedAt: at(2 * time.Second)},
			ok: true,
		},
		{
			name: "no change writes nothing",
			steps: []step{
				{fn: func(s *AppState) error { s.Weight = 5; return nil }},
				{advance: time.Minute, fn: func(s *AppState) error { s.Weight = 5; return nil }},
			},
			want: AppState{App: "shop", Weight: 5, Version: 1, UpdatedAt: t0},
			ok:   true,
		},
		{
			name: "fn error saves nothing",
			steps: []step{
				{fn: func(s *AppState) error { s.Weight = 5; return nil }},
				{fn: func(s *AppState) error { s.Weight = 90; return errTest }, wantErr: errTest},
			},
			want: AppState{App: "shop", Weight: 5, Version: 1, UpdatedAt: t0},
			ok:   true,
		},
		{
			name:  "fn error on a new app",
			steps: []step{{fn: func(s *AppState) error { s.Weight = 5; return errTest }, wantErr: errTest}},
		},
		{
			name:  "app is not renamed",
			steps: []step{{fn: func(s *AppState) error { s.App, s.Weight = "other", 7; return nil }}},
			want:  AppState{App: "shop", Weight: 7, Version: 1, UpdatedAt: t0},
			ok:    true,
		},
		{
			name:  "times at millisecond precision",
			steps: []step{{fn: func(s *AppState) error { s.StepSince = t0.Add(1500 * time.Microsecond); return nil }}},
			want:  AppState{App: "shop", StepSince: at(time.Millisecond), Version: 1, UpdatedAt: t0},
			ok:    true,
		},
		{
			name:  "weight over 100",
			steps: []step{{fn: func(s *AppState) error { s.Weight = 101; return nil }, wantErr: ErrWeightRange}},
		},
		{
			name:  "negative plan step",
			steps: []step{{fn: func(s *AppState) error { s.PlanStep = -1; return nil }, wantErr: ErrInvalid}},
		},
		{
			name:  "phase too long",
			steps: []step{{fn: func(s *AppState) error { s.Phase = strings.Repeat("x", MaxPhase+1); return nil }, wantErr: ErrInvalid}},
		},
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := b.open(t)
				for i, st := range tt.steps {
					s.clock.Advance(st.advance)
					_, err := s.Update(t.Context(), "shop", st.fn)
					if !errors.Is(err, st.wantErr) {
						t.Fatalf("step %d: Update() error = %v, want %v", i, err, st.wantErr)
					}
				}
				got, ok, err := s.Get(t.Context(), "shop")
				if err != nil || ok != tt.ok {
					t.Fatalf("Get() = %v, %v, want ok=%v", ok, err, tt.ok)
				}
				if diff := cmp.Diff(got, tt.want); diff != "" {
					t.Errorf("state (-got +want):\n%s", diff)
				}
			})
		}
	})
}

func TestUpdateReturnsSaved(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t)
		got, err := s.Update(t.Context(), "shop", func(st *AppState) error { st.Weight = 25; return nil })
		if err != nil {
			t.Fatal(err)
		}
		saved, _, err := s.Get(t.Context(), "shop")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(got, saved); diff != "" {
			t.Errorf("Update() result vs Get() (-update +get):\n%s", diff)
		}
		apps, err := s.Apps(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(apps, []AppState{saved}); diff != "" {
			t.Errorf("Apps() (-got +want):\n%s", diff)
		}
	})
}

// TestUpdateAtomic increments one counter from many goroutines on two
// instances sharing the state: every increment must count.
func TestUpdateAtomic(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s1, s2 := b.openPair(t, true)
		const writers, rounds = 8, 25
		var wg sync.WaitGroup
		errs := make(chan error, writers*rounds)
		for g := range writers {
			s := []Store{s1, s2}[g%2]
			wg.Go(func() {
				for range rounds {
					_, err := s.Update(t.Context(), "shop", func(st *AppState) error {
						st.PlanStep++
						return nil
					})
					if err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("Update: %v", err)
		}
		for i, s := range []Store{s1, s2} {
			got, _, err := s.Get(t.Context(), "shop")
			if err != nil {
				t.Fatal(err)
			}
			if got.PlanStep != writers*rounds || got.Version != writers*rounds {
				t.Errorf("instance %d: plan step %d, version %d; want %d increments", i+1, got.PlanStep, got.Version, writers*rounds)
			}
		}
	})
}

func TestConcurrentSetWeight(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t)
		const writers, rounds, apps = 16, 20, 4
		var wg sync.WaitGroup
		errs := make(chan error, writers*rounds*2)
		for g := range writers {
			wg.Go(func() {
				app := fmt.Sprintf("app%d", g%apps)
				for r := range rounds {
					if err := s.SetWeight(t.Context(), app, (g*rounds+r)%101); err != nil {
						errs <- err
					}
					if _, _, err := s.Weight(t.Context(), app); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("concurrent use: %v", err)
		}
		// Each app's weight is the last round of one of its writers.
		for a := range apps {
			app := fmt.Sprintf("app%d", a)
			last := map[int]bool{}
			for g := a; g < writers; g += apps {
				last[(g*rounds+rounds-1)%101] = true
			}
			w, ok, err := s.Weight(t.Context(), app)
			if err != nil || !ok || !last[w] {
				t.Errorf("Weight(%q) = %d, %v, %v; want one of %v", app, w, ok, err, last)
			}
		}
	})
}

func TestWatch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		a, other := b.openPair(t, true)
		if err := a.SetWeight(t.Context(), "old", 10); err != nil {
			t.Fatal(err)
		}
		ch := a.Watch(t.Context())
		if diff := cmp.Diff(recvChange(t, ch).State, AppState{App: "old", Weight: 10, Version: 1, UpdatedAt: a.clock.Now()}); diff != "" {
			t.Errorf("first change is not the known state (-got +want):\n%s", diff)
		}
		oc := other.Watch(t.Context())
		for _, w := range []int{5, 25, 50, 100} {
			if err := a.SetWeight(t.Context(), "shop", w); err != nil {
				t.Fatal(err)
			}
		}
		// The embedded store learns of another's change when it
		// re-reads; Redis publishes it.
		a.clock.Advance(DefaultPollInterval)
		for name, ch := range map[string]<-chan Change{"own": ch, "other instance": oc} {
			seen := waitState(t, ch, "shop", weightIs(100))
			assertIncreasing(t, name, seen)
		}
	})
}

// assertIncreasing checks that the states a watcher saw for one app never
// go back to an older version.
func assertIncreasing(t *testing.T, name string, seen []AppState) {
	t.Helper()
	for i := 1; i < len(seen); i++ {
		if seen[i].Version <= seen[i-1].Version {
			t.Errorf("%s: version %d after %d: %+v", name, seen[i].Version, seen[i-1].Version, seen)
		}
	}
}

func TestWatchEnds(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t)
		if err := s.SetWeight(t.Context(), "shop", 10); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		byCtx, byClose := s.Watch(ctx), s.Watch(t.Context())
		cancel()
		assertClosed(t, "watch whose context is done", byCtx)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		assertClosed(t, "watch of a closed store", byClose)
		assertClosed(t, "watch started after Close", s.Watch(t.Context()))
	})
}

// assertClosed drains ch (it may hold the initial state) and fails if it
// is not closed in time.
func assertClosed(t *testing.T, name string, ch <-chan Change) {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatalf("%s: not closed", name)
		}
	}
}

func TestStatusUp(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := b.open(t)
		got := s.Status()
		if diff := cmp.Diff(got, Status{Backend: b.name, Up: true}); diff != "" {
			t.Errorf("Status() (-got +want):\n%s", diff)
		}
	})
}
