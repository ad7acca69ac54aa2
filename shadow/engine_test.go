package shadow

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/migratekit/migrate/compare"
	"github.com/migratekit/migrate/manifest"
)

// TestWithCompareEngine runs the mirror with the real compare engine and
// sample store: new reorders the keys of one endpoint's JSON (no
// difference) and changes a price on another (a difference, kept as an
// example), and a POST is counted skipped_unsafe under its template.
func TestWithCompareEngine(t *testing.T) {
	jsonAnswer := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			switch {
			case r.URL.Path == "/users/1" && name == "old":
				fmt.Fprint(w, `{"id":1,"name":"bob","tags":["a","b"]}`)
			case r.URL.Path == "/users/1":
				fmt.Fprint(w, `{"tags":["a","b"],"name":"bob","id":1}`)
			case name == "old":
				fmt.Fprint(w, `{"items":[{"sku":"x","price":10}]}`)
			default:
				fmt.Fprint(w, `{"items":[{"sku":"x","price":12}]}`)
			}
		}
	}
	old, newB := newBackend(t, "old", jsonAnswer("old")), newBackend(t, "new", jsonAnswer("new"))
	app := testApp(old.URL, newB.URL)
	app.Shadow.Routes = []manifest.Route{{Path: "/users/:id"}, {Path: "/carts/:id"}}
	engine, err := compare.NewEngine(compare.Config{Routes: []compare.Route{{Pattern: "/users/:id"}, {Pattern: "/carts/:id"}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	store, err := compare.OpenStore(ctx, filepath.Join(t.TempDir(), compare.StoreFile), compare.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e := startWith(t, app, &env{}, engine, store)

	e.do(t, http.MethodGet, "/users/1", nil, nil)
	e.do(t, http.MethodGet, "/carts/77", nil, nil)
	e.do(t, http.MethodPost, "/carts/77", nil, nil)
	outcomes := func(endpoint string) map[compare.Outcome]uint64 {
		for _, st := range engine.Stats("web") {
			if st.Endpoint == endpoint {
				return st.Outcomes
			}
		}
		return nil
	}
	series := []map[string]string{
		{"app": "web", "direction": "old_to_new", "endpoint": "/users/:id", "outcome": "match"},
		{"app": "web", "direction": "old_to_new", "endpoint": "/carts/:id", "outcome": "diff"},
		{"app": "web", "direction": "old_to_new", "endpoint": "/carts/:id", "outcome": "skipped_unsafe"},
	}
	// The engine counts before the metrics do: wait for the metrics.
	waitFor(t, "three outcomes", func() bool {
		n := 0.0
		for _, l := range series {
			n += metric(t, e.reg, "migrate_shadow_pairs_total", l)
		}
		return n == 3
	})
	got := map[string]map[compare.Outcome]uint64{"/users/:id": outcomes("/users/:id"), "/carts/:id": outcomes("/carts/:id")}
	want := map[string]map[compare.Outcome]uint64{
		"/users/:id": {compare.OutcomeMatch: 1},
		"/carts/:id": {compare.OutcomeDiff: 1, compare.OutcomeSkippedUnsafe: 1},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("engine outcomes (-got +want):\n%s", diff)
	}
	for _, l := range series {
		if got := metric(t, e.reg, "migrate_shadow_pairs_total", l); got != 1 {
			t.Errorf("migrate_shadow_pairs_total%v = %v, want 1", l, got)
		}
	}
	var ex map[string][]compare.Sample
	waitFor(t, "the example kept", func() bool {
		ex, err = store.Examples(ctx, "web", compare.DirectionOldToNew, "/carts/:id")
		return err != nil || len(ex) > 0
	})
	if err != nil {
		t.Fatal(err)
	}
	if s := ex["/items/*/price"]; len(s) != 1 || s[0].Request.Path != "/carts/77" {
		t.Errorf("examples of /carts/:id: got %v, want one of /items/*/price for GET /carts/77", ex)
	}
}
