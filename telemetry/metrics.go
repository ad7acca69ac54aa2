// Package telemetry defines migrate's metrics, registers them on a
// Prometheus registry passed in by main, and mirrors them to statsd.
//
// It emits, per app and side (old, new):
//
//	migrate_proxy_requests_total{app,side,code_class}
//	migrate_proxy_request_duration_seconds{app,side}
//	migrate_proxy_errors_total{app,side,reason}      errors the proxy itself answered
//	migrate_proxy_retries_total{app,side}
//	migrate_proxy_failovers_total{app,side}           requests of side sent to the other side
//	migrate_backend_up{app,side,backend}
//	migrate_backend_ejections_total{app,side,backend}
//	migrate_cutover_weight{app}
//
// per listener of the proxy (its listen address in the manifest), the
// requests its rules refused, by the status they were answered with (400,
// 405, 408, 421, 431, 501, 505; see refused.go):
//
//	migrate_proxy_refused_total{listen,status}
//
// per app and endpoint template, the shadow traffic series listed in
// shadow.go (migrate_shadow_*), and about itself:
//
//	migrate_telemetry_statsd_dropped_total            values not mirrored because the statsd queue was full
//	migrate_telemetry_statsd_send_errors_total        statsd packets that failed to send
//
// Labels come from bounded sets only: app and backend names and listen
// addresses from the manifest, side, code class, the refusals' statuses
// and fixed reasons. A nil *Metrics and the nil *Side (or *Refused) it
// hands out are valid and record nothing.
//
// With a statsd address (see NewWithOptions), every recorded value is also
// sent to statsd as prefix.app.side.name; see statsd.go for the names and for
// why the mirror never blocks the request path. Snapshot reads one side's
// request numbers back for the admin API and status; Window and
// ShadowWindow read the last seconds of a side and of an app's shadow
// comparisons for the rollback analysis (see window.go).
package telemetry

import (
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The two sides of an app.
const (
	SideOld = "old"
	SideNew = "new"
)

// Metrics holds every series migrate exports.
type Metrics struct {
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	errors    *prometheus.CounterVec
	retries   *prometheus.CounterVec
	failovers *prometheus.CounterVec
	backendUp *prometheus.GaugeVec
	ejections *prometheus.CounterVec
	weight    *prometheus.GaugeVec

	statsdDropped prometheus.Counter
	statsdErrors  prometheus.Counter

	// shadow are the migrate_shadow_* series (shadow.go).
	shadow *shadowVecs
	// logSink are the migrate_logship_sink_* series (logsink.go).
	logSink *logSinkVecs
	logs    *logVecs     // the migrate_logs_* series (logs.go)
	logship *logshipVecs // the shipper's migrate_logship_* series (logship.go)

	// fallback are the migrate_fallback_* series (fallback.go).
	fallback *fallbackVecs
	dns      *dnsVecs // the migrate_dns_* series (dns.go)
	// refused is migrate_proxy_refused_total, per listener (refused.go).
	refused *refusedVecs

	// statsd is the mirror; nil when statsd is off.
	statsd *mirror

	// win is the clock of the sliding windows (window.go).
	win *windowClock

	mu    sync.Mutex
	sides map[sideKey]*Side
}

type sideKey struct{ app, side string }

// DurationBuckets are the latency histogram buckets, in seconds.
var DurationBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// New creates the metrics and registers them on reg (nil: not registered).
// It does not mirror to statsd; see NewWithOptions.
func New(reg prometheus.Registerer) (*Metrics, error) {
	return NewWithOptions(reg, Options{})
}

// NewWithOptions creates the metrics, registers them on reg (nil: not
// registered) and, when opts.Statsd is set, prepares the statsd mirror. The
// mirror sends nothing until Run is called.
func NewWithOptions(reg prometheus.Registerer, opts Options) (*Metrics, error) {
	m := newMetrics()
	m.fallback = newFallbackVecs()
	m.dns = newDNSVecs()
	m.win = newWindowClock(opts.Clock, opts.WindowMax)
	if opts.Statsd != "" {
		mr, err := newMirror(opts)
		if err != nil {
			return nil, err
		}
		m.statsd = mr
	}
	if reg != nil {
		for _, c := range m.collectors() {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

func newMetrics() *Metrics {
	return &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "migrate_proxy_requests_total",
			Help: "Requests answered for an app's side, by status class.",
		}, []string{"app", "side", "code_class"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "migrate_proxy_request_duration_seconds",
			Help:    "Time from receiving a request to the end of its response, per app and side.",
			Buckets: DurationBuckets,
		}, []string{"app", "side"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "migrate_proxy_errors_total",
			Help: "Requests the proxy answered with an error of its own, by reason.",
		}, []string{"app", "side", "reason"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "migrate_proxy_retries_total",
			Help: "Requests retried on another backend of the same side after a connection failure.",
		}, []string{"app", "side"}),
		failovers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "migrate_proxy_failovers_total",
			Help: "Requests for a side whose pool was down, sent to the other side.",
		}, []string{"app", "side"}),
		backendUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "migrate_backend_up",
			Help: "Whether a backend is in rotation (1) or ejected (0).",
		}, []string{"app", "side", "backend"}),
		ejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "migrate_backend_ejections_total",
			Help: "Times a backend was taken out of rotation by a health check or passive ejection.",
		}, []string{"app", "side", "backend"}),
		weight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "migrate_cutover_weight",
			Help: "Share of clients (0-100) sent to the new side.",
		}, []string{"app"}),
		statsdDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "migrate_telemetry_statsd_dropped_total",
			Help: "Values not mirrored to statsd because its queue was full.",
		}),
		statsdErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "migrate_telemetry_statsd_send_errors_total",
			Help: "Packets that could not be sent to statsd.",
		}),
		shadow:  newShadowVecs(),
		logSink: newLogSinkVecs(),
		logs:    newLogVecs(),
		logship: newLogshipVecs(),
		refused: newRefusedVecs(),
		sides:   make(map[sideKey]*Side),
	}
}

func (m *Metrics) collectors() []prometheus.Collector {
	return slices.Concat([]prometheus.Collector{
		m.requests, m.duration, m.errors, m.retries, m.failovers, m.backendUp, m.ejections, m.weight,
		m.statsdDropped, m.statsdErrors,
	}, m.shadow.collectors(), m.logSink.collectors(), m.logs.collectors(), m.logship.collectors(), m.fallback.collectors(), m.dns.collectors(), m.refused.collectors())
}

// Side returns the recorder for one app's side. It is cached: call it once
// per pool, not per request.
func (m *Metrics) Side(app, side string) *Side {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := sideKey{app, side}
	if s := m.sides[k]; s != nil {
		return s
	}
	s := &Side{m: m, app: app, side: side, duration: m.duration.WithLabelValues(app, side), win: newSideWindow(m.win)}
	for i := range s.byClass {
		s.byClass[i] = m.requests.WithLabelValues(app, side, strconv.Itoa(i+1)+"xx")
	}
	if m.statsd != nil {
		s.names = newSideNames(app, side)
	}
	m.sides[k] = s
	return s
}

// SetWeight records an app's current weight.
func (m *Metrics) SetWeight(app string, w int) {
	if m == nil {
		return
	}
	m.weight.WithLabelValues(app).Set(float64(w))
	m.mirror(event{kind: kindWeight, label: app, value: int64(w)})
}

// Side records the requests of one app's side. Its methods are safe for
// concurrent use and cheap enough for the request path.
type Side struct {
	m         *Metrics
	app, side string
	byClass   [5]prometheus.Counter
	duration  prometheus.Observer
	// names are the side's statsd names; nil when statsd is off.
	names *sideNames
	// win is the sliding window of recent requests (window.go).
	win sideWindow
}

// Request records one answered request.
func (s *Side) Request(code int, d time.Duration) {
	if s == nil {
		return
	}
	if c := code/100 - 1; c >= 0 && c < len(s.byClass) {
		s.byClass[c].Inc()
	}
	s.duration.Observe(d.Seconds())
	s.win.record(s.m.win, code, d)
	s.m.mirror(event{kind: kindRequest, side: s, value: int64(code), dur: d})
}

// ProxyError counts an error the proxy answered itself. Reason must come from
// a fixed set (unavailable, timeout, no_backend, ...).
func (s *Side) ProxyError(reason string) {
	if s == nil {
		return
	}
	s.m.errors.WithLabelValues(s.app, s.side, reason).Inc()
	s.m.mirror(event{kind: kindProxyError, side: s, label: reason})
}

// Retry counts a retry on another backend.
func (s *Side) Retry() {
	if s == nil {
		return
	}
	s.m.retries.WithLabelValues(s.app, s.side).Inc()
	s.m.mirror(event{kind: kindRetry, side: s})
}

// Failover counts a request of this side sent to the other side.
func (s *Side) Failover() {
	if s == nil {
		return
	}
	s.m.failovers.WithLabelValues(s.app, s.side).Inc()
	s.m.mirror(event{kind: kindFailover, side: s})
}

// BackendUp records whether backend is in rotation.
func (s *Side) BackendUp(backend string, up bool) {
	if s == nil {
		return
	}
	v := 0.0
	if up {
		v = 1
	}
	s.m.backendUp.WithLabelValues(s.app, s.side, backend).Set(v)
	s.m.mirror(event{kind: kindBackendUp, side: s, label: backend, value: int64(v)})
}

// ForgetBackend drops the series of a backend removed from its pool, so
// that it stops being reported (as down) after it is gone.
func (s *Side) ForgetBackend(backend string) {
	if s == nil {
		return
	}
	s.m.backendUp.DeleteLabelValues(s.app, s.side, backend)
	s.m.ejections.DeleteLabelValues(s.app, s.side, backend)
}

// Ejection counts backend being taken out of rotation.
func (s *Side) Ejection(backend string) {
	if s == nil {
		return
	}
	s.m.ejections.WithLabelValues(s.app, s.side, backend).Inc()
	s.m.mirror(event{kind: kindEjection, side: s, label: backend})
}
