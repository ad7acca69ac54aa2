package serve

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/migratekit/migrate/admin"
	"github.com/migratekit/migrate/state"
)

// TestBackendEvents: a backend added, drained and removed through the
// admin API changes the instance's proxy and records one event each, with
// the actor, the side and URL, and the reason, then the retirement of the
// live entry the manifest agrees with.
func TestBackendEvents(t *testing.T) {
	t.Parallel()
	extra := backend(t, 200, "extra")
	inst := startWith(t, plainYAML(t, ""), Options{Token: "tok"})
	c := &admin.Client{BaseURL: inst.AdminAddr().String(), Token: "tok"}
	ctx := t.Context()
	if _, err := c.AddBackend(ctx, "shop", admin.SideOld, extra.URL, "scale up"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if b, _ := backendNamed(inst, extra.URL); b.Healthy {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the added backend never came in rotation")
		}
	}
	if _, err := c.DrainBackend(ctx, "shop", extra.URL, "scale down"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RemoveBackend(ctx, "shop", extra.URL, "scale down"); err != nil {
		t.Fatal(err)
	}
	if _, ok := backendNamed(inst, extra.URL); ok {
		t.Error("the removed backend is still in the proxy")
	}
	var got []string
	// The retirement follows the removal on the store's notification.
	for deadline := time.Now().Add(10 * time.Second); len(got) < 4 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		evs, err := inst.Manager.Events(context.Background(), state.Query{App: "shop"})
		if err != nil {
			t.Fatal(err)
		}
		got = got[:0]
		for _, e := range evs {
			got = append(got, e.Kind+"|"+e.Actor+"|"+e.Before+"|"+e.After+"|"+e.Reason)
		}
	}
	want := []string{
		"backend_add|api||old " + extra.URL + "|scale up",
		"backend_drain|api|old " + extra.URL + "|drained, waited for 0|scale down",
		"backend_remove|api|old " + extra.URL + "||scale down",
		// The manifest never listed it: its removal agrees with the
		// manifest, so the live entry retires (README, state).
		"backend_retired|store|old " + extra.URL + "|removed|the manifest no longer lists it",
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("events (-got +want):\n%s", diff)
	}
}

func backendNamed(inst *Instance, url string) (admin.Backend, bool) {
	for _, b := range admin.BackendsOf(inst.Proxy.App("shop")) {
		if b.URL == url {
			return b, true
		}
	}
	return admin.Backend{}, false
}
