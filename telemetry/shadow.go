package telemetry

// Shadow traffic metrics (see package shadow). A sampled client is
// mirrored to the other side of the one that serves it: direction is
// old_to_new (served by old, mirrored to new) or new_to_old.
//
//	migrate_shadow_pairs_total{app,direction,endpoint,outcome}      mirrored requests by compare outcome, and served-only ones (skipped_*, too_large, dropped)
//	migrate_shadow_mirror_duration_seconds{app,direction,endpoint}  latency of the mirrored side's answer
//	migrate_shadow_latency_delta_seconds{app,direction,endpoint}    mirrored side's latency minus the serving side's
//	migrate_shadow_queue_depth{app}                                 mirrors waiting for a worker
//	migrate_shadow_dropped_total{app,direction,reason}              mirrors given up: queue_full, tally_full, shutdown
//	migrate_shadow_not_sampled_total{app,direction}                 requests left out by shadow.sample
//
// and, per side, its answers to the requests mirrored to it (mirrored.go):
//
//	migrate_shadow_mirrored_requests_total{app,side,code_class}     by status class, "none" when it gave no answer
//	migrate_shadow_mirrored_request_duration_seconds{app,side}      latency of its answers
//
// They are apart from migrate_proxy_* on purpose: those count the clients
// a side served, which the rollback analysis judges.
//
// In statsd, under prefix.app.shadow.<direction>:
//
//	pairs.<endpoint>.<outcome>   counter
//	mirror_duration.<endpoint>   timing, ms
//	latency_delta.<endpoint>     timing, ms, negative when the mirrored side was faster
//	dropped.<reason>             counter
//	not_sampled                  counter
//
// and prefix.app.shadow.queue_depth (gauge), prefix.app.side.mirrored.<N>xx
// and .none (counters), prefix.app.side.mirrored_duration (timing, ms).
//
// Endpoints are templates from the compare engine, already bounded; Shadow
// bounds them again (MaxShadowEndpoints per app and direction, the rest
// count as "other") so that no caller can grow the series without limit.

import (
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// MaxShadowEndpoints bounds the distinct endpoint label values per app and
// direction; further endpoints are recorded as OtherEndpoint.
const MaxShadowEndpoints = 500

// OtherEndpoint is the endpoint label of everything past the bound, and of
// requests no template names.
const OtherEndpoint = "other"

// Directions of the shadow series: the values of the direction label, as
// package compare names them.
const (
	DirOldToNew = "old_to_new" // served by old, mirrored to new
	DirNewToOld = "new_to_old" // served by new, mirrored to old
)

// Reasons for migrate_shadow_dropped_total.
const (
	DropQueueFull = "queue_full" // the mirror queue or the bound on pairs in flight was full
	DropTallyFull = "tally_full" // the outcome of a served-only request could not be counted
	DropShutdown  = "shutdown"   // the mirror stopped before the pair was compared
)

// DeltaBuckets are the buckets of the latency delta histogram, in seconds,
// symmetric around zero.
var DeltaBuckets = []float64{-5, -1, -.25, -.1, -.05, -.025, -.01, -.005, -.001, 0, .001, .005, .01, .025, .05, .1, .25, 1, 5}

// shadowVecs are the shadow series of a Metrics and its per-app recorders.
type shadowVecs struct {
	pairs      *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	delta      *prometheus.HistogramVec
	queue      *prometheus.GaugeVec
	dropped    *prometheus.CounterVec
	notSampled *prometheus.CounterVec
	mirrored   *mirroredVecs // mirrored.go

	mu   sync.Mutex
	apps map[string]*Shadow
}

func newShadowVecs() *shadowVecs {
	return &shadowVecs{
		pairs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "migrate_shadow_pairs_total",
			Help: "Sampled requests of an app by direction and shadow outcome: compared (match, diff, noise, shadow_error, shadow_timeout) or served only.",
		}, []string{"app", "direction", "endpoint", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "migrate_shadow_mirror_duration_seconds",
			Help:    "Time the mirrored side took to answer a mirrored request, body included.",
			Buckets: DurationBuckets,
		}, []string{"app", "direction", "endpoint"}),
		delta: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "migrate_shadow_latency_delta_seconds",
			Help:    "Latency of the mirrored side minus latency of the serving side, per mirrored request.",
			Buckets: DeltaBuckets,
		}, []string{"app", "direction", "endpoint"}),
		queue: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "migrate_shadow_queue_depth",
			Help: "Mirrored requests waiting for a shadow worker.",
		}, []string{"app"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "migrate_shadow_dropped_total",
			Help: "Mirrors given up without a comparison, by direction and reason (queue_full, tally_full, shutdown).",
		}, []string{"app", "direction", "reason"}),
		notSampled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "migrate_shadow_not_sampled_total",
			Help: "Requests of the serving side left out of mirroring by shadow.sample, by direction.",
		}, []string{"app", "direction"}),
		mirrored: newMirroredVecs(),
		apps:     make(map[string]*Shadow),
	}
}

func (v *shadowVecs) collectors() []prometheus.Collector {
	return append([]prometheus.Collector{v.pairs, v.duration, v.delta, v.queue, v.dropped, v.notSampled}, v.mirrored.collectors()...)
}

// Shadow returns the recorder of one app's shadow traffic. It is cached:
// call it once per app.
func (m *Metrics) Shadow(app string) *Shadow {
	if m == nil {
		return nil
	}
	v := m.shadow
	v.mu.Lock()
	defer v.mu.Unlock()
	if s := v.apps[app]; s != nil {
		return s
	}
	s := &Shadow{
		m:     m,
		app:   app,
		queue: v.queue.WithLabelValues(app),
		win:   newPairWindow(m.win),
	}
	for i, dir := range [...]string{DirOldToNew, DirNewToOld} {
		s.dirs[i] = &shadowDir{
			label:      dir,
			base:       token(app) + ".shadow." + dir,
			notSampled: v.notSampled.WithLabelValues(app, dir),
			endpoints:  make(map[string]*shadowEndpoint),
		}
	}
	for i, side := range [...]string{SideOld, SideNew} {
		s.mirrored[i] = newMirroredSide(m, app, side)
	}
	v.apps[app] = s
	return s
}

// Shadow records one app's shadow traffic. Its methods are safe for
// concurrent use; NotSampled and Dropped are cheap enough for the request
// path (one atomic add and a non-blocking statsd hand-off), the others run
// off it. A nil *Shadow records nothing. A direction other than
// DirNewToOld records as DirOldToNew.
type Shadow struct {
	m     *Metrics
	app   string
	queue prometheus.Gauge
	dirs  [2]*shadowDir // by dirIndex
	// mirrored are the sides' answers to mirrored requests, by side
	// (old, new).
	mirrored [2]*mirroredSide

	// win counts compared pairs and diffs per second (window.go), in both
	// directions.
	win pairWindow
}

// shadowDir holds the series of one direction of an app.
type shadowDir struct {
	label      string
	base       string // statsd: app.shadow.<direction>
	notSampled prometheus.Counter

	mu        sync.Mutex
	endpoints map[string]*shadowEndpoint
	dropped   sync.Map // reason -> *namedCounter
}

func dirIndex(direction string) int {
	if direction == DirNewToOld {
		return 1
	}
	return 0
}

// shadowEndpoint holds one endpoint's series and statsd names, so that
// recording a pair builds no strings.
type shadowEndpoint struct {
	label    string   // the endpoint label value
	pairs    sync.Map // outcome -> *namedCounter
	duration prometheus.Observer
	delta    prometheus.Observer
	token    string // statsd segment of the endpoint
	durName  string
	dltName  string
}

type namedCounter struct {
	c    prometheus.Counter
	name string // statsd name
}

// Pair counts one request's shadow outcome in a direction on an endpoint
// template. Outcome must come from the closed set of package compare.
func (s *Shadow) Pair(direction, endpoint, outcome string) {
	if s == nil {
		return
	}
	d := s.dirs[dirIndex(direction)]
	nc := d.endpoint(s, endpoint).counter(s, d, outcome)
	nc.c.Inc()
	s.win.record(s.m.win, outcome)
	s.m.mirror(event{kind: kindNamedCount, label: nc.name})
}

// Latency records a mirrored request's latencies: the mirrored side's, and
// its difference from the serving side's.
func (s *Shadow) Latency(direction, endpoint string, mirrored, primary time.Duration) {
	if s == nil {
		return
	}
	e := s.dirs[dirIndex(direction)].endpoint(s, endpoint)
	delta := mirrored - primary
	e.duration.Observe(mirrored.Seconds())
	e.delta.Observe(delta.Seconds())
	s.m.mirror(event{kind: kindNamedTiming, label: e.durName, dur: mirrored})
	s.m.mirror(event{kind: kindNamedTiming, label: e.dltName, dur: delta})
}

// QueueDepth records how many mirrors wait for a worker.
func (s *Shadow) QueueDepth(n int) {
	if s == nil {
		return
	}
	s.queue.Set(float64(n))
	s.m.mirror(event{kind: kindNamedGauge, label: token(s.app) + ".shadow.queue_depth", value: int64(n)})
}

// Dropped counts a mirror in a direction given up without a comparison;
// reason is one of DropQueueFull, DropTallyFull, DropShutdown.
func (s *Shadow) Dropped(direction, reason string) {
	if s == nil {
		return
	}
	d := s.dirs[dirIndex(direction)]
	nc, ok := d.dropped.Load(reason)
	if !ok {
		nc, _ = d.dropped.LoadOrStore(reason, &namedCounter{
			c:    s.m.shadow.dropped.WithLabelValues(s.app, d.label, reason),
			name: d.base + ".dropped." + token(reason),
		})
	}
	c := nc.(*namedCounter)
	c.c.Inc()
	s.m.mirror(event{kind: kindNamedCount, label: c.name})
}

// NotSampled counts a request of a direction left out by the sample rate.
func (s *Shadow) NotSampled(direction string) {
	if s == nil {
		return
	}
	d := s.dirs[dirIndex(direction)]
	d.notSampled.Inc()
	s.m.mirror(event{kind: kindNamedCount, label: d.base + ".not_sampled"})
}

// endpoint returns the series of an endpoint, or of OtherEndpoint once the
// direction has MaxShadowEndpoints of them.
func (d *shadowDir) endpoint(s *Shadow, name string) *shadowEndpoint {
	if name == "" {
		name = OtherEndpoint
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if e := d.endpoints[name]; e != nil {
		return e
	}
	if len(d.endpoints) >= MaxShadowEndpoints {
		name = OtherEndpoint
		if e := d.endpoints[name]; e != nil {
			return e
		}
	}
	v := s.m.shadow
	tok := endpointToken(name)
	e := &shadowEndpoint{
		label:    name,
		duration: v.duration.WithLabelValues(s.app, d.label, name),
		delta:    v.delta.WithLabelValues(s.app, d.label, name),
		token:    tok,
		durName:  d.base + ".mirror_duration." + tok,
		dltName:  d.base + ".latency_delta." + tok,
	}
	d.endpoints[name] = e
	return e
}

func (e *shadowEndpoint) counter(s *Shadow, d *shadowDir, outcome string) *namedCounter {
	if nc, ok := e.pairs.Load(outcome); ok {
		return nc.(*namedCounter)
	}
	nc, _ := e.pairs.LoadOrStore(outcome, &namedCounter{
		c:    s.m.shadow.pairs.WithLabelValues(s.app, d.label, e.label, outcome),
		name: d.base + ".pairs." + e.token + "." + token(outcome),
	})
	return nc.(*namedCounter)
}

// endpointToken makes an endpoint template one statsd segment:
// "/users/:id" becomes "users_id" and "/" becomes "root".
func endpointToken(endpoint string) string {
	if strings.Trim(endpoint, "/") == "" {
		return "root"
	}
	return token(endpoint)
}
