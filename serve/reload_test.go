package serve

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/state"
)

// reloadable starts an instance of the manifest file it writes, and
// returns it with the function that rewrites that file.
func reloadable(t *testing.T, yaml string) (*Instance, func(string)) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "migrate.yaml")
	write := func(data string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(yaml)
	inst := startWith(t, yaml, Options{Load: func() (*manifest.Manifest, error) { return manifest.Load(path) }})
	return inst, write
}

// A reload keeps what the instance learnt: the rollback controller's
// rules change, its history and the telemetry windows stay; an app the
// reload adds gets its analysis, one it removes loses it; the reload is
// an event naming what changed.
func TestReloadKeepsAnalysis(t *testing.T) {
	t.Parallel()
	oldB, newB := backend(t, 200, "old"), backend(t, 200, "new")
	base := fmt.Sprintf(`defaults:
  listen: 127.0.0.1:0
  admin: {listen: 127.0.0.1:0}
apps:
  shop:
    old: {backends: [%s]}
    new: {backends: [%s]}
    rollback: {max_error_rate: 5%%}
`, oldB.URL, newB.URL)
	inst, write := reloadable(t, base)
	url := proxyURL(inst)
	for range 10 {
		res, err := http.Get(url + "/")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	before := inst.Metrics.Snapshot("shop", "old")
	write(strings.Replace(base, "max_error_rate: 5%", "max_error_rate: 2%", 1) + fmt.Sprintf(`  blog:
    hosts: [blog.test]
    old: {backends: [%s]}
    new: {backends: [%s]}
`, oldB.URL, newB.URL))
	res, err := inst.Reload(t.Context(), state.ActorAPI)
	if err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if got := strings.Join(res.Changes, "\n"); !strings.Contains(got, "apps.shop.rollback: changed") || !strings.Contains(got, "apps.blog: added") {
		t.Errorf("changes %q, want the shop's rollback and the blog added", res.Changes)
	}
	if r, ok := inst.Manager.Rules("shop"); !ok || r.MaxErrorRate == nil || *r.MaxErrorRate != 0.02 {
		t.Errorf("shop's rules after the reload: %+v (%v), want max_error_rate 2%%", r, ok)
	}
	if _, ok := inst.Manager.Rules("blog"); !ok {
		t.Error("the app the reload added has no rollback analysis")
	}
	after := inst.Metrics.Snapshot("shop", "old")
	if before.Requests == 0 || after.Requests < before.Requests {
		t.Errorf("shop's requests counted %d before the reload and %d after, want them kept", before.Requests, after.Requests)
	}
	all, err := inst.Manager.Events(t.Context(), state.Query{})
	var events []state.Event
	for _, e := range all {
		if e.Kind == kindReload {
			events = append(events, e)
		}
	}
	if err != nil || len(events) != 1 || !strings.Contains(events[0].After, "apps.blog: added") {
		t.Errorf("reload events %+v (%v), want one naming the blog added", events, err)
	}
	write(base)
	if _, err := inst.Reload(t.Context(), state.ActorAPI); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if _, ok := inst.Manager.Rules("blog"); ok {
		t.Error("the app the reload removed keeps its analysis")
	}
}

// A manifest with problems is refused with each placed where it was
// written, and nothing changes; an instance without a way to read its
// manifest refuses to reload.
func TestReloadRefused(t *testing.T) {
	t.Parallel()
	oldB, newB := backend(t, 200, "old"), backend(t, 200, "new")
	base := fmt.Sprintf(`defaults:
  listen: 127.0.0.1:0
  admin: {listen: 127.0.0.1:0}
apps:
  shop:
    old: {backends: [%s]}
    new: {backends: [%s]}
`, oldB.URL, newB.URL)
	inst, write := reloadable(t, base)
	app := inst.Proxy.App("shop")
	write(strings.Replace(base, oldB.URL, "ftp://x", 1))
	_, err := inst.Reload(t.Context(), state.ActorAPI)
	var re *ReloadError
	if !errors.As(err, &re) || len(re.Problems) == 0 || re.Problems[0].Line != 6 || re.Problems[0].Path != "apps.shop.old.backends[0]" {
		t.Fatalf("Reload of a bad manifest = %v, want its problem at line 6, apps.shop.old.backends[0]", err)
	}
	if inst.Proxy.App("shop") != app {
		t.Error("the refused reload changed the app served")
	}
	plain := startWith(t, base, Options{})
	if _, err := plain.Reload(context.Background(), state.ActorAPI); !errors.Is(err, ErrNoReload) {
		t.Errorf("Reload without Load = %v, want ErrNoReload", err)
	}
}

// BenchmarkReload1000Apps is a reload of a 1,000-app manifest whose every
// app changes a backend (the worst case): ms-to-serve is the median time
// from reading the file to the new configuration served (what SIGHUP
// costs until the new backends take requests, the event written after);
// ns/op adds the event.
func BenchmarkReload1000Apps(b *testing.B) {
	manifestOf := func(port int) string {
		var sb strings.Builder
		sb.WriteString("defaults:\n  listen: 127.0.0.1:0\n  admin: {listen: 127.0.0.1:0}\napps:\n")
		for i := range 1000 {
			fmt.Fprintf(&sb, "  app%d:\n    hosts: [app%d.test]\n    old: {backends: [\"http://127.0.0.1:%d\"]}\n    new: {backends: [\"http://127.0.0.1:%d\"]}\n", i, i, port, port+1)
		}
		return sb.String()
	}
	path := filepath.Join(b.TempDir(), "migrate.yaml")
	if err := os.WriteFile(path, []byte(manifestOf(20000)), 0o644); err != nil {
		b.Fatal(err)
	}
	m, err := manifest.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	inst, err := New(ctx, Options{Manifest: m, DataDir: b.TempDir(), Load: func() (*manifest.Manifest, error) { return manifest.Load(path) }})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- inst.Run(ctx) }()
	defer func() { cancel(); <-done }()
	versions := []string{manifestOf(20002), manifestOf(20000)}
	var took []float64
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		if err := os.WriteFile(path, []byte(versions[i%2]), 0o644); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		res, err := inst.Reload(ctx, state.ActorAPI)
		if err != nil {
			b.Fatal(err)
		}
		took = append(took, res.TookMS)
	}
	slices.Sort(took)
	b.ReportMetric(took[len(took)/2], "ms-to-serve")
}
