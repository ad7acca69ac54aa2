package serve

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/migratekit/migrate/manifest"
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
func start(t *testing.T, yaml string) (inst *Instance, proxyURL string) {
	t.Helper()
	m, err := manifest.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	inst, err = New(ctx, Options{Manifest: m, DataDir: t.TempDir()})
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
	for _, a := range inst.Proxy.Addrs() {
		proxyURL = "http://" + a.String()
	}
	return inst, proxyURL
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
