package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/migratekit/migrate/admin"
	"github.com/migratekit/migrate/dashboards"
	"github.com/migratekit/migrate/dnscheck"
	"github.com/migratekit/migrate/manifest"
)

// dnsWatch runs a dnscheck watch of every served app with dns: records
// (and dns_check.watch not false), recording events in the instance's
// store and gauges in its telemetry, and keeps each app's latest round for
// the dashboard's DNS panel and the status's dns field.
type dnsWatch struct {
	watchers []*dnscheck.Watcher

	mu     sync.Mutex
	rounds map[string]dnscheck.Round // by app
}

// newDNSWatch builds the watchers of the named apps; resolvConf is where
// the system's resolvers are read from.
func (i *Instance) newDNSWatch(m *manifest.Manifest, names []string, resolvConf string) (*dnsWatch, error) {
	d := &dnsWatch{rounds: make(map[string]dnscheck.Round)}
	for _, name := range names {
		a := m.Apps[name]
		if !dnscheck.Watching(a) {
			continue
		}
		wopts, err := dnscheck.WatchOptionsForSystem(a, resolvConf, i.log)
		if err != nil {
			return nil, fmt.Errorf("watching dns: %w", err)
		}
		wopts.Events, wopts.Gauges = i.store, i.Metrics
		wopts.Logger = i.log.With(slog.String("app", name))
		wopts.OnRound = func(r dnscheck.Round) { d.keep(name, r) }
		w, err := dnscheck.NewWatcher(wopts)
		if err != nil {
			return nil, fmt.Errorf("watching dns: apps.%s.dns: %w", name, err)
		}
		d.watchers = append(d.watchers, w)
	}
	return d, nil
}

// run runs the watchers until ctx is done; it returns nil then.
func (d *dnsWatch) run(ctx context.Context, w *dnscheck.Watcher) error {
	err := w.Run(ctx)
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return nil
	}
	return err
}

func (d *dnsWatch) keep(app string, r dnscheck.Round) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.rounds[app] = r
}

// latest returns app's latest round.
func (d *dnsWatch) latest(app string) (dnscheck.Round, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r, ok := d.rounds[app]
	return r, ok
}

// AppDNS implements admin.DNSReporter.
func (d *dnsWatch) AppDNS(app string) (admin.DNSStatus, bool) {
	r, ok := d.latest(app)
	if !ok {
		return admin.DNSStatus{}, false
	}
	st := admin.DNSStatus{CheckedAt: r.At, Done: r.Done, Records: make([]admin.DNSRecordStatus, 0, len(r.Reports))}
	for i, rep := range r.Reports {
		rec := admin.DNSRecordStatus{Name: rep.Name, Type: rep.Type}
		if err := r.Errors[i]; err != nil {
			rec.Error = err.Error()
			st.Records = append(st.Records, rec)
			continue
		}
		rec.Propagated, rec.Agreement, rec.Done = rep.Propagated, rep.Agreement, rep.Done()
		rec.ETA, rec.ETABasis = pendingETA(rep), rep.ETA.Basis
		rec.Stale = lagging(rep)
		st.Records = append(st.Records, rec)
	}
	return st, true
}

// DNSStatus implements dashboards.DNSProvider: per record, every
// authoritative server's and resolver's status, answer and TTL.
func (d *dnsWatch) DNSStatus(_ context.Context, app string) (dashboards.DNSStatus, bool) {
	r, ok := d.latest(app)
	if !ok {
		return dashboards.DNSStatus{}, false
	}
	st := dashboards.DNSStatus{Records: make([]dashboards.DNSRecord, 0, len(r.Reports))}
	for _, rep := range r.Reports {
		rec := dashboards.DNSRecord{Name: rep.Name, Type: rep.Type, Expect: rep.Expect,
			Propagated: rep.Propagated, ETA: pendingETA(rep), Resolvers: []dashboards.ResolverStatus{}}
		for _, res := range rep.Authoritative {
			rec.Resolvers = append(rec.Resolvers, serverStatus(res))
		}
		for _, res := range rep.Resolvers {
			rec.Resolvers = append(rec.Resolvers, serverStatus(res))
		}
		st.Records = append(st.Records, rec)
	}
	return st, true
}

// pendingETA is when the last stale cache expires; zero when propagated or
// unknown.
func pendingETA(rep dnscheck.Report) (eta time.Time) {
	if rep.ETA.Basis == dnscheck.ETAResolverTTL {
		return rep.ETA.At
	}
	return eta
}

func serverStatus(res dnscheck.Result) dashboards.ResolverStatus {
	s := dashboards.ResolverStatus{Resolver: res.Server, OK: res.Status == dnscheck.StatusMatch && !res.Lagging,
		Answer: res.Answers, TTL: int(res.TTLSeconds), Error: res.Error, Status: string(res.Status)}
	if res.Role == dnscheck.RoleAuthoritative {
		s.Role = res.Role
		if res.Lagging {
			s.Status = "lagging"
		}
	}
	return s
}

// lagging names the servers not answering the expected values.
func lagging(rep dnscheck.Report) []string {
	var out []string
	for _, set := range [][]dnscheck.Result{rep.Authoritative, rep.Resolvers} {
		for _, s := range set {
			switch {
			case s.Lagging:
				out = append(out, fmt.Sprintf("%s %s lagging serial %d", s.Role, s.Server, s.Serial))
			case s.Status != dnscheck.StatusMatch:
				out = append(out, strings.Join([]string{s.Role, s.Server, string(s.Status)}, " "))
			}
		}
	}
	return out
}
