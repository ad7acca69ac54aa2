package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/migratekit/migrate/internal/testsvc"
	"github.com/migratekit/migrate/lb"
	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/state"
)

// liveYAML is a manifest of app shop at weight 100 with one old backend
// and the new backends given, under defaults.
func liveYAML(defaults, oldURL string, newURLs ...string) string {
	return fmt.Sprintf(`defaults:
  listen: 127.0.0.1:0
  admin: {listen: 127.0.0.1:0}
  drain: 5s
%s
apps:
  shop:
    old: {backends: [%s]}
    new: {backends: [%s]}
    cutover: {weight: 100}
    shadow: {sample: 0%%}
`, defaults, oldURL, strings.Join(newURLs, ", "))
}

// backendOf is inst's backend of shop at url.
func backendOf(inst *Instance, url string) (lb.BackendStatus, bool) {
	for _, b := range inst.Proxy.App("shop").Backends() {
		if b.URL == url {
			return b, true
		}
	}
	return lb.BackendStatus{}, false
}

func serving(inst *Instance, url string) bool {
	b, ok := backendOf(inst, url)
	return ok && b.Healthy && !b.Draining
}

func absent(inst *Instance, url string) bool {
	_, ok := backendOf(inst, url)
	return !ok
}

// waitApplied waits until cond holds on inst and logs how long after
// began that was.
func waitApplied(t *testing.T, what string, began time.Time, cond func() bool) {
	t.Helper()
	waitFor(t, what, cond)
	t.Logf("%s %s after the change", what, time.Since(began).Round(time.Millisecond))
}

// TestLiveBackendsShared: two instances on one redis-server whose state
// store re-reads only every hour: a backend added, drained and removed
// through instance a is applied by instance b, which can only have heard
// of it by the store's change notification.
func TestLiveBackendsShared(t *testing.T) {
	t.Parallel()
	redis := testsvc.StartRedis(t)
	oldB, n1, n2 := backend(t, 200, "old"), backend(t, 200, "new1"), backend(t, 200, "new2")
	yaml := liveYAML(fmt.Sprintf("  state: {backend: redis, url: %q}", redis.URL()), oldB.URL, n1.URL)
	opts := Options{StatePoll: time.Hour}
	a, b := startWith(t, yaml, opts), startWith(t, yaml, opts)
	ctx := t.Context()

	began := time.Now()
	if err := a.LiveBackends.Add(ctx, "shop", "new", n2.URL, state.ActorAPI, "scale out"); err != nil {
		t.Fatal(err)
	}
	waitApplied(t, "the added backend serves on b", began, func() bool { return serving(b, n2.URL) })

	began = time.Now()
	if _, err := a.LiveBackends.Drain(ctx, "shop", n1.URL, state.ActorAPI, "deploy"); err != nil {
		t.Fatal(err)
	}
	waitApplied(t, "the drained backend drains on b", began, func() bool {
		st, ok := backendOf(b, n1.URL)
		return ok && st.Draining
	})

	began = time.Now()
	if err := a.LiveBackends.Remove(ctx, "shop", n1.URL, state.ActorAPI, "deploy"); err != nil {
		t.Fatal(err)
	}
	waitApplied(t, "the removed backend is gone from b", began, func() bool { return absent(b, n1.URL) })
	if got := body(t, proxyURL(b)+"/"); got != "new2" {
		t.Errorf("b served %q after the replacement, want new2", got)
	}
	live := b.Admin.Status
	st, _ := live("shop")
	if ops := liveOps(st.LiveBackends); ops != fmt.Sprintf("new %s removed;new %s added;", n1.URL, n2.URL) &&
		ops != fmt.Sprintf("new %s added;new %s removed;", n2.URL, n1.URL) {
		t.Errorf("b's status live_backends = %s, want n2 added and n1 removed", ops)
	}
}

func liveOps(es []state.LiveBackend) string {
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintf(&b, "%s %s %s;", e.Side, e.URL, e.Op)
	}
	return b.String()
}

// TestLiveBackendsThroughRedisOutage: Redis stops or dies; a backend added
// through instance a serves there at once (the error says it is kept
// here), and once Redis is back instance b serves it too.
func TestLiveBackendsThroughRedisOutage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		down, back func(*testsvc.Redis)
	}{
		{"redis paused", (*testsvc.Redis).Pause, (*testsvc.Redis).Resume},
		{"redis killed and restarted", (*testsvc.Redis).Kill, (*testsvc.Redis).Start},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			redis := testsvc.StartRedis(t)
			oldB, n1, n2 := backend(t, 200, "old"), backend(t, 200, "new1"), backend(t, 200, "new2")
			yaml := liveYAML(fmt.Sprintf("  state: {backend: redis, url: %q}", redis.URL()), oldB.URL, n1.URL)
			a, b := startWith(t, yaml, Options{}), startWith(t, yaml, Options{})
			ctx := t.Context()
			n0 := backend(t, 200, "new0")
			if err := a.LiveBackends.Add(ctx, "shop", "new", n0.URL, state.ActorAPI, "before the outage"); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "b serving the backend added before the outage", func() bool { return serving(b, n0.URL) })

			tt.down(redis)
			waitFor(t, "store down on a", func() bool { return !a.Manager.StoreStatus().Up })
			err := a.LiveBackends.Add(ctx, "shop", "new", n2.URL, state.ActorAPI, "during the outage")
			if !errors.Is(err, state.ErrPending) {
				t.Fatalf("Add with the store down = %v, want it applied here and pending (%v)", err, state.ErrPending)
			}
			waitFor(t, "a serving the backend added during the outage", func() bool { return serving(a, n2.URL) })

			tt.back(redis)
			began := time.Now()
			waitApplied(t, "b serves the backend added during the outage", began, func() bool { return serving(b, n2.URL) })
			waitFor(t, "a's change written", func() bool {
				st := a.Manager.StoreStatus()
				return st.Up && st.PendingBackends == 0
			})
			for name, inst := range map[string]*Instance{"a": a, "b": b} {
				if !serving(inst, n0.URL) || !serving(inst, n1.URL) {
					t.Errorf("instance %s lost a backend through the outage: %+v", name, inst.Proxy.App("shop").Backends())
				}
			}
		})
	}
}

// TestLiveBackendsReconcile: on the embedded store, the live state wins
// over a manifest that disagrees (a backend added live stays, one removed
// live stays removed), an entry is retired once the manifest agrees with
// it, and a reset serves the manifest's backends again.
func TestLiveBackendsReconcile(t *testing.T) {
	t.Parallel()
	oldB, n1, n2, n3 := backend(t, 200, "old"), backend(t, 200, "new1"), backend(t, 200, "new2"), backend(t, 200, "new3")
	inst := startWith(t, liveYAML("", oldB.URL, n1.URL), Options{})
	ctx := t.Context()
	l := inst.LiveBackends
	if err := l.Add(ctx, "shop", "new", n2.URL, state.ActorAPI, "test"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "n2 serving", func() bool { return serving(inst, n2.URL) })
	if _, err := l.Drain(ctx, "shop", n1.URL, state.ActorAPI, "test"); err != nil {
		t.Fatal(err)
	}
	if err := l.Remove(ctx, "shop", n1.URL, state.ActorAPI, "test"); err != nil {
		t.Fatal(err)
	}

	// A manifest that lacks n2, lists n1 and adds n3: n2 stays, n1 stays
	// removed, n3 is served; nothing is retired.
	l.Reconcile(ctx, parseManifest(t, liveYAML("", oldB.URL, n1.URL, n3.URL)))
	waitFor(t, "n3 serving", func() bool { return serving(inst, n3.URL) })
	if !serving(inst, n2.URL) || !absent(inst, n1.URL) {
		t.Errorf("after a manifest that disagrees: %+v; want n2 served and n1 still removed", inst.Proxy.App("shop").Backends())
	}
	if got := liveOps(l.Live("shop")); got != fmt.Sprintf("new %s removed;new %s added;", n1.URL, n2.URL) &&
		got != fmt.Sprintf("new %s added;new %s removed;", n2.URL, n1.URL) {
		t.Errorf("live backends = %s, want both entries kept", got)
	}

	// A manifest that lists n2 and not n1 agrees with both: retired.
	l.Reconcile(ctx, parseManifest(t, liveYAML("", oldB.URL, n2.URL, n3.URL)))
	if got, err := inst.store.LiveBackends(ctx, "shop"); len(got) != 0 || err != nil {
		t.Errorf("live backends after a manifest that agrees = %s, %v; want none", liveOps(got), err)
	}
	if !hasEvent(t, inst, state.KindBackendRetired) {
		t.Error("no backend_retired event")
	}

	// A backend added live then reset: the manifest's backends again.
	n4 := backend(t, 200, "new4")
	if err := l.Add(ctx, "shop", "new", n4.URL, state.ActorAPI, "test"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "n4 serving", func() bool { return serving(inst, n4.URL) })
	if err := l.Reset(ctx, "shop", state.ActorCLI); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "n4 gone after the reset", func() bool { return absent(inst, n4.URL) })
	var urls []string
	for _, b := range inst.Proxy.App("shop").Backends() {
		urls = append(urls, b.URL)
	}
	if want := []string{oldB.URL, n2.URL, n3.URL}; !slices.Equal(urls, want) {
		t.Errorf("backends after the reset = %v, want the manifest's %v", urls, want)
	}
}

// TestLiveBackendsKeptAcrossRestart: a backend removed live on the
// embedded store stays removed when the instance starts again on the same
// data dir with the manifest that lists it.
func TestLiveBackendsKeptAcrossRestart(t *testing.T) {
	t.Parallel()
	oldB, n1, n2 := backend(t, 200, "old"), backend(t, 200, "new1"), backend(t, 200, "new2")
	m := parseManifest(t, liveYAML("", oldB.URL, n1.URL, n2.URL))
	dir := t.TempDir()
	first, stop := runIn(t, m, dir)
	if _, err := first.LiveBackends.Drain(t.Context(), "shop", n1.URL, state.ActorAPI, "test"); err != nil {
		t.Fatal(err)
	}
	if err := first.LiveBackends.Remove(t.Context(), "shop", n1.URL, state.ActorAPI, "test"); err != nil {
		t.Fatal(err)
	}
	stop()
	again, _ := runIn(t, m, dir)
	waitFor(t, "n1 removed again at start", func() bool { return absent(again, n1.URL) })
	if !serving(again, n2.URL) {
		t.Errorf("backends at start = %+v, want n2 served", again.Proxy.App("shop").Backends())
	}
}

// runIn runs an instance of m on dir until stop or the end of the test.
func runIn(t *testing.T, m *manifest.Manifest, dir string) (*Instance, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	inst, err := New(ctx, Options{Manifest: m, DataDir: dir})
	if err != nil {
		cancel()
		t.Fatalf("New: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- inst.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return inst, stop
}

func parseManifest(t *testing.T, yaml string) *manifest.Manifest {
	t.Helper()
	m, err := manifest.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestLiveBackendRemovedDuringItsDrain: a removal that arrives while the
// backend's drain waits for a request in flight is carried out once the
// request ends (the reconcile that found the drain running is not lost).
func TestLiveBackendRemovedDuringItsDrain(t *testing.T) {
	t.Parallel()
	release, entered := make(chan struct{}), make(chan struct{}, 1)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		io.WriteString(w, "slow")
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })
	oldB, n2 := backend(t, 200, "old"), backend(t, 200, "new2")
	inst := startWith(t, liveYAML("", oldB.URL, slow.URL), Options{})
	ctx := t.Context()
	go http.Get(proxyURL(inst) + "/")
	<-entered
	if err := inst.LiveBackends.Add(ctx, "shop", "new", n2.URL, state.ActorAPI, "test"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "n2 serving", func() bool { return serving(inst, n2.URL) })
	// Another instance drains the slow backend, then removes it.
	if _, err := inst.store.SetBackend(ctx, state.LiveBackend{App: "shop", Side: "new", URL: slow.URL, Op: state.BackendDraining}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the slow backend draining", func() bool { st, ok := backendOf(inst, slow.URL); return ok && st.Draining })
	if _, err := inst.store.SetBackend(ctx, state.LiveBackend{App: "shop", Side: "new", URL: slow.URL, Op: state.BackendRemoved}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the removal seen", func() bool { return strings.Contains(liveOps(inst.LiveBackends.Live("shop")), "removed") })
	if absent(inst, slow.URL) {
		t.Fatal("the slow backend was removed with a request in flight")
	}
	release <- struct{}{}
	waitFor(t, "the slow backend removed once its request ended", func() bool { return absent(inst, slow.URL) })
}
