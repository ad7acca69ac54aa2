package logship

// Log-derived metrics: what the shipped logs of each side say about its
// requests, for Prometheus and for the rollback analysis.
//
// Derived keeps, per app and side, a ring of one-second buckets keyed by
// EVENT time (Event.Time, the time read from the line), not by the time
// the event arrived: a batch shipped late, or replayed after a shipper
// restart, lands in the seconds its requests happened. Each bucket
// remembers the ids it counted (up to MaxIDs), so a replayed duplicate is
// counted once in the windows and in the Prometheus series. An event older
// than the ring, or too far ahead of the clock, is counted in Prometheus
// but kept out of the windows (migrate_logs_window_skipped_total).

import (
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/migratekit/migrate/telemetry"
)

// Defaults of DeriveOptions.
const (
	DefaultDeriveKeep   = telemetry.DefaultWindowMax
	DefaultDeriveFuture = time.Minute
	DefaultDeriveMaxIDs = 1 << 16
)

// DeriveOptions configure a Derived. Zero values take the defaults.
type DeriveOptions struct {
	// Metrics receives the migrate_logs_* series; nil records none.
	Metrics *telemetry.Metrics
	// Clock says what "now" is for the windows; nil is real time.
	Clock clockwork.Clock
	// Keep is the longest window answered (default 5m).
	Keep time.Duration
	// Future is how far ahead of the clock an event time may be and still
	// count in the windows (a host whose clock runs fast); default 1m.
	Future time.Duration
	// MaxIDs bounds the ids remembered per second and side (default
	// 65536); past it, events of that second are counted without dedupe.
	MaxIDs int
}

// Derived derives per-side request numbers from shipped events. Its
// methods are safe for concurrent use.
type Derived struct {
	opts           DeriveOptions
	keep, future   int64 // in seconds
	mu             sync.Mutex
	sides          map[derivedKey]*derivedSide
	unremembered   uint64
	latencyBuckets int
}

type derivedKey struct{ app, side string }

// derivedSide is one side's ring.
type derivedSide struct {
	rec     *telemetry.LogSide
	buckets []derivedBucket
}

// derivedBucket is one second of event time.
type derivedBucket struct {
	sec      int64    // the Unix second counted; 0 for an unused bucket
	latency  []uint64 // requests with a duration, by telemetry.LatencyBucket
	requests uint64   // every access record, with a duration or not
	e5, e4   uint64
	ids      map[string]struct{}
}

// NewDerived returns a Derived with opts.
func NewDerived(opts DeriveOptions) *Derived {
	if opts.Clock == nil {
		opts.Clock = clockwork.NewRealClock()
	}
	if opts.Keep <= 0 {
		opts.Keep = DefaultDeriveKeep
	}
	if opts.Future <= 0 {
		opts.Future = DefaultDeriveFuture
	}
	if opts.MaxIDs <= 0 {
		opts.MaxIDs = DefaultDeriveMaxIDs
	}
	return &Derived{
		opts:           opts,
		keep:           int64((opts.Keep + time.Second - 1) / time.Second),
		future:         int64((opts.Future + time.Second - 1) / time.Second),
		sides:          make(map[derivedKey]*derivedSide),
		latencyBuckets: len(telemetry.DurationBuckets) + 1,
	}
}

// Observe counts evs, each under its own App and Side. It returns how many
// were counted, duplicates left out.
func (d *Derived) Observe(evs []Event) int {
	now := d.opts.Clock.Now().Unix()
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for i := range evs {
		if d.observe(&evs[i], now) {
			n++
		}
	}
	return n
}

// observe counts one event; false for a duplicate.
func (d *Derived) observe(ev *Event, now int64) bool {
	s := d.side(ev.App, ev.Side)
	sec := now
	if !ev.Time.IsZero() {
		sec = ev.Time.Unix()
	}
	switch {
	case sec < now-d.keep:
		s.rec.Skipped(telemetry.LogSkipTooOld)
	case sec > now+d.future:
		s.rec.Skipped(telemetry.LogSkipFuture)
	default:
		b := s.bucket(sec, d.latencyBuckets)
		if !d.remember(b, ev.ID) {
			s.rec.Duplicate()
			return false
		}
		b.count(&ev.Record)
	}
	d.record(s.rec, &ev.Record)
	return true
}

// remember adds id to b's ids; false when it was there already.
func (d *Derived) remember(b *derivedBucket, id string) bool {
	if id == "" {
		return true
	}
	if _, ok := b.ids[id]; ok {
		return false
	}
	if len(b.ids) >= d.opts.MaxIDs {
		d.unremembered++
		return true
	}
	if b.ids == nil {
		b.ids = make(map[string]struct{})
	}
	b.ids[id] = struct{}{}
	return true
}

// record adds an event to the Prometheus series.
func (d *Derived) record(rec *telemetry.LogSide, r *Record) {
	if r.Status == 0 {
		rec.Line(r.Level)
		return
	}
	rec.Request(r.Status, r.Duration, r.Present&HasDuration != 0)
}

func (d *Derived) side(app, side string) *derivedSide {
	k := derivedKey{app, side}
	s := d.sides[k]
	if s == nil {
		s = &derivedSide{
			rec:     d.opts.Metrics.Logs(app, side),
			buckets: make([]derivedBucket, d.keep+d.future+1),
		}
		d.sides[k] = s
	}
	return s
}

// bucket returns sec's bucket, reset if it held an older second. The ring
// holds every second from now-keep to now+future, so a bucket never holds
// a newer second than one in that span.
func (s *derivedSide) bucket(sec int64, latencyBuckets int) *derivedBucket {
	n := int64(len(s.buckets))
	b := &s.buckets[(sec%n+n)%n]
	if b.sec != sec {
		lat := b.latency
		if lat == nil {
			lat = make([]uint64, latencyBuckets)
		}
		clear(lat)
		clear(b.ids)
		*b = derivedBucket{sec: sec, latency: lat, ids: b.ids}
	}
	return b
}

func (b *derivedBucket) count(r *Record) {
	if r.Status == 0 {
		return
	}
	b.requests++
	if r.Present&HasDuration != 0 {
		b.latency[telemetry.LatencyBucket(r.Duration)]++
	}
	switch r.Status / 100 {
	case 5:
		b.e5++
	case 4:
		b.e4++
	}
}

// Window returns one app's side over the last span ending at now (by
// event time), as telemetry.Metrics.Window does for the proxy: the last
// span rounded up to whole seconds, capped at Keep, plus the current
// second. P99 comes from the records that carry a duration.
func (d *Derived) Window(app, side string, span time.Duration, now time.Time) telemetry.WindowStats {
	n := min(int64((max(span, 0)+time.Second-1)/time.Second), d.keep)
	st := telemetry.WindowStats{Window: time.Duration(n) * time.Second}
	last := now.Unix()
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.sides[derivedKey{app, side}]
	if s == nil {
		return st
	}
	lat := make([]uint64, d.latencyBuckets)
	size := int64(len(s.buckets))
	for sec := last - n; sec <= last; sec++ {
		b := &s.buckets[(sec%size+size)%size]
		if b.sec != sec {
			continue
		}
		st.Requests += b.requests
		st.Errors5xx += b.e5
		st.Errors4xx += b.e4
		for i, c := range b.latency {
			lat[i] += c
		}
	}
	st.P99 = telemetry.LatencyQuantile(0.99, lat)
	return st
}

// WindowMax is the longest window Window answers.
func (d *Derived) WindowMax() time.Duration {
	return time.Duration(d.keep) * time.Second
}

// Unremembered is how many events were counted without their id being
// remembered, because their second already held MaxIDs ids.
func (d *Derived) Unremembered() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.unremembered
}
