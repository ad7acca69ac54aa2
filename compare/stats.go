package compare

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Other is the endpoint, and the field, that pairs and differences count
// under once an app has MaxEndpoints endpoints, or an endpoint MaxFields
// fields: the tables stay bounded whatever the traffic.
const Other = "other"

// appStats holds one app's endpoints, in each direction.
type appStats struct {
	mu        sync.RWMutex
	endpoints map[endpointKey]*endpointStats
	count     [2]int // endpoints per direction, by dirIndex
}

// endpointKey names an endpoint's stats in one direction.
type endpointKey struct {
	dir  Direction
	name string
}

func dirIndex(d Direction) int {
	if d == DirectionNewToOld {
		return 1
	}
	return 0
}

// endpointStats are one endpoint's counters. Everything in it is bounded:
// MaxFields fields, fixed histograms, at most 7×7 status-class cells.
type endpointStats struct {
	mu         sync.Mutex
	outcomes   [len(outcomeIndex)]uint64
	fields     map[string]*fieldCounts
	noisePairs uint64 // pairs compared with a secondary
	repeats    uint64 // pairs compared with a remembered primary answer
	truncated  uint64 // pairs whose bodies were not compared
	primary    latencyHist
	candidate  latencyHist
	paired     pairedHist // the pairs both sides answered
	matrix     map[string]uint64
}

// fieldCounts counts one field's differences.
type fieldCounts struct {
	kind   Kind
	raw    uint64 // pairs where primary and candidate differed
	noise  uint64 // pairs where primary and secondary differed
	repeat uint64 // pairs where the primary differed from its last answer
}

// outcomeIndex numbers the outcomes for the counter array.
var outcomeIndex = [...]Outcome{
	OutcomeMatch, OutcomeDiff, OutcomeNoise, OutcomeShadowError, OutcomeShadowTimeout,
	OutcomeSkippedUnsafe, OutcomeSkippedStream, OutcomeTooLarge, OutcomeDropped, OutcomeAborted,
}

func indexOf(o Outcome) int {
	for i, x := range outcomeIndex {
		if x == o {
			return i
		}
	}
	return -1
}

// compared is the pairs with outcome match, diff or noise.
func (ep *endpointStats) compared() uint64 {
	return ep.outcomes[0] + ep.outcomes[1] + ep.outcomes[2]
}

// field returns the counters of name, or of Other when the table is full.
func (ep *endpointStats) field(name string, kind Kind, maxFields int) *fieldCounts {
	if f := ep.fields[name]; f != nil {
		return f
	}
	if len(ep.fields) >= maxFields {
		name = Other
		if f := ep.fields[name]; f != nil {
			return f
		}
	}
	f := &fieldCounts{kind: kind}
	ep.fields[name] = f
	return f
}

// countFields applies inc once to the counters of each field in diffs
// (fields past the bound share Other's, counted once per pair too).
func (ep *endpointStats) countFields(diffs []Difference, maxFields int, inc func(*fieldCounts)) {
	seen := make(map[*fieldCounts]bool, len(diffs))
	for _, d := range diffs {
		f := ep.field(d.Field, d.Kind, maxFields)
		if !seen[f] {
			seen[f] = true
			inc(f)
		}
	}
}

// endpoint returns the stats of app's endpoint name in direction dir (a
// Norm one), or of Other when the app has MaxEndpoints in that direction
// already, and the name it counts under.
func (e *Engine) endpoint(app string, dir Direction, name string) (string, *endpointStats) {
	a := e.app(app)
	k := endpointKey{dir, name}
	a.mu.RLock()
	ep := a.endpoints[k]
	a.mu.RUnlock()
	if ep != nil {
		return name, ep
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if ep = a.endpoints[k]; ep != nil {
		return name, ep
	}
	if a.count[dirIndex(dir)] >= e.cfg.MaxEndpoints {
		k.name = Other
		if ep = a.endpoints[k]; ep != nil {
			return k.name, ep
		}
	}
	ep = &endpointStats{fields: make(map[string]*fieldCounts), matrix: make(map[string]uint64)}
	a.endpoints[k] = ep
	a.count[dirIndex(dir)]++
	return k.name, ep
}

func (e *Engine) app(name string) *appStats {
	e.mu.RLock()
	a := e.stats[name]
	e.mu.RUnlock()
	if a != nil {
		return a
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if a = e.stats[name]; a == nil {
		a = &appStats{endpoints: make(map[endpointKey]*endpointStats)}
		e.stats[name] = a
	}
	return a
}

// Apps lists the apps with stats, sorted.
func (e *Engine) Apps() []string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	apps := make([]string, 0, len(e.stats))
	for name := range e.stats {
		apps = append(apps, name)
	}
	slices.Sort(apps)
	return apps
}

// Stats returns app's endpoints, one EndpointStats per endpoint and
// direction, sorted by endpoint then direction (old_to_new first), each
// with its fields, highest rate first. It is a snapshot: later pairs do
// not change it.
func (e *Engine) Stats(app string) []EndpointStats {
	e.mu.RLock()
	a := e.stats[app]
	e.mu.RUnlock()
	if a == nil {
		return nil
	}
	t := e.templater(app)
	a.mu.RLock()
	out := make([]EndpointStats, 0, len(a.endpoints))
	for k, ep := range a.endpoints {
		s := e.snapshot(k, ep)
		s.Inferred = t.Inferred(s.Endpoint)
		out = append(out, s)
	}
	a.mu.RUnlock()
	slices.SortFunc(out, func(x, y EndpointStats) int {
		return cmp.Or(cmp.Compare(x.Endpoint, y.Endpoint), cmp.Compare(dirIndex(x.Direction), dirIndex(y.Direction)))
	})
	return out
}

func (e *Engine) snapshot(k endpointKey, ep *endpointStats) EndpointStats {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	total := ep.compared()
	s := EndpointStats{
		Endpoint:  k.name,
		Direction: k.dir,
		Requests:  total,
		Diffs:     ep.outcomes[1],
		DiffRate:  ratio(ep.outcomes[1], total),
		Truncated: ep.truncated,
		Outcomes:  make(map[Outcome]uint64),
		Fields:    []FieldStats{},
		Latency: LatencyStats{
			Primary:   ep.primary.quantiles(),
			Candidate: ep.candidate.quantiles(),
			Judgement: judgeLatency(&ep.primary, &ep.candidate, &ep.paired, e.latency),
		},
		StatusMatrix: make(map[string]uint64, len(ep.matrix)),
	}
	for i, n := range ep.outcomes {
		if n > 0 {
			s.Outcomes[outcomeIndex[i]] = n
		}
	}
	for path, f := range ep.fields {
		if f.raw == 0 {
			continue // differed only between primary instances
		}
		s.Fields = append(s.Fields, FieldStats{
			Path: path, Kind: f.kind, Count: f.raw, Rate: ratio(f.raw, total),
			NoiseRate: noiseRate(f, total, ep.noisePairs, ep.repeats),
			Noise:     e.judge.isNoise(f, total, ep.noisePairs, ep.repeats),
		})
	}
	slices.SortFunc(s.Fields, func(x, y FieldStats) int {
		return cmp.Or(cmp.Compare(y.Rate, x.Rate), cmp.Compare(x.Path, y.Path))
	})
	for k, n := range ep.matrix {
		s.StatusMatrix[k] = n
	}
	return s
}

func ratio(n, total uint64) float64 {
	if total == 0 {
		return 0
	}
	return float64(n) / float64(total)
}

// statusClass is "2xx" for 200-299 (and so on), "none" for no answer.
func statusClass(code int) string {
	switch {
	case code == 0:
		return "none"
	case code >= 100 && code < 600:
		return strconv.Itoa(code/100) + "xx"
	}
	return "other"
}

// Latency histogram: log-scale buckets, histPerDoubling per power of two
// of microseconds (each within about 4.4% of its midpoint), from 1µs to
// 2^histDoublings µs (about 4.5 minutes); bucket 0 holds what is under 1µs,
// the last what is over.
const (
	histPerDoubling = 8
	histDoublings   = 28
	histBuckets     = histPerDoubling*histDoublings + 2
)

type latencyHist struct {
	n      uint64
	counts [histBuckets]uint64
}

func (h *latencyHist) add(d time.Duration) {
	i := 0
	if us := float64(d) / float64(time.Microsecond); us >= 1 {
		i = 1 + int(math.Log2(us)*histPerDoubling)
	}
	h.counts[min(i, histBuckets-1)]++
	h.n++
}

func (h *latencyHist) quantiles() Quantiles {
	return Quantiles{P50Ms: h.quantile(0.50), P95Ms: h.quantile(0.95), P99Ms: h.quantile(0.99)}
}

// quantile is the midpoint, in milliseconds, of the bucket holding the
// q-quantile (0 with no data).
func (h *latencyHist) quantile(q float64) float64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	var seen uint64
	for i, c := range h.counts {
		if seen += c; seen >= rank && c > 0 {
			if i == 0 {
				return 0.0005
			}
			us := math.Exp2((float64(i) - 0.5) / histPerDoubling)
			return math.Round(us) / 1000
		}
	}
	return 0
}
