package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/migratekit/migrate/admin"
	"github.com/migratekit/migrate/state"
)

// TestAutomaticRollback: the new side answers 500s once it takes traffic;
// the controller sends everyone back to old, records the event, runs the
// hook with the event on stdin and notifies the webhook.
func TestAutomaticRollback(t *testing.T) {
	oldSrv := textServer(t, "old")
	newSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "broken", http.StatusInternalServerError)
	}))
	defer newSrv.Close()
	var notified atomic.Value
	hookSink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		notified.Store(string(b))
	}))
	defer hookSink.Close()

	dir := t.TempDir()
	hookOut := filepath.Join(dir, "hook.json")
	listen, adminAddr := freeAddr(t), freeAddr(t)
	data := fmt.Sprintf(`defaults:
  listen: %s
  admin: {listen: %s}
apps:
  shop:
    old: {backends: [%s]}
    new: {backends: [%s]}
    shadow: {sample: 0%%}
    rollback:
      max_error_rate: 5%%
      min_requests: 20
      hooks: [{command: [/bin/sh, -c, 'cat > %s']}]
    notify: {webhook: %s/hook}
`, listen, adminAddr, oldSrv.URL, newSrv.URL, hookOut, hookSink.URL)
	cfg := writeConfig(t, dir, data)
	t.Setenv("MIGRATE_ADMIN_TOKEN", "s3cret")
	stop := startServe(t, cfg, t.TempDir(), adminAddr)
	defer stop()
	if code, _, errs := runCLI(t, "--config", cfg, "cutover", "shop", "--weight", "100"); code != exitOK {
		t.Fatalf("cutover: %d %s", code, errs)
	}
	c := &admin.Client{BaseURL: adminAddr}
	var st admin.AppStatus
	for i := 0; i < 400; i++ {
		resp, err := http.Get("http://" + listen + "/")
		if err == nil {
			resp.Body.Close()
		}
		if st, err = c.App(context.Background(), "shop"); err == nil && st.Weight == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st.Weight != 0 || st.Phase != admin.PhaseRolledBack {
		t.Fatalf("status %+v: the controller did not roll back", st)
	}
	if st.Verdict == nil || st.Verdict.Result != "fail" {
		t.Errorf("verdict %+v; want the failing verdict kept", st.Verdict)
	}
	if got := get(t, "http://"+listen+"/"); got != "old" {
		t.Errorf("after the rollback got %q, want old", got)
	}
	// The proxy moves first, then the store, then the event is recorded
	// (rollback.Manager), so the event may come a moment after the weight.
	var evs []state.Event
	var rolled bool
	for i := 0; i < 200 && !rolled; i++ {
		if i > 0 {
			time.Sleep(20 * time.Millisecond)
		}
		var err error
		if evs, err = c.Events(context.Background(), "shop", 0); err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.Kind == "rollback" && e.Actor == "controller" && e.Before == "100" && e.After == "0" && strings.Contains(e.Reason, "max") {
				rolled = true
			}
		}
	}
	if !rolled {
		t.Errorf("no controller rollback event in %+v", evs)
	}
	var hook map[string]any
	for i := 0; i < 200; i++ {
		if b, err := os.ReadFile(hookOut); err == nil && json.Unmarshal(b, &hook) == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if hook["kind"] != "rollback" || hook["app"] != "shop" {
		t.Errorf("hook stdin = %v; want the rollback event as JSON", hook)
	}
	for i := 0; i < 200 && notified.Load() == nil; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if n, _ := notified.Load().(string); !strings.Contains(n, `"text"`) || !strings.Contains(n, "shop") {
		t.Errorf("webhook got %q; want Slack-style JSON naming the app", n)
	}
	// A manual rollback through the CLI and the admin API.
	if code, out, errs := runCLI(t, "--config", cfg, "rollback", "shop", "--reason", "by hand"); code != exitOK || !strings.Contains(out, "rolled back") {
		t.Errorf("rollback: %d %s %s", code, out, errs)
	}
}
