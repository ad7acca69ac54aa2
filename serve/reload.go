package serve

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/migratekit/migrate/admin"
	"github.com/migratekit/migrate/lb"
	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/state"
)

// Reloading an instance (SIGHUP, POST /api/v1/reload, `migrate reload`):
// the manifest is read again and, when it is valid, applied live. What a
// reload applies (lb.Proxy.Reload): each app's backends, hosts, listen
// address, TLS certificates (read again even when the file names are the
// same), health checks, balance, passive ejection, timeouts, sticky
// settings, CORS, upgrades, trusted proxies, debug headers and failover;
// apps added (served, with their rollback analysis) and removed (drained);
// the rollback rules of the apps kept (their verdict history stays); the
// global drain. What it does not apply yet, and says so in its result and
// its event (a restart applies it): shadow, logs, dns, dns_check,
// fallback, notify and the cutover plan of an app, and the global admin,
// metrics, state and limits sections. A manifest that does not load
// changes nothing: the instance serves on with what it had.

// kindReload is the event of a reload.
const kindReload = "reload"

// ErrNoReload is returned by Reload on an instance built without a way
// to read its manifest again (Options.Load).
var ErrNoReload = admin.ErrNoReload

// ReloadResult says what a reload changed: what it applied, one line each
// ("apps.shop.new.backends: +http://10.0.0.7:3000"), and the settings
// that changed but need a restart.
type ReloadResult = admin.ReloadResult

// ReloadError is a reload refused: the manifest's problems (each with its
// file:line:col), or why it could not be read or applied. The instance
// serves on with what it had.
type ReloadError struct {
	Problems manifest.Problems
	Err      error
}

func (e *ReloadError) Error() string {
	if len(e.Problems) > 0 {
		return "reloading the manifest: " + e.Problems.Error()
	}
	return "reloading the manifest: " + e.Err.Error()
}

func (e *ReloadError) Unwrap() error {
	if e.Err != nil {
		return e.Err
	}
	return e.Problems
}

// Reload reads the manifest again and applies it (see the top of this
// file); actor says who asked (state.ActorAPI, state.ActorCLI, "signal").
// It records a reload event, and logs what changed or why it was refused.
func (i *Instance) Reload(ctx context.Context, actor string) (ReloadResult, error) {
	i.reloading.Lock()
	defer i.reloading.Unlock()
	start := time.Now()
	res, err := i.reload(ctx)
	res.TookMS = float64(time.Since(start).Microseconds()) / 1000
	if err != nil {
		i.log.Error("reload refused: still serving the manifest read before", "actor", actor, "err", err)
		return res, err
	}
	if i.LiveBackends != nil {
		i.LiveBackends.Reconcile(ctx, i.manifest) // retires the live entries it now agrees with
	}
	i.log.Info("manifest reloaded", "actor", actor, "changes", len(res.Changes), "not_applied", strings.Join(res.NotApplied, ", "), "took_ms", res.TookMS)
	i.recordReload(ctx, actor, res)
	return res, nil
}

func (i *Instance) reload(ctx context.Context) (ReloadResult, error) {
	if i.load == nil {
		return ReloadResult{}, ErrNoReload
	}
	m, err := i.load()
	if err != nil {
		var probs manifest.Problems
		if errors.As(err, &probs) {
			return ReloadResult{}, &ReloadError{Problems: probs}
		}
		return ReloadResult{}, &ReloadError{Err: err}
	}
	names, err := i.appNames(m)
	if err != nil {
		return ReloadResult{}, &ReloadError{Err: err}
	}
	if i.shadow {
		if m, err = shadowPhase(m, names, map[string]int{}); err != nil {
			return ReloadResult{}, &ReloadError{Err: err}
		}
	}
	prev, _ := i.appNames(i.manifest)
	res, unchanged := diffManifests(i.manifest, m, prev, names)
	// An app whose section did not change is given to the proxy as the
	// section it serves, which it then knows at a glance (lb keeps it).
	m = withApps(m, i.manifest, unchanged)
	// The apps served keep their weight; a new one starts at its saved
	// weight, as at start.
	var added []string
	for _, name := range names {
		if i.Proxy.App(name) == nil {
			added = append(added, name)
		}
	}
	weights, err := savedWeights(ctx, i.store, added)
	if err != nil {
		return ReloadResult{}, &ReloadError{Err: err}
	}
	before := i.Proxy.Apps()
	opts := lb.Options{Weights: weights, Mirrors: i.diffs.lbMirrors()}
	if err := i.Proxy.Reload(i.withLive(m, names), opts); err != nil {
		return ReloadResult{}, &ReloadError{Err: err}
	}
	notApplied, err := i.reloadAnalysis(m, before)
	res.NotApplied = append(res.NotApplied, notApplied...)
	slices.Sort(res.NotApplied)
	res.NotApplied = slices.Compact(res.NotApplied)
	i.manifest = m
	return res, err
}

// withApps is m with the sections of the apps names taken from prev.
func withApps(m, prev *manifest.Manifest, names []string) *manifest.Manifest {
	if len(names) == 0 {
		return m
	}
	out := *m
	out.Apps = maps.Clone(m.Apps)
	for _, name := range names {
		out.Apps[name] = prev.Apps[name]
	}
	return &out
}

// withLive is m with the live backend changes of the apps names applied
// to their pools (the live state wins over the manifest: see
// livebackends.go), so that a reload serves at once the backends the
// instance is to serve, and never one removed live.
func (i *Instance) withLive(m *manifest.Manifest, names []string) *manifest.Manifest {
	if i.LiveBackends == nil {
		return m
	}
	out := *m
	out.Apps = maps.Clone(m.Apps)
	for _, name := range names {
		overlay := i.LiveBackends.Live(name)
		if len(overlay) == 0 {
			continue
		}
		a := *m.Apps[name]
		want := desired(&a, overlay)
		a.Old.Backends = served(want, state.SideOld, a.Old.Backends)
		a.New.Backends = served(want, state.SideNew, a.New.Backends)
		out.Apps[name] = &a
	}
	return &out
}

// served is the backends of side to serve: those listed that the live
// state has not removed, then those it added (draining ones stay: they
// keep their state and get no new request).
func served(want map[string]want, side string, listed []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, u := range listed {
		k := backendKey(side, u)
		seen[k] = true
		if want[k].op != state.BackendRemoved {
			out = append(out, u)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if w := want[k]; w.side == side && !seen[k] && w.op != state.BackendRemoved {
			out = append(out, w.url)
		}
	}
	return out
}

// appNames are the apps the instance serves out of m: those it was asked
// for (each must still be there), or all of m's.
func (i *Instance) appNames(m *manifest.Manifest) ([]string, error) {
	if len(i.apps) == 0 {
		return m.AppNames(), nil
	}
	for _, name := range i.apps {
		if _, ok := m.Apps[name]; !ok {
			return nil, fmt.Errorf("%w: %q is no longer in the manifest (apps: %v)", ErrUnknownApp, name, m.AppNames())
		}
	}
	return i.apps, nil
}

// reloadAnalysis brings the rollback manager in line with the apps now
// served: new rules for the apps kept, analysis for the apps added, none
// for the apps removed.
func (i *Instance) reloadAnalysis(m *manifest.Manifest, before []*lb.App) ([]string, error) {
	var notApplied []string
	var errs []error
	for _, a := range i.Proxy.Apps() {
		cfg := m.Apps[a.Name()]
		if slices.ContainsFunc(before, func(b *lb.App) bool { return b.Name() == a.Name() }) {
			_, na, err := i.Manager.UpdateRules(cfg)
			notApplied = append(notApplied, na...)
			errs = append(errs, err)
			continue
		}
		src, err := i.source(cfg)
		if err == nil {
			err = i.Manager.AddRunning(a, cfg, src)
		}
		errs = append(errs, err)
	}
	for _, b := range before {
		if i.Proxy.App(b.Name()) == nil {
			i.Manager.Remove(b.Name())
		}
	}
	return notApplied, errors.Join(errs...)
}

// recordReload appends the reload's event (instance-wide: no app).
func (i *Instance) recordReload(ctx context.Context, actor string, res ReloadResult) {
	after := strings.Join(res.Changes, "; ")
	if after == "" {
		after = "no change"
	}
	e := state.Event{Kind: kindReload, Actor: actor, After: after}
	if len(res.NotApplied) > 0 {
		e.Reason = "not applied until a restart: " + strings.Join(res.NotApplied, ", ")
	}
	if _, err := i.store.AppendEvent(ctx, e); err != nil && !errors.Is(err, state.ErrPending) {
		i.log.Error("recording the reload event", "err", err)
	}
}

// diffManifests lists what changes from before (serving the apps
// prev) to after (serving names): the changes a reload applies, and apart
// those it does not.
func diffManifests(before, after *manifest.Manifest, prev, names []string) (res ReloadResult, unchanged []string) {
	for _, name := range prev {
		if !slices.Contains(names, name) {
			res.Changes = append(res.Changes, "apps."+name+": removed")
		}
	}
	for _, name := range names {
		a, b := before.Apps[name], after.Apps[name]
		if a == nil || !slices.Contains(prev, name) {
			res.Changes = append(res.Changes, "apps."+name+": added")
			if shadowed(b) {
				res.NotApplied = append(res.NotApplied, "apps."+name+".shadow")
			}
			continue
		}
		if !diffApp(&res, name, a, b) {
			unchanged = append(unchanged, name)
		}
	}
	if before.Global.Drain != after.Global.Drain {
		res.Changes = append(res.Changes, "drain: "+after.Global.Drain.Or(manifest.DefaultDrain).String())
	}
	for _, key := range []string{"admin", "metrics", "state", "limits"} {
		if !reflect.DeepEqual(globalField(before, key), globalField(after, key)) {
			res.NotApplied = append(res.NotApplied, key)
		}
	}
	return res, unchanged
}

// notReloaded are the keys of an app a reload does not apply.
var notReloaded = []string{"shadow", "logs", "dns", "dns_check", "fallback", "notify"}

// diffApp adds the changes of app name from a to b.
func diffApp(res *ReloadResult, name string, a, b *manifest.App) (changed bool) {
	av, bv := reflect.ValueOf(*a), reflect.ValueOf(*b)
	t := av.Type()
	for f := range t.NumField() {
		key, _, _ := strings.Cut(t.Field(f).Tag.Get("yaml"), ",")
		if key == "" || key == "-" || reflect.DeepEqual(av.Field(f).Interface(), bv.Field(f).Interface()) {
			continue
		}
		changed = true
		path := "apps." + name + "." + key
		switch {
		case slices.Contains(notReloaded, key):
			res.NotApplied = append(res.NotApplied, path)
		case key == "old" || key == "new":
			res.Changes = append(res.Changes, poolChanges(path, pool(a, key), pool(b, key))...)
		default:
			res.Changes = append(res.Changes, path+": changed")
		}
	}
	return changed
}

func pool(a *manifest.App, side string) manifest.Pool {
	if side == "old" {
		return a.Old
	}
	return a.New
}

// poolChanges says how a side's pool changed: backends added and removed,
// and its other settings.
func poolChanges(path string, a, b manifest.Pool) []string {
	var out []string
	var diff []string
	for _, u := range b.Backends {
		if !slices.Contains(a.Backends, u) {
			diff = append(diff, "+"+u)
		}
	}
	for _, u := range a.Backends {
		if !slices.Contains(b.Backends, u) {
			diff = append(diff, "-"+u)
		}
	}
	if len(diff) > 0 {
		out = append(out, path+".backends: "+strings.Join(diff, " "))
	}
	a.Backends, b.Backends = nil, nil
	if !reflect.DeepEqual(a, b) {
		out = append(out, path+": health, balance or passive changed")
	}
	return out
}

// globalField is the global section key of m.
func globalField(m *manifest.Manifest, key string) any {
	switch key {
	case "admin":
		return m.Global.Admin
	case "metrics":
		return m.Global.Metrics
	case "state":
		return m.Global.State
	}
	return m.Global.Limits
}
