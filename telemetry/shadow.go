package telemetry

// Shadow traffic metrics (see package shadow):
//
//	migrate_shadow_pairs_total{app,endpoint,outcome}      mirrored requests by compare outcome, and served-only ones (skipped_*, too_large, dropped)
//	migrate_shadow_mirror_duration_seconds{app,endpoint}  latency of the mirrored side's answer
//	migrate_shadow_latency_delta_seconds{app,endpoint}    mirrored side's latency minus the serving side's
//	migrate_shadow_queue_depth{app}                       mirrors waiting for a worker
//	migrate_shadow_dropped_total{app,reason}              mirrors given up: queue_full, tally_full, shutdown
//	migrate_shadow_not_sampled_total{app}                 requests left out by shadow.sample
//
// and in statsd, under prefix.app.shadow:
//
//	pairs.<endpoint>.<outcome>   counter
//	mirror_duration.<endpoint>   timing, ms
//	latency_delta.<endpoint>     timing, ms, negative when the mirrored side was faster
//	queue_depth                  gauge
//	dropped.<reason>             counter
//	not_sampled                  counter
//
// Endpoints are templates from the compare engine, already bounded; Shadow
// bounds them again (MaxShadowEndpoints per app, the rest count as
// "other") so that no caller can grow the series without limit.

import (
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// MaxShadowEndpoints bounds the distinct endpoint label values per app;
// further endpoints are recorded as OtherEndpoint.
const MaxShadowEndpoints = 500

// OtherEndpoint is the endpoint label of everything past the bound, and of
// requests no template names.
const OtherEndpoint = "other"

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

	mu   sync.Mutex
	apps map[string]*Shadow
}

func newShadowVecs() *shadowVecs {
	return &shadowVecs{
		pairs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "migrate_shadow_pairs_total",
			Help: "Sampled requests of an app by shadow outcome: compared (match, diff, noise, shadow_error, shadow_timeout) or served only.",
		}, []string{"app", "endpoint", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "migrate_shadow_mirror_duration_seconds",
			Help:    "Time the mirrored side took to answer a mirrored request, body included.",
			Buckets: DurationBuckets,
		}, []string{"app", "endpoint"}),
		delta: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "migrate_shadow_latency_delta_seconds",
			Help:    "Latency of the mirrored side minus latency of the serving side, per mirrored request.",
			Buckets: DeltaBuckets,
		}, []string{"app", "endpoint"}),
		queue: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "migrate_shadow_queue_depth",
			Help: "Mirrored requests waiting for a shadow worker.",
		}, []string{"app"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "migrate_shadow_dropped_total",
			Help: "Mirrors given up without a comparison, by reason (queue_full, tally_full, shutdown).",
		}, []string{"app", "reason"}),
		notSampled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "migrate_shadow_not_sampled_total",
			Help: "Requests of the serving side left out of mirroring by shadow.sample.",
		}, []string{"app"}),
		apps: make(map[string]*Shadow),
	}
}

func (v *shadowVecs) collectors() []prometheus.Collector {
	return []prometheus.Collector{v.pairs, v.duration, v.delta, v.queue, v.dropped, v.notSampled}
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
		m:          m,
		app:        app,
		base:       token(app) + ".shadow",
		queue:      v.queue.WithLabelValues(app),
		notSampled: v.notSampled.WithLabelValues(app),
		endpoints:  make(map[string]*shadowEndpoint),
		win:        newPairWindow(m.win),
	}
	v.apps[app] = s
	return s
}

// Shadow records one app's shadow traffic. Its methods are safe for
// concurrent use; NotSampled and Dropped are cheap enough for the request
// path (one atomic add and a non-blocking statsd hand-off), the others run
// off it. A nil *Shadow records nothing.
type Shadow struct {
	m          *Metrics
	app        string
	base       string // statsd: app.shadow
	queue      prometheus.Gauge
	notSampled prometheus.Counter

	mu        sync.Mutex
	endpoints map[string]*shadowEndpoint
	dropped   sync.Map // reason -> prometheus.Counter

	// win counts compared pairs and diffs per second (window.go).
	win pairWindow
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

// Pair counts one request's shadow outcome on an endpoint template.
// Outcome must come from the closed set of package compare.
func (s *Shadow) Pair(endpoint, outcome string) {
	if s == nil {
		return
	}
	nc := s.endpoint(endpoint).counter(s, outcome)
	nc.c.Inc()
	s.win.record(s.m.win, outcome)
	s.m.mirror(event{kind: kindNamedCount, label: nc.name})
}

// Latency records a mirrored request's latencies: the mirrored side's, and
// its difference from the serving side's.
func (s *Shadow) Latency(endpoint string, mirrored, primary time.Duration) {
	if s == nil {
		return
	}
	e := s.endpoint(endpoint)
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
	s.m.mirror(event{kind: kindNamedGauge, label: s.base + ".queue_depth", value: int64(n)})
}

// Dropped counts a mirror given up without a comparison; reason is one of
// DropQueueFull, DropTallyFull, DropShutdown.
func (s *Shadow) Dropped(reason string) {
	if s == nil {
		return
	}
	nc, ok := s.dropped.Load(reason)
	if !ok {
		nc, _ = s.dropped.LoadOrStore(reason, &namedCounter{
			c:    s.m.shadow.dropped.WithLabelValues(s.app, reason),
			name: s.base + ".dropped." + token(reason),
		})
	}
	c := nc.(*namedCounter)
	c.c.Inc()
	s.m.mirror(event{kind: kindNamedCount, label: c.name})
}

// NotSampled counts a request left out by the sample rate.
func (s *Shadow) NotSampled() {
	if s == nil {
		return
	}
	s.notSampled.Inc()
	s.m.mirror(event{kind: kindNamedCount, label: s.base + ".not_sampled"})
}

// endpoint returns the series of an endpoint, or of OtherEndpoint once the
// app has MaxShadowEndpoints of them.
func (s *Shadow) endpoint(name string) *shadowEndpoint {
	if name == "" {
		name = OtherEndpoint
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.endpoints[name]; e != nil {
		return e
	}
	if len(s.endpoints) >= MaxShadowEndpoints {
		name = OtherEndpoint
		if e := s.endpoints[name]; e != nil {
			return e
		}
	}
	v := s.m.shadow
	tok := endpointToken(name)
	e := &shadowEndpoint{
		label:    name,
		duration: v.duration.WithLabelValues(s.app, name),
		delta:    v.delta.WithLabelValues(s.app, name),
		token:    tok,
		durName:  s.base + ".mirror_duration." + tok,
		dltName:  s.base + ".latency_delta." + tok,
	}
	s.endpoints[name] = e
	return e
}

func (e *shadowEndpoint) counter(s *Shadow, outcome string) *namedCounter {
	if nc, ok := e.pairs.Load(outcome); ok {
		return nc.(*namedCounter)
	}
	nc, _ := e.pairs.LoadOrStore(outcome, &namedCounter{
		c:    s.m.shadow.pairs.WithLabelValues(s.app, e.label, outcome),
		name: s.base + ".pairs." + e.token + "." + token(outcome),
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
