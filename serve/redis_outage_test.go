package serve

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/migratekit/migrate/admin"
	"github.com/migratekit/migrate/internal/testsvc"
)

func body(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestRollbackThroughRedisOutage runs two instances on a redis-server of
// the test's own at weight 100. Redis stops (SIGSTOP) or dies; a rollback
// through one instance's admin API is served there at once and answered
// 202 with the store pending; when Redis is back the instance never goes
// back to 100, and the other one follows the rollback.
func TestRollbackThroughRedisOutage(t *testing.T) {
	tests := []struct {
		name       string
		down, back func(*testsvc.Redis)
	}{
		{"redis paused", (*testsvc.Redis).Pause, (*testsvc.Redis).Resume},
		{"redis killed and restarted", (*testsvc.Redis).Kill, (*testsvc.Redis).Start},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			redis := testsvc.StartRedis(t)
			yaml := plainYAML(t, fmt.Sprintf("  state: {backend: redis, url: %q}", redis.URL()))
			a, b := startWithToken(t, yaml), startWithToken(t, yaml)
			urlA, urlB := proxyURL(a), proxyURL(b)
			client := &admin.Client{BaseURL: a.AdminAddr().String(), Token: logsToken}
			if _, err := client.SetWeight(t.Context(), "shop", 100, "test"); err != nil {
				t.Fatal(err)
			}
			waitWeight(t, b, "shop", 100, time.Now())

			tt.down(redis)
			asked := time.Now()
			code, st := postRollback(t, a.AdminAddr().String())
			t.Logf("the rollback was answered %d %s after it was asked, redis down", code, time.Since(asked))
			if code != http.StatusAccepted || st.Weight != 0 || st.Store == nil || st.Store.Up || st.Store.Pending == 0 ||
				!strings.Contains(st.Store.Note, "applied on this instance") {
				t.Fatalf("rollback while redis is down: %d %+v; want 202, weight 0, the store down with the decision pending", code, st)
			}
			if got := body(t, urlA+"/"); got != "old" {
				t.Errorf("instance a served %q right after the rollback, want old", got)
			}
			if up, pending := gauge(t, a, "migrate_state_store_up"), gauge(t, a, "migrate_state_pending_decisions"); up != 0 || pending != 1 {
				t.Errorf("instance a exports store up %v, pending %v during the outage; want 0 and 1", up, pending)
			}

			tt.back(redis)
			began := time.Now()
			for a.Manager.StoreStatus().Pending > 0 || b.Proxy.App("shop").Weight() != 0 {
				if w := a.Proxy.App("shop").Weight(); w != 0 {
					t.Fatalf("instance a went back to weight %d when redis returned: the rollback was undone", w)
				}
				if time.Since(began) > 20*time.Second {
					t.Fatalf("instance b still at weight %d 20s after redis returned", b.Proxy.App("shop").Weight())
				}
				time.Sleep(5 * time.Millisecond)
			}
			t.Logf("instance b followed the rollback %s after redis returned", time.Since(began))
			waitFor(t, "instance a's store up", func() bool { return gauge(t, a, "migrate_state_store_up") == 1 })
			if pending := gauge(t, a, "migrate_state_pending_decisions"); pending != 0 {
				t.Errorf("instance a exports %v pending decisions after the outage, want 0", pending)
			}
			for name, u := range map[string]string{"a": urlA, "b": urlB} {
				if got := body(t, u+"/"); got != "old" {
					t.Errorf("instance %s served %q after the outage, want old", name, got)
				}
			}
		})
	}
}

// postRollback posts a rollback to the admin API and returns the status
// code and the decoded answer.
func postRollback(t *testing.T, adminAddr string) (int, admin.AppStatus) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+adminAddr+"/api/v1/apps/shop/rollback", strings.NewReader(`{"reason":"test"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+logsToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st admin.AppStatus
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("rollback answer %d %s: %v", resp.StatusCode, b, err)
	}
	return resp.StatusCode, st
}
