package serve

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/migratekit/migrate/internal/testsvc"
	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/state"
)

func backend(t *testing.T, code int, body string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(code)
		io.WriteString(w, body)
	}))
	t.Cleanup(s.Close)
	return s
}

// start builds and runs an instance of yaml; stop ends it and checks it
// stopped cleanly.
func start(t *testing.T, yaml string) (*Instance, string) {
	t.Helper()
	inst := startWith(t, yaml, Options{})
	return inst, proxyURL(inst)
}

// startWith builds and runs an instance of yaml with opts, their Manifest
// and DataDir filled in, until the test ends, and checks it stopped
// cleanly.
func startWith(t *testing.T, yaml string, opts Options) *Instance {
	t.Helper()
	m, err := manifest.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	opts.Manifest, opts.DataDir = m, t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	inst, err := New(ctx, opts)
	if err != nil {
		cancel()
		t.Fatalf("New: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- inst.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return inst
}

// proxyURL is the URL of inst's one listener.
func proxyURL(inst *Instance) string {
	for _, a := range inst.Proxy.Addrs() {
		return "http://" + a.String()
	}
	return ""
}

func TestMain(m *testing.M) {
	// go-redis would print every failed dial of TestRedisLostAndBack.
	state.LogRedisTo(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}

func redisURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("MIGRATE_TEST_REDIS")
	if u == "" {
		t.Fatal("MIGRATE_TEST_REDIS is not set: run scripts/test, which starts a private redis-server")
	}
	return u
}

// waitWeight polls until app's weight on inst is want, and says how long
// after start it was.
func waitWeight(t *testing.T, inst *Instance, app string, want int, start time.Time) time.Duration {
	t.Helper()
	for time.Since(start) < 15*time.Second {
		if inst.Proxy.App(app).Weight() == want {
			return time.Since(start)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("app %s never reached weight %d (at %d)", app, want, inst.Proxy.App(app).Weight())
	return 0
}

// waitControllerRollback waits up to 5s for the controller's rollback
// event of app (it is recorded just after the weight goes to 0), or fails
// listing the events there are.
func waitControllerRollback(t *testing.T, inst *Instance, app string) {
	t.Helper()
	isRollback := func(e state.Event) bool { return e.Kind == state.KindRollback && e.Actor == state.ActorController }
	var evs []state.Event
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var err error
		if evs, err = inst.Manager.Events(t.Context(), state.Query{App: app, Limit: 100}); err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(evs, isRollback) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("no controller rollback event of %s within 5s in %+v", app, evs)
			return
		}
	}
}

// TestInstancesShareRedis runs two instances of one app on a real
// redis-server: a weight set on one and a rollback on the other reach both.
func TestInstancesShareRedis(t *testing.T) {
	oldB, newB := backend(t, 200, "old"), backend(t, 200, "new")
	b := make([]byte, 4)
	rand.Read(b)
	app := "shop-" + hex.EncodeToString(b)
	yaml := fmt.Sprintf(`defaults:
  listen: 127.0.0.1:0
  admin: {listen: 127.0.0.1:0}
  state: {backend: redis, url: %q}
apps:
  %s:
    old: {backends: [%s]}
    new: {backends: [%s]}
    shadow: {sample: 0%%}
`, redisURL(t), app, oldB.URL, newB.URL)
	one, url1 := start(t, yaml)
	two, url2 := start(t, yaml)

	ctx := context.Background()
	began := time.Now()
	if err := one.Manager.SetWeight(ctx, app, 100, "api", "test"); err != nil {
		t.Fatal(err)
	}
	t.Logf("weight 100 reached the other instance %s after it was set", waitWeight(t, two, app, 100, began))
	began = time.Now()
	if err := two.Manager.Rollback(ctx, app, "api", "test"); err != nil {
		t.Fatal(err)
	}
	t.Logf("the rollback reached the other instance %s after it was made", waitWeight(t, one, app, 0, began))
	for _, u := range []string{url1, url2} {
		resp, err := http.Get(u + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "old" {
			t.Errorf("%s served %q after the rollback, want old", u, body)
		}
	}
}

// TestRedisLostAndBack kills the shared redis-server under traffic: no
// request fails, and once it is back the instances reconcile and follow
// each other again.
func TestRedisLostAndBack(t *testing.T) {
	redis := testsvc.StartRedis(t)
	yaml := plainYAML(t, fmt.Sprintf("  state: {backend: redis, url: %q}", redis.URL()))
	one, url1 := start(t, yaml)
	two, _ := start(t, yaml)
	ctx := context.Background()
	if err := one.Manager.SetWeight(ctx, "shop", 100, "api", "test"); err != nil {
		t.Fatal(err)
	}
	waitWeight(t, two, "shop", 100, time.Now())

	// Traffic through the outage.
	stopTraffic := make(chan struct{})
	failures := make(chan error, 1000)
	served := make(chan int, 1)
	go func() {
		n := 0
		defer func() { served <- n }()
		for {
			select {
			case <-stopTraffic:
				return
			default:
			}
			resp, err := http.Get(url1 + "/")
			if err != nil {
				failures <- err
				continue
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || (string(body) != "new" && string(body) != "old") {
				failures <- fmt.Errorf("status %d body %q", resp.StatusCode, body)
			}
			n++
		}
	}()
	redis.Kill()
	// The instances notice, and keep serving meanwhile.
	waitFor(t, "store down on both instances", func() bool {
		return !one.Manager.StoreStatus().Up && !two.Manager.StoreStatus().Up
	})
	if err := one.Manager.SetWeight(ctx, "shop", 50, "api", "test"); !errors.Is(err, state.ErrPending) {
		t.Errorf("SetWeight with the store down = %v, want it applied here and pending (%v)", err, state.ErrPending)
	}
	close(stopTraffic)
	n := <-served
	redis.Start()
	// Back: the weight set during the outage reaches the other instance.
	t.Logf("the weight set during the outage reached the other instance %s after redis was back", waitWeight(t, two, "shop", 50, time.Now()))
	// Back: a change made on one instance reaches the other again.
	waitFor(t, "store up on the other instance", func() bool { return two.Manager.StoreStatus().Up })
	began := time.Now()
	if err := two.Manager.Rollback(ctx, "shop", "api", "after the outage"); err != nil {
		t.Fatalf("rollback with the store back: %v", err)
	}
	t.Logf("after the outage, a rollback reached the other instance %s after it was made", waitWeight(t, one, "shop", 0, began))
	close(failures)
	for err := range failures {
		t.Errorf("request failed during the outage: %v", err)
	}
	if n == 0 {
		t.Error("no request was served during the test")
	}
	t.Logf("%d requests served through the outage", n)
}
