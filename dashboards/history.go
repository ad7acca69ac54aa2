package dashboards

import (
	"context"
	"slices"
	"time"

	"github.com/migratekit/migrate/admin"
	"github.com/migratekit/migrate/state"
)

// ring keeps an app's newest points, at most its capacity.
type ring struct {
	at     []int64
	points []Point
	next   int
	full   bool
}

func newRing(n int) *ring {
	return &ring{at: make([]int64, n), points: make([]Point, n)}
}

func (r *ring) add(at int64, p Point) {
	r.at[r.next], r.points[r.next] = at, p
	r.next++
	if r.next == len(r.at) {
		r.next, r.full = 0, true
	}
}

// each calls f on the points oldest first.
func (r *ring) each(f func(at int64, p Point)) {
	if r.full {
		for i := r.next; i < len(r.at); i++ {
			f(r.at[i], r.points[i])
		}
	}
	for i := 0; i < r.next; i++ {
		f(r.at[i], r.points[i])
	}
}

// History is what a page loads first: every app's points, oldest first,
// the newest frame and the recent events. The event stream goes on from
// Seq.
type History struct {
	Seq        uint64             `json:"seq"`
	IntervalMs int64              `json:"interval_ms"`
	Latest     Frame              `json:"latest"`
	Apps       map[string]*Series `json:"apps"`
	Events     []state.Event      `json:"events"`
	// Sections says which optional panels this instance feeds: those with a
	// provider, and those whose series it has seen.
	Sections Sections `json:"sections"`
}

// Sections are the optional panels an instance feeds.
type Sections struct {
	DNS      bool `json:"dns"`
	Fallback bool `json:"fallback"`
	Logs     bool `json:"logs"`
}

// Series are an app's points as columns, the way the charts take them.
type Series struct {
	T        []int64    `json:"t"` // Unix milliseconds
	Old      SideSeries `json:"old"`
	New      SideSeries `json:"new"`
	Pairs    []float64  `json:"pairs"`
	DiffRate []float64  `json:"diff_rate"`
}

// SideSeries are one side's columns.
type SideSeries struct {
	RPS          []float64    `json:"rps"`
	ErrorRate    []float64    `json:"error_rate"`
	P50Ms        []float64    `json:"p50_ms"`
	P95Ms        []float64    `json:"p95_ms"`
	P99Ms        []float64    `json:"p99_ms"`
	Classes      [5][]float64 `json:"classes"`
	LogErrorRate []*float64   `json:"log_error_rate"`
	// Mirrored are the columns of the requests mirrored to the side.
	Mirrored MirrorSeries `json:"mirrored"`
}

// MirrorSeries are the columns of one side's mirrored requests.
type MirrorSeries struct {
	RPS          []float64 `json:"rps"`
	ErrorRate    []float64 `json:"error_rate"`
	NoAnswerRate []float64 `json:"no_answer_rate"`
	P50Ms        []float64 `json:"p50_ms"`
	P95Ms        []float64 `json:"p95_ms"`
	P99Ms        []float64 `json:"p99_ms"`
}

// newSeries has every column empty, none null.
func newSeries() *Series {
	s := &Series{T: []int64{}, Pairs: []float64{}, DiffRate: []float64{}}
	for _, side := range []*SideSeries{&s.Old, &s.New} {
		side.RPS, side.ErrorRate, side.P50Ms, side.P95Ms, side.P99Ms = []float64{}, []float64{}, []float64{}, []float64{}, []float64{}
		for i := range side.Classes {
			side.Classes[i] = []float64{}
		}
		side.LogErrorRate = []*float64{}
		m := &side.Mirrored
		m.RPS, m.ErrorRate, m.NoAnswerRate, m.P50Ms, m.P95Ms, m.P99Ms = []float64{}, []float64{}, []float64{}, []float64{}, []float64{}, []float64{}
	}
	return s
}

func (s *SideSeries) add(p SidePoint) {
	s.RPS = append(s.RPS, p.RPS)
	s.ErrorRate = append(s.ErrorRate, p.ErrorRate)
	s.P50Ms = append(s.P50Ms, p.P50Ms)
	s.P95Ms = append(s.P95Ms, p.P95Ms)
	s.P99Ms = append(s.P99Ms, p.P99Ms)
	for i := range s.Classes {
		s.Classes[i] = append(s.Classes[i], p.Classes[i])
	}
	s.LogErrorRate = append(s.LogErrorRate, p.LogErrorRate)
	s.Mirrored.add(p.Mirrored)
}

func (s *MirrorSeries) add(p MirrorPoint) {
	s.RPS = append(s.RPS, p.RPS)
	s.ErrorRate = append(s.ErrorRate, p.ErrorRate)
	s.NoAnswerRate = append(s.NoAnswerRate, p.NoAnswerRate)
	s.P50Ms = append(s.P50Ms, p.P50Ms)
	s.P95Ms = append(s.P95Ms, p.P95Ms)
	s.P99Ms = append(s.P99Ms, p.P99Ms)
}

// History returns the dashboard's history for a page.
func (d *Dashboard) History() History {
	d.mu.Lock()
	defer d.mu.Unlock()
	h := History{
		Seq: d.seq, IntervalMs: d.opts.Interval.Milliseconds(), Latest: d.latest,
		Apps: make(map[string]*Series, len(d.hist)), Events: slices.Clone(d.events),
		Sections: Sections{
			DNS:      d.opts.DNS != nil || d.seen.DNS,
			Fallback: d.opts.Fallback != nil || d.seen.Fallback,
			Logs:     d.opts.Logs != nil || d.seen.Logs,
		},
	}
	if h.Events == nil {
		h.Events = []state.Event{}
	}
	for app, r := range d.hist {
		s := newSeries()
		r.each(func(at int64, p Point) {
			s.T = append(s.T, at)
			s.Old.add(p.Old)
			s.New.add(p.New)
			s.Pairs = append(s.Pairs, p.Pairs)
			s.DiffRate = append(s.DiffRate, p.DiffRate)
		})
		h.Apps[app] = s
	}
	return h
}

// record turns what was read into the next frame and keeps it.
func (d *Dashboard) record(now time.Time, apps []admin.AppStatus, cur counters, evs []state.Event, srcErr error) Frame {
	sections := d.sections(context.Background(), apps)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seq++
	f := Frame{Seq: d.seq, At: now.UnixMilli(), Apps: []AppFrame{}, Events: evs}
	if srcErr != nil {
		f.Error = srcErr.Error()
	}
	secs := now.Sub(d.prevAt).Seconds()
	for _, a := range apps {
		af := AppFrame{
			App: a.App, Weight: a.Weight, Phase: a.Phase, Verdict: a.Verdict, Plan: a.Plan,
			Backends: a.Backends, Totals: a.Sides,
		}
		af.Diffs, af.Shadowed = d.diffs[a.App]
		if c := cur[a.App]; c != nil {
			af.Point = point(c, d.prevOf(a.App), secs)
			af.DNS = c.dnsStatus(now)
			af.Fallback = c.fallback
		}
		sections[a.App].apply(&af, d.prevLogs)
		d.seen.DNS = d.seen.DNS || af.DNS != nil
		d.seen.Fallback = d.seen.Fallback || af.Fallback != nil
		d.seen.Logs = d.seen.Logs || af.Point.Old.LogErrorRate != nil || af.Point.New.LogErrorRate != nil
		r := d.hist[a.App]
		if r == nil {
			r = newRing(int(d.opts.History / d.opts.Interval))
			d.hist[a.App] = r
		}
		// The first gather has nothing to subtract: its zeros are no
		// point of the charts.
		if cur != nil && d.prev != nil {
			r.add(f.At, af.Point)
		}
		f.Apps = append(f.Apps, af)
	}
	if cur != nil {
		d.prev, d.prevAt = cur, now
	}
	d.keepEvents(evs)
	d.latest = f
	return f
}

// prevOf is app's counters at the previous gather: zeros when that gather
// had none yet (its series appear with its first request), nil before the
// first gather.
func (d *Dashboard) prevOf(app string) *appCounters {
	if d.prev == nil {
		return nil
	}
	if p := d.prev[app]; p != nil {
		return p
	}
	return &appCounters{}
}

func (d *Dashboard) keepEvents(evs []state.Event) {
	if len(evs) == 0 {
		return
	}
	d.events = append(d.events, evs...)
	if n := len(d.events) - keptEvents; n > 0 {
		d.events = slices.Delete(d.events, 0, n)
	}
	if id := evs[len(evs)-1].ID; id != "" {
		d.lastEvent = id
	}
}
