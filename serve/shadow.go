package serve

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/migratekit/migrate/compare"
	"github.com/migratekit/migrate/lb"
	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/shadow"
)

// diffing is the shadow side of an instance: one compare engine and mirror
// per shadowed app, and one sample store for all of them.
type diffing struct {
	engines map[string]*compare.Engine
	mirrors map[string]*shadow.Mirror
	apps    map[string]*manifest.App
	store   *compare.Store
}

// shadowed reports whether app mirrors any traffic.
func shadowed(a *manifest.App) bool {
	return a.Shadow.Sample != nil && *a.Shadow.Sample > 0
}

// newDiffing builds the engines, the store and the mirrors of the shadowed
// apps among names.
func (i *Instance) newDiffing(ctx context.Context, m *manifest.Manifest, names []string, dataDir string) (*diffing, error) {
	d := &diffing{engines: map[string]*compare.Engine{}, mirrors: map[string]*shadow.Mirror{}, apps: map[string]*manifest.App{}}
	var apps []*manifest.App
	for _, name := range names {
		if a := m.Apps[name]; shadowed(a) {
			apps = append(apps, a)
		}
	}
	if len(apps) == 0 {
		return d, nil
	}
	path := filepath.Join(dataDir, compare.StoreFile)
	err := i.openRebuildable(path, func() (err error) {
		d.store, err = compare.OpenStore(ctx, path, shadow.StoreOptions(apps))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("opening the sample store: %w", err)
	}
	for _, a := range apps {
		eng, err := compare.NewEngine(shadow.CompareConfig(a))
		if err != nil {
			d.close()
			return nil, fmt.Errorf("apps.%s.shadow: %w", a.Name, err)
		}
		mir, err := shadow.New(a, shadow.Options{Logger: i.log, Metrics: i.Metrics, Comparer: eng, Sink: d.store})
		if err != nil {
			d.close()
			return nil, fmt.Errorf("apps.%s.shadow: %w", a.Name, err)
		}
		d.engines[a.Name], d.mirrors[a.Name], d.apps[a.Name] = eng, mir, a
	}
	return d, nil
}

// lbMirrors hands the mirrors to the load balancer.
func (d *diffing) lbMirrors() map[string]lb.Mirror {
	out := make(map[string]lb.Mirror, len(d.mirrors))
	for name, m := range d.mirrors {
		out[name] = m
	}
	return out
}

// Report builds the diff report of app from its engine's stats and the
// store's examples.
func (d *diffing) Report(ctx context.Context, app string) (compare.Report, bool, error) {
	eng := d.engines[app]
	if eng == nil {
		return compare.Report{}, false, nil
	}
	r := compare.Report{App: app, Generated: time.Now(), Endpoints: eng.Stats(app)}
	if a := d.apps[app]; a != nil && len(a.Old.Backends) > 0 && len(a.New.Backends) > 0 {
		r.OldURL, r.NewURL = a.Old.Backends[0], a.New.Backends[0]
	}
	if d.store != nil {
		ex, err := d.store.LatestExamples(ctx, app)
		if err != nil {
			return r, true, fmt.Errorf("reading examples: %w", err)
		}
		r.Examples = ex
	}
	return r, true, nil
}

func (d *diffing) close() error {
	if d.store == nil {
		return nil
	}
	err := d.store.Close()
	d.store = nil
	return err
}

// DiffReport returns app's diff report; ok is false when app is not
// shadowed.
func (i *Instance) DiffReport(ctx context.Context, app string) (compare.Report, bool, error) {
	return i.diffs.Report(ctx, app)
}
