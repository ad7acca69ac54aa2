package dashboards

import (
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/migratekit/migrate/telemetry"
)

// The series the dashboard reads, as package telemetry exports them.
const (
	seriesRequests    = "migrate_proxy_requests_total"
	seriesDuration    = "migrate_proxy_request_duration_seconds"
	seriesPairs       = "migrate_shadow_pairs_total"
	seriesMirrored    = "migrate_shadow_mirrored_requests_total"
	seriesMirroredDur = "migrate_shadow_mirrored_request_duration_seconds"
	seriesLogRequests = "migrate_logs_requests_total"
	seriesDNSRatio    = "migrate_dns_propagated_ratio"
	seriesDNSETA      = "migrate_dns_eta_seconds"
	seriesFbClients   = "migrate_fallback_clients"
	seriesFbRPM       = "migrate_fallback_requests_per_minute"
)

// counters are the cumulative values of one gather, by app: everything the
// per-second points are differences of.
type counters map[string]*appCounters

type appCounters struct {
	sides [2]sideCounters // old, new: the clients each served
	pairs float64         // compared shadow pairs (match, diff, noise), both directions
	diffs float64         // pairs with outcome diff

	// mirrored are each side's answers to the requests mirrored to it:
	// by status class and latency, and those it did not answer.
	mirrored [2]mirrorCounters

	// What other parts export, when this instance runs them: the access
	// records of the shipped logs, the DNS checks, the fallback.
	logs     [2]logCounters
	dns      map[string]*dnsGauges // by record ("name/TYPE")
	fallback *FallbackStatus
}

type logCounters struct {
	seen          bool
	total, errors float64 // access records, and those with a 5xx status
}

type dnsGauges struct {
	propagated, eta float64
}

type mirrorCounters struct {
	sideCounters
	none float64 // mirrored requests that got no answer
}

type sideCounters struct {
	classes [5]float64
	// bounds are the histogram's finite upper bounds, ascending, and cum
	// their cumulative counts; count is the total.
	bounds []float64
	cum    []float64
	count  float64
}

func sideIndex(side string) int {
	switch side {
	case telemetry.SideOld:
		return 0
	case telemetry.SideNew:
		return 1
	}
	return -1
}

// readCounters picks the dashboard's series out of a gather.
func readCounters(mfs []*dto.MetricFamily) counters {
	out := counters{}
	app := func(name string) *appCounters {
		a := out[name]
		if a == nil {
			a = &appCounters{}
			out[name] = a
		}
		return a
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			l := labels(m)
			switch mf.GetName() {
			case seriesRequests:
				i, c := sideIndex(l["side"]), classIndex(l["code_class"])
				if i >= 0 && c >= 0 {
					app(l["app"]).sides[i].classes[c] += m.GetCounter().GetValue()
				}
			case seriesDuration:
				if i := sideIndex(l["side"]); i >= 0 {
					app(l["app"]).sides[i].addHistogram(m.GetHistogram())
				}
			case seriesLogRequests:
				if i := sideIndex(l["side"]); i >= 0 {
					lc := &app(l["app"]).logs[i]
					v := m.GetCounter().GetValue()
					lc.seen, lc.total = true, lc.total+v
					if l["code_class"] == "5xx" {
						lc.errors += v
					}
				}
			case seriesDNSRatio, seriesDNSETA:
				a := app(l["app"])
				if a.dns == nil {
					a.dns = map[string]*dnsGauges{}
				}
				g := a.dns[l["record"]]
				if g == nil {
					g = &dnsGauges{}
					a.dns[l["record"]] = g
				}
				if mf.GetName() == seriesDNSRatio {
					g.propagated = m.GetGauge().GetValue()
				} else {
					g.eta = m.GetGauge().GetValue()
				}
			case seriesFbClients, seriesFbRPM:
				a := app(l["app"])
				if a.fallback == nil {
					a.fallback = &FallbackStatus{}
				}
				if mf.GetName() == seriesFbClients {
					a.fallback.Clients = uint64(m.GetGauge().GetValue())
				} else {
					a.fallback.RequestsPerMinute = m.GetGauge().GetValue()
				}
			case seriesMirrored:
				if i := sideIndex(l["side"]); i >= 0 {
					app(l["app"]).mirrored[i].add(l["code_class"], m.GetCounter().GetValue())
				}
			case seriesMirroredDur:
				if i := sideIndex(l["side"]); i >= 0 {
					app(l["app"]).mirrored[i].addHistogram(m.GetHistogram())
				}
			case seriesPairs:
				a := app(l["app"])
				switch v := m.GetCounter().GetValue(); l["outcome"] {
				case "diff":
					a.diffs += v
					a.pairs += v
				case "match", "noise":
					a.pairs += v
				}
			}
		}
	}
	return out
}

func labels(m *dto.Metric) map[string]string {
	out := make(map[string]string, len(m.GetLabel()))
	for _, lp := range m.GetLabel() {
		out[lp.GetName()] = lp.GetValue()
	}
	return out
}

// classIndex maps "2xx" to 1; anything else to -1.
func classIndex(class string) int {
	if len(class) != 3 || class[1:] != "xx" || class[0] < '1' || class[0] > '5' {
		return -1
	}
	return int(class[0] - '1')
}

// add counts v mirrored requests answered in class ("none": no answer).
func (mc *mirrorCounters) add(class string, v float64) {
	if class == "none" {
		mc.none += v
	} else if c := classIndex(class); c >= 0 {
		mc.classes[c] += v
	}
}

func (s *sideCounters) addHistogram(h *dto.Histogram) {
	if h == nil {
		return
	}
	s.count += float64(h.GetSampleCount())
	for _, b := range h.GetBucket() {
		ub := b.GetUpperBound()
		if math.IsInf(ub, 1) {
			continue
		}
		i := sort.SearchFloat64s(s.bounds, ub)
		if i == len(s.bounds) || s.bounds[i] != ub {
			s.bounds = append(s.bounds, 0)
			s.cum = append(s.cum, 0)
			copy(s.bounds[i+1:], s.bounds[i:])
			copy(s.cum[i+1:], s.cum[i:])
			s.bounds[i], s.cum[i] = ub, 0
		}
		s.cum[i] += float64(b.GetCumulativeCount())
	}
}

// delta is cur minus prev, or cur when the counter was reset (a restarted
// instance), as Prometheus's rate() treats resets.
func delta(cur, prev float64) float64 {
	if cur < prev {
		return cur
	}
	return cur - prev
}

// point derives one second of an app from two gathers secs apart; prev
// may be nil (the first gather: every rate is zero).
func point(cur, prev *appCounters, secs float64) Point {
	var p Point
	if cur == nil || prev == nil || secs <= 0 {
		return p
	}
	p.Old = sidePoint(&cur.sides[0], &prev.sides[0], secs)
	p.New = sidePoint(&cur.sides[1], &prev.sides[1], secs)
	p.Old.LogErrorRate = logErrorRate(cur.logs[0], prev.logs[0])
	p.New.LogErrorRate = logErrorRate(cur.logs[1], prev.logs[1])
	pairs, diffs := delta(cur.pairs, prev.pairs), delta(cur.diffs, prev.diffs)
	p.Pairs = pairs / secs
	if pairs > 0 {
		p.DiffRate = diffs / pairs
	}
	p.Old.Mirrored = mirrorPoint(&cur.mirrored[0], &prev.mirrored[0], secs)
	p.New.Mirrored = mirrorPoint(&cur.mirrored[1], &prev.mirrored[1], secs)
	return p
}

// mirrorPoint is a side's second of mirrored requests: how many, the
// share answered 5xx and the share not answered, its answers by class and
// their latency.
func mirrorPoint(cur, prev *mirrorCounters, secs float64) MirrorPoint {
	sp := sidePoint(&cur.sideCounters, &prev.sideCounters, secs)
	none := delta(cur.none, prev.none)
	total := sp.RPS*secs + none
	mp := MirrorPoint{Classes: sp.Classes, P50Ms: sp.P50Ms, P95Ms: sp.P95Ms, P99Ms: sp.P99Ms}
	if total == 0 {
		return mp
	}
	mp.RPS = total / secs
	mp.ErrorRate = sp.Classes[4] * secs / total
	mp.NoAnswerRate = none / total
	return mp
}

// logErrorRate is the share of 5xx among the access records shipped since
// the previous gather; nil when the side's logs are not shipped here.
func logErrorRate(cur, prev logCounters) *float64 {
	if !cur.seen {
		return nil
	}
	rate := 0.0
	if total := delta(cur.total, prev.total); total > 0 {
		rate = delta(cur.errors, prev.errors) / total
	}
	return &rate
}

// dnsStatus is the DNS panel from the dnscheck series: per record, the
// propagated share and the ETA (no per-resolver detail: that needs a
// DNSProvider).
func (a *appCounters) dnsStatus(now time.Time) *DNSStatus {
	if a == nil || len(a.dns) == 0 {
		return nil
	}
	st := &DNSStatus{Records: []DNSRecord{}}
	for _, rec := range slices.Sorted(maps.Keys(a.dns)) {
		g := a.dns[rec]
		name, typ, _ := strings.Cut(rec, "/")
		r := DNSRecord{Name: name, Type: typ, Propagated: g.propagated, Resolvers: []ResolverStatus{}}
		if g.eta > 0 {
			r.ETA = now.Add(time.Duration(g.eta * float64(time.Second)))
		}
		st.Records = append(st.Records, r)
	}
	return st
}

func sidePoint(cur, prev *sideCounters, secs float64) SidePoint {
	var sp SidePoint
	var total float64
	for i := range cur.classes {
		d := delta(cur.classes[i], prev.classes[i])
		sp.Classes[i] = d / secs
		total += d
	}
	sp.RPS = total / secs
	if total > 0 {
		sp.ErrorRate = delta(cur.classes[4], prev.classes[4]) / total
	}
	bounds, cum, count := histogramDelta(cur, prev)
	sp.P50Ms = quantile(0.50, bounds, cum, count) * 1000
	sp.P95Ms = quantile(0.95, bounds, cum, count) * 1000
	sp.P99Ms = quantile(0.99, bounds, cum, count) * 1000
	return sp
}

// histogramDelta is the histogram of the observations between two
// gathers. A reset (fewer observations than before) gives cur itself.
func histogramDelta(cur, prev *sideCounters) (bounds, cum []float64, count float64) {
	if cur.count < prev.count || len(prev.bounds) != len(cur.bounds) {
		return cur.bounds, cur.cum, cur.count
	}
	cum = make([]float64, len(cur.cum))
	for i := range cur.cum {
		cum[i] = delta(cur.cum[i], prev.cum[i])
	}
	return cur.bounds, cum, cur.count - prev.count
}

// quantile estimates the q-quantile of a histogram as PromQL's
// histogram_quantile does: find the bucket that holds rank q*count and
// interpolate linearly within it (the first bucket starts at 0); a rank
// past the last finite bound gives that bound. No observations give 0.
func quantile(q float64, bounds, cum []float64, count float64) float64 {
	if count <= 0 {
		return 0
	}
	rank := q * count
	lower, below := 0.0, 0.0
	for i, upper := range bounds {
		if cum[i] >= rank && cum[i] > below {
			return lower + (upper-lower)*(rank-below)/(cum[i]-below)
		}
		lower, below = upper, cum[i]
	}
	return lower
}
