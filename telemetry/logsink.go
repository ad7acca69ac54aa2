package telemetry

// Log sink metrics (see logship.NewSink), per app and side of the shipper:
//
//	migrate_logship_sink_batches_total{app,side}             batches acknowledged (every event delivered or dead-lettered)
//	migrate_logship_sink_events_total{app,side}              events the receiver accepted
//	migrate_logship_sink_dead_lettered_total{app,side}       events refused for good and written to the dead-letter file
//	migrate_logship_sink_retries_total{app,side,reason}      attempts that failed and were tried again, by reason
//	migrate_logship_sink_send_duration_seconds{app,side}     time from a batch's first attempt to its acknowledgement
//
// and in statsd, under prefix.app.side.logship_sink: batches, events,
// dead_lettered, retries.<reason> (counters) and send_duration (timing).
//
// Retry reasons come from the fixed set below.

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons for migrate_logship_sink_retries_total.
const (
	SinkRetryRateLimited = "rate_limited" // 429
	SinkRetryUnavailable = "unavailable"  // 5xx, 408
	SinkRetryNetwork     = "network"      // no answer: connection refused, timeout
	SinkRetryAuth        = "auth"         // 401, 403, 404: a configuration to fix, not data to drop
	SinkRetryPartial     = "partial"      // some items of a bulk answer asked to be sent again
	SinkRetryTooLarge    = "too_large"    // 413: the batch is split in halves
	SinkRetryOther       = "other"        // anything else (a local write error)
)

// SinkDurationBuckets are the buckets of the send duration, in seconds:
// from a fast local write to a batch retried for minutes.
var SinkDurationBuckets = []float64{.001, .005, .025, .1, .25, 1, 5, 30, 120, 600}

// logSinkVecs are the log sink series of a Metrics and its recorders.
type logSinkVecs struct {
	batches  *prometheus.CounterVec
	events   *prometheus.CounterVec
	dead     *prometheus.CounterVec
	retries  *prometheus.CounterVec
	duration *prometheus.HistogramVec

	mu    sync.Mutex
	sinks map[sideKey]*LogSink
}

func newLogSinkVecs() *logSinkVecs {
	side := []string{"app", "side"}
	return &logSinkVecs{
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "migrate_logship_sink_batches_total",
			Help: "Log batches acknowledged by the sink: every event delivered or dead-lettered.",
		}, side),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "migrate_logship_sink_events_total",
			Help: "Log events the sink's receiver accepted.",
		}, side),
		dead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "migrate_logship_sink_dead_lettered_total",
			Help: "Log events the receiver refused for good, written to the dead-letter file.",
		}, side),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "migrate_logship_sink_retries_total",
			Help: "Failed attempts to deliver log events that were tried again, by reason.",
		}, []string{"app", "side", "reason"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "migrate_logship_sink_send_duration_seconds",
			Help:    "Time from a log batch's first delivery attempt to its acknowledgement, retries included.",
			Buckets: SinkDurationBuckets,
		}, side),
		sinks: make(map[sideKey]*LogSink),
	}
}

func (v *logSinkVecs) collectors() []prometheus.Collector {
	return []prometheus.Collector{v.batches, v.events, v.dead, v.retries, v.duration}
}

// LogSink returns the recorder of the log sink shipping one app's side. It
// is cached: call it once per sink.
func (m *Metrics) LogSink(app, side string) *LogSink {
	if m == nil {
		return nil
	}
	v := m.logSink
	v.mu.Lock()
	defer v.mu.Unlock()
	k := sideKey{app, side}
	if s := v.sinks[k]; s != nil {
		return s
	}
	base := token(app) + "." + token(side) + ".logship_sink"
	s := &LogSink{
		m: m, app: app, side: side, base: base,
		batches:  v.batches.WithLabelValues(app, side),
		events:   v.events.WithLabelValues(app, side),
		dead:     v.dead.WithLabelValues(app, side),
		duration: v.duration.WithLabelValues(app, side),
	}
	v.sinks[k] = s
	return s
}

// LogSink records one log sink. Its methods are safe for concurrent use. A
// nil *LogSink records nothing.
type LogSink struct {
	m         *Metrics
	app, side string
	base      string // statsd: app.side.logship_sink
	batches   prometheus.Counter
	events    prometheus.Counter
	dead      prometheus.Counter
	duration  prometheus.Observer
	retries   sync.Map // reason -> *namedCounter
}

// Batch records an acknowledged batch: delivered events accepted,
// deadLettered written to the dead-letter file, d from its first attempt.
func (s *LogSink) Batch(delivered, deadLettered int, d time.Duration) {
	if s == nil {
		return
	}
	s.batches.Inc()
	s.events.Add(float64(delivered))
	s.dead.Add(float64(deadLettered))
	s.duration.Observe(d.Seconds())
	s.m.mirror(event{kind: kindNamedCount, label: s.base + ".batches"})
	s.m.mirror(event{kind: kindNamedTiming, label: s.base + ".send_duration", dur: d})
	s.count(".events", delivered)
	s.count(".dead_lettered", deadLettered)
}

// count mirrors an increment of n of a counter.
func (s *LogSink) count(suffix string, n int) {
	if n > 0 {
		s.m.mirror(event{kind: kindNamedCount, label: s.base + suffix, value: int64(n)})
	}
}

// Retry counts a failed attempt that will be tried again; reason is one of
// the SinkRetry* constants.
func (s *LogSink) Retry(reason string) {
	if s == nil {
		return
	}
	nc, ok := s.retries.Load(reason)
	if !ok {
		nc, _ = s.retries.LoadOrStore(reason, &namedCounter{
			c:    s.m.logSink.retries.WithLabelValues(s.app, s.side, reason),
			name: s.base + ".retries." + token(reason),
		})
	}
	c := nc.(*namedCounter)
	c.c.Inc()
	s.m.mirror(event{kind: kindNamedCount, label: c.name})
}
