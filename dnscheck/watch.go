package dnscheck

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/state"
)

// Event kinds a Watcher records.
const (
	KindPropagated = "dns_propagated" // a record became fully propagated
	KindRegressed  = "dns_regressed"  // a propagated record no longer is
	ActorDNSCheck  = "dnscheck"
)

// EventRecorder records events; state.Store is one.
type EventRecorder interface {
	AppendEvent(ctx context.Context, e state.Event) (state.Event, error)
}

// Gauges receive each record's numbers after every check;
// *telemetry.Metrics is one. record is "name/TYPE"; etaSeconds is -1 when
// the ETA is unknown.
type Gauges interface {
	DNSRecord(app, record string, propagated, agreement, etaSeconds float64)
}

// WatchOptions configure a Watcher.
type WatchOptions struct {
	App     string
	Records []Query
	// Check are the options of every check; its Limits are shared by all
	// of them (created when nil), and its Clock and Logger default to
	// the watcher's.
	Check Options
	// Interval is the first wait between rounds; it doubles after every
	// round that changes nothing, up to MaxInterval, and starts over
	// when a server's answer changes.
	Interval, MaxInterval time.Duration
	// UntilPropagated makes Run return nil once every record is
	// propagated.
	UntilPropagated bool
	Events          EventRecorder // nil: no events
	Gauges          Gauges        // nil: no gauges
	// Fallbacks are admin URLs of running `migrate fallback` instances,
	// asked every round for the retirement advice.
	Fallbacks  []string
	HTTPClient *http.Client
	// OnRound is called after every round, e.g. to render it.
	OnRound func(Round)
	Clock   clockwork.Clock
	Logger  *slog.Logger
}

// Round is one pass over every record.
type Round struct {
	N       int
	At      time.Time
	Reports []Report // one per record, in order; Name and Type only when Errors has its error
	Errors  []error  // one per record, nil when checked
	Done    bool     // every record propagated
	Next    time.Duration
	Advice  *Advice // with Fallbacks only
}

// Watcher re-checks records until they are propagated.
type Watcher struct {
	opts    WatchOptions
	changed []time.Time // per record: when its authoritative servers first all agreed
	last    []string    // per record: the previous round's answers, to spot changes
	done    []bool      // per record: propagated in the previous round
}

// NewWatcher checks the records and returns a watcher of them.
func NewWatcher(opts WatchOptions) (*Watcher, error) {
	if len(opts.Records) == 0 {
		return nil, fmt.Errorf("watching %s: no dns records", opts.App)
	}
	for _, q := range opts.Records {
		if _, err := newChecker(q, opts.Check.withDefaults()); err != nil && !errors.Is(err, ErrNoServers) {
			return nil, fmt.Errorf("watching %s: %w", opts.App, err)
		}
	}
	if opts.Interval <= 0 {
		opts.Interval = manifest.DefaultDNSInterval
	}
	if opts.MaxInterval < opts.Interval {
		opts.MaxInterval = max(opts.Interval, manifest.DefaultDNSMaxInterval)
	}
	if opts.Clock == nil {
		opts.Clock = clockwork.NewRealClock()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Check.Clock == nil {
		opts.Check.Clock = opts.Clock
	}
	if opts.Check.Logger == nil {
		opts.Check.Logger = opts.Logger
	}
	if opts.Check.Limits == nil {
		opts.Check.Limits = NewLimits(opts.Check.Rate)
	}
	n := len(opts.Records)
	return &Watcher{opts: opts, changed: make([]time.Time, n), last: make([]string, n), done: make([]bool, n)}, nil
}

// Run checks every record, then again after the interval, until ctx is
// done (it returns ctx's error) or, with UntilPropagated, every record is
// propagated (it returns nil).
func (w *Watcher) Run(ctx context.Context) error {
	interval := w.opts.Interval
	for n := 1; ; n++ {
		r, changed := w.round(ctx, n)
		if err := ctx.Err(); err != nil {
			return err
		}
		if changed || n == 1 {
			interval = w.opts.Interval
		} else {
			interval = min(interval*2, w.opts.MaxInterval)
		}
		r.Next = interval
		if w.opts.OnRound != nil {
			w.opts.OnRound(r)
		}
		if w.opts.UntilPropagated && r.Done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.opts.Clock.After(interval):
		}
	}
}

// round checks every record once, records events and gauges, and says
// whether any server's answer changed since the last round.
func (w *Watcher) round(ctx context.Context, n int) (Round, bool) {
	r := Round{N: n, At: w.opts.Clock.Now(), Done: true}
	changed := false
	for i, q := range w.opts.Records {
		opts := w.opts.Check
		opts.ChangedAt = w.changed[i]
		rep, err := Check(ctx, q, opts)
		if err != nil {
			w.opts.Logger.Warn("dns check failed", "app", w.opts.App, "name", q.Name, "type", q.Type, "err", err)
			rep = Report{Name: q.Name, Type: strings.ToUpper(q.Type)}
			r.Done = false
		}
		r.Reports, r.Errors = append(r.Reports, rep), append(r.Errors, err)
		if err != nil {
			continue
		}
		if sig := signature(rep); sig != w.last[i] {
			changed, w.last[i] = changed || w.last[i] != "", sig
		}
		if w.changed[i].IsZero() && rep.Agreement == 1 {
			w.changed[i] = rep.CheckedAt
		}
		w.gauges(rep)
		w.event(ctx, i, rep)
		r.Done = r.Done && rep.Done()
	}
	if len(w.opts.Fallbacks) > 0 {
		a := w.advice(ctx, r)
		r.Advice = &a
	}
	return r, changed
}

// signature sums up the answers of a report, to spot a change.
func signature(rep Report) string {
	var b strings.Builder
	for _, set := range [][]Result{rep.Authoritative, rep.Resolvers} {
		for _, s := range set {
			fmt.Fprintf(&b, "%s=%s:%s:%d;", s.Server, s.Status, strings.Join(s.Answers, ","), s.Serial)
		}
	}
	return b.String()
}

func (w *Watcher) gauges(rep Report) {
	if w.opts.Gauges == nil {
		return
	}
	eta := -1.0
	switch rep.ETA.Basis {
	case ETAPropagated:
		eta = 0
	case ETAResolverTTL:
		eta = rep.ETA.Remaining(rep.CheckedAt).Seconds()
	}
	w.opts.Gauges.DNSRecord(w.opts.App, rep.Name+"/"+rep.Type, rep.Propagated, rep.Agreement, eta)
}

// event records a record becoming propagated, or no longer being so.
func (w *Watcher) event(ctx context.Context, i int, rep Report) {
	done := rep.Done()
	was := w.done[i]
	w.done[i] = done
	if done == was || w.opts.Events == nil {
		return
	}
	e := state.Event{App: w.opts.App, Actor: ActorDNSCheck, Kind: KindPropagated,
		Before: "not propagated", After: "propagated",
		Reason: fmt.Sprintf("%s %s: %d resolvers and %d authoritative servers answer %s", rep.Name, rep.Type,
			len(rep.Resolvers), len(rep.Authoritative), strings.Join(rep.Expect, ", "))}
	if !done {
		e.Kind, e.Before, e.After = KindRegressed, "propagated", "not propagated"
		e.Reason = fmt.Sprintf("%s %s: %s", rep.Name, rep.Type, strings.Join(lagging(rep), ", "))
	}
	if _, err := w.opts.Events.AppendEvent(ctx, e); err != nil {
		w.opts.Logger.Warn("recording dns event", "app", w.opts.App, "kind", e.Kind, "err", err)
	}
}

// lagging names the servers not answering the expected values.
func lagging(rep Report) []string {
	var out []string
	for _, set := range [][]Result{rep.Authoritative, rep.Resolvers} {
		for _, s := range set {
			if s.Status != StatusMatch || s.Lagging {
				out = append(out, fmt.Sprintf("%s %s %s", s.Role, s.Server, s.Status))
			}
		}
	}
	return out
}

// advice asks the fallbacks and decides about retiring the old host.
func (w *Watcher) advice(ctx context.Context, r Round) Advice {
	var fbs []FallbackStatus
	var errs []error
	for _, u := range w.opts.Fallbacks {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		st, err := FetchFallback(actx, w.opts.HTTPClient, u, w.opts.App)
		cancel()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fbs = append(fbs, st)
	}
	var reps []Report
	for i, rep := range r.Reports {
		if r.Errors[i] == nil {
			reps = append(reps, rep)
		}
	}
	a := Retire(r.At, reps, fbs, errs)
	if len(reps) < len(r.Reports) {
		a.Safe = false
		a.Reasons = slices.Insert(a.Reasons, 0, "some records could not be checked")
	}
	return a
}
