package shadow

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/migratekit/migrate/compare"
	"github.com/migratekit/migrate/manifest"
)

// heldBackend answers only once released (or when its client gives up).
func heldBackend(t *testing.T, name string) (b *backend, release func()) {
	ch := make(chan struct{})
	b = newBackend(t, name, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-ch:
		case <-r.Context().Done():
			return
		}
		answer(w, r, name)
	})
	var once sync.Once
	release = func() { once.Do(func() { close(ch) }) }
	t.Cleanup(release) // runs before the backend closes
	return b, release
}

// TestQueueFull fills one worker and a queue of one: every further request
// is served at once, dropped and counted.
func TestQueueFull(t *testing.T) {
	old := newBackend(t, "old", nil)
	newB, release := heldBackend(t, "new")
	app := testApp(old.URL, newB.URL)
	app.Shadow.Workers, app.Shadow.Queue = 1, 1
	e := start(t, app, true)

	e.do(t, http.MethodGet, "/first", nil, nil)
	waitFor(t, "the worker to hold the first mirror", func() bool { return newB.hits() == 1 })
	for i := range 9 {
		if got := e.do(t, http.MethodGet, fmt.Sprintf("/next/%d", i), nil, nil); got.Status != http.StatusOK {
			t.Fatalf("request %d: status %d", i, got.Status)
		}
	}
	if diff := cmp.Diff(e.mirror.Stats(), Stats{Queued: 1, Pending: 2, Mirrored: 2, Dropped: 8}); diff != "" {
		t.Errorf("stats (-got +want):\n%s", diff)
	}
	if got := metric(t, e.reg, "migrate_shadow_dropped_total", map[string]string{"app": "web", "direction": "old_to_new", "reason": "queue_full"}); got != 8 {
		t.Errorf("migrate_shadow_dropped_total{reason=queue_full} = %v, want 8", got)
	}
	waitFor(t, "the drops recorded", func() bool { return e.cmp.total() == 8 })

	release()
	waitFor(t, "the two admitted pairs judged", func() bool { return e.cmp.total() == 10 })
	compared, recorded := e.cmp.counts()
	if diff := cmp.Diff([]map[compare.Outcome]int{compared, recorded}, []map[compare.Outcome]int{
		{compare.OutcomeDiff: 2}, {compare.OutcomeDropped: 8},
	}); diff != "" {
		t.Errorf("outcomes [compared, recorded] (-got +want):\n%s", diff)
	}
	if got := newB.hits(); got != 2 {
		t.Errorf("new saw %d requests, want 2", got)
	}
}

// TestShutdown stops the mirror with mirrors in flight and queued: Run
// returns without waiting for the held new side, the pairs are dropped
// and counted, and requests are then served without a mirror.
func TestShutdown(t *testing.T) {
	old := newBackend(t, "old", nil)
	newB, _ := heldBackend(t, "new")
	app := testApp(old.URL, newB.URL)
	app.Shadow.Workers, app.Shadow.Queue = 2, 8
	app.Shadow.Timeout = manifest.Duration(time.Hour)
	e := start(t, app, true)

	for i := range 6 {
		e.do(t, http.MethodGet, fmt.Sprintf("/%d", i), nil, nil)
	}
	waitFor(t, "both workers to hold a mirror", func() bool { return newB.hits() == 2 })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.mirror.Run(ctx); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("a second Run: got %v, want an error", err)
	}
	e.stop() // stops the mirror first, then the proxy
	if got := metric(t, e.reg, "migrate_shadow_dropped_total", map[string]string{"app": "web", "direction": "old_to_new", "reason": "shutdown"}); got != 6 {
		t.Errorf("migrate_shadow_dropped_total{reason=shutdown} = %v, want 6", got)
	}
	if got := e.mirror.Stats(); got.Pending != 0 || got.Queued != 0 {
		t.Errorf("after shutdown: %+v, want nothing pending or queued", got)
	}
	if got := e.cmp.total(); got != 0 {
		t.Errorf("%d pairs judged, want none", got)
	}
}

func TestSecondary(t *testing.T) {
	old, newB := newBackend(t, "old", nil), newBackend(t, "new", nil)
	second := newBackend(t, "old2", nil)
	app := testApp(old.URL, newB.URL)
	app.Shadow.Secondary = []string{second.URL}
	app.Shadow.Routes = []manifest.Route{{Path: "/items/:id", Methods: []string{http.MethodPut}}}
	e := start(t, app, true)

	body := randomBody(10<<10, 3)
	e.do(t, http.MethodPut, "/items/1?v=2", strings.NewReader(string(body)), http.Header{"X-Trace": {"t1"}})
	waitFor(t, "the pair judged", func() bool { return e.cmp.total() == 1 })

	type view struct{ Method, Path, Body, Trace, Shadow string }
	see := func(b *backend) []view {
		var out []view
		for _, r := range b.requests() {
			out = append(out, view{r.Method, r.Path, r.BodySHA, r.Header.Get("X-Trace"), r.Header.Get(Header)})
		}
		return out
	}
	want := []view{{http.MethodPut, "/items/1", sha(body), "t1", "1"}}
	if diff := cmp.Diff(see(second), want); diff != "" {
		t.Errorf("secondary (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(see(newB), want); diff != "" {
		t.Errorf("new (-got +want):\n%s", diff)
	}
	p := e.cmp.seenPairs()[0]
	if p.Secondary == nil || string(p.Secondary.Body) != "old2 PUT /items/1?v=2" {
		t.Errorf("pair's secondary = %+v, want old2's answer", p.Secondary)
	}
}

// TestSecondarySide: shadow.secondary is an instance of old (of new with
// direction reverse) and measures the noise of the pairs of both
// directions: for a pair served by the other side, it is an instance of
// the candidate's side, and the pair says so.
func TestSecondarySide(t *testing.T) {
	tests := []struct {
		direction   string
		weight      int
		ofCandidate bool
	}{
		{"both", 0, false},
		{"both", 100, true},
		{"reverse", 100, false},
		{"reverse", 0, false}, // not mirrored: no pair
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s at %d", tt.direction, tt.weight), func(t *testing.T) {
			old, newB, second := newBackend(t, "old", nil), newBackend(t, "new", nil), newBackend(t, "second", nil)
			app := testApp(old.URL, newB.URL)
			app.Shadow.Direction, app.Cutover.Weight = tt.direction, ptr(tt.weight)
			app.Shadow.Secondary = []string{second.URL}
			e := start(t, app, true)
			e.do(t, http.MethodGet, "/x", nil, nil)
			if tt.direction == "reverse" && tt.weight == 0 {
				e.stop()
				if got := second.hits() + e.cmp.total(); got != 0 {
					t.Errorf("a request not mirrored reached the secondary or the comparer (%d)", got)
				}
				return
			}
			waitFor(t, "the pair judged", func() bool { return e.cmp.total() == 1 })
			e.stop()
			p := e.cmp.seenPairs()[0]
			if p.Secondary == nil || string(p.Secondary.Body) != "second GET /x" || p.SecondaryOfCandidate != tt.ofCandidate {
				t.Errorf("pair secondary %+v of candidate %v, want second's answer, of candidate %v", p.Secondary, p.SecondaryOfCandidate, tt.ofCandidate)
			}
		})
	}
}
