package telemetry

// Log-derived series (see logship.Derived): what the shipped logs of each
// side say, counted once per event id:
//
//	migrate_logs_requests_total{app,side,code_class}    access records by status class
//	migrate_logs_request_duration_seconds{app,side}     request durations the access records carry
//	migrate_logs_lines_total{app,side,level}            lines without a status (application logs), by level
//	migrate_logs_duplicates_total{app,side}             events not counted again: their id was already counted
//	migrate_logs_window_skipped_total{app,side,reason}  events counted here but kept out of the rollback windows: too_old, future
//
// and in statsd, under prefix.app.side.logs: requests.<class> (2xx...),
// lines.<level>, duplicates, window_skipped.<reason> (counters) and
// request_duration (timing).
//
// Levels are mapped onto the bounded set of LogLevels.

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons for migrate_logs_window_skipped_total.
const (
	LogSkipTooOld = "too_old" // the event time is older than the windows keep
	LogSkipFuture = "future"  // the event time is too far ahead of the clock
)

// LogLevels are the level label values of migrate_logs_lines_total; a
// level outside the set counts as "other", a line without one as "none".
var LogLevels = []string{"trace", "debug", "info", "warn", "error", "fatal", "other", "none"}

// logVecs are the log-derived series of a Metrics and its recorders.
type logVecs struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	lines    *prometheus.CounterVec
	dups     *prometheus.CounterVec
	skipped  *prometheus.CounterVec

	mu    sync.Mutex
	sides map[sideKey]*LogSide
}

func newLogVecs() *logVecs {
	side := []string{"app", "side"}
	return &logVecs{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "migrate_logs_requests_total",
			Help: "Access log records shipped from an app's side, by status class, each event id counted once.",
		}, []string{"app", "side", "code_class"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "migrate_logs_request_duration_seconds",
			Help:    "Request durations carried by the access log records of an app's side.",
			Buckets: DurationBuckets,
		}, side),
		lines: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "migrate_logs_lines_total",
			Help: "Shipped log lines without a status (application logs), by level.",
		}, []string{"app", "side", "level"}),
		dups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "migrate_logs_duplicates_total",
			Help: "Shipped log events not counted again because their id already was.",
		}, side),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "migrate_logs_window_skipped_total",
			Help: "Shipped log events kept out of the rollback windows, by reason (too_old, future).",
		}, []string{"app", "side", "reason"}),
		sides: make(map[sideKey]*LogSide),
	}
}

func (v *logVecs) collectors() []prometheus.Collector {
	return []prometheus.Collector{v.requests, v.duration, v.lines, v.dups, v.skipped}
}

// Logs returns the recorder of the log-derived series of one app's side.
// It is cached; a nil Metrics gives a nil recorder, which records nothing.
func (m *Metrics) Logs(app, side string) *LogSide {
	if m == nil {
		return nil
	}
	v := m.logs
	v.mu.Lock()
	defer v.mu.Unlock()
	k := sideKey{app, side}
	if s := v.sides[k]; s != nil {
		return s
	}
	base := token(app) + "." + token(side) + ".logs"
	s := &LogSide{
		m: m, base: base,
		duration: v.duration.WithLabelValues(app, side),
		lines:    v.lines.MustCurryWith(prometheus.Labels{"app": app, "side": side}),
		dups:     v.dups.WithLabelValues(app, side),
		skipped:  v.skipped.MustCurryWith(prometheus.Labels{"app": app, "side": side}),
	}
	for i := range s.byClass {
		s.byClass[i] = v.requests.WithLabelValues(app, side, strconv.Itoa(i+1)+"xx")
		s.classNames[i] = base + ".requests." + strconv.Itoa(i+1) + "xx"
	}
	v.sides[k] = s
	return s
}

// LogSide records the log-derived series of one app's side. Its methods
// are safe for concurrent use.
type LogSide struct {
	m          *Metrics
	base       string // statsd: app.side.logs
	classNames [5]string
	byClass    [5]prometheus.Counter
	duration   prometheus.Observer
	lines      *prometheus.CounterVec
	dups       prometheus.Counter
	skipped    *prometheus.CounterVec
}

// Request counts one access record; d is observed when hasDuration.
func (s *LogSide) Request(code int, d time.Duration, hasDuration bool) {
	if s == nil {
		return
	}
	if c := code/100 - 1; c >= 0 && c < len(s.byClass) {
		s.byClass[c].Inc()
		s.m.mirror(event{kind: kindNamedCount, label: s.classNames[c]})
	}
	if hasDuration {
		s.duration.Observe(d.Seconds())
		s.m.mirror(event{kind: kindNamedTiming, label: s.base + ".request_duration", dur: d})
	}
}

// Line counts one line without a status, by its level.
func (s *LogSide) Line(level string) {
	if s == nil {
		return
	}
	l := LogLevel(level)
	s.lines.WithLabelValues(l).Inc()
	s.mirror(".lines." + l)
}

// Duplicate counts an event whose id was already counted.
func (s *LogSide) Duplicate() {
	if s != nil {
		s.dups.Inc()
		s.mirror(".duplicates")
	}
}

// Skipped counts an event kept out of the windows; reason is LogSkipTooOld
// or LogSkipFuture.
func (s *LogSide) Skipped(reason string) {
	if s != nil {
		s.skipped.WithLabelValues(reason).Inc()
		s.mirror(".window_skipped." + token(reason))
	}
}

// mirror counts one of suffix in statsd; the name is built only when
// statsd is on.
func (s *LogSide) mirror(suffix string) {
	if s.m.statsd != nil {
		s.m.mirror(event{kind: kindNamedCount, label: s.base + suffix})
	}
}

// LogLevel maps a level as logged ("WARNING", "err", "I") onto LogLevels.
func LogLevel(level string) string {
	switch strings.ToLower(strings.TrimSpace(level)) {
	case "":
		return "none"
	case "trace", "t":
		return "trace"
	case "debug", "dbug", "d":
		return "debug"
	case "info", "information", "notice", "i":
		return "info"
	case "warn", "warning", "w":
		return "warn"
	case "error", "err", "e":
		return "error"
	case "fatal", "critical", "crit", "panic", "emerg", "alert", "f":
		return "fatal"
	}
	return "other"
}

// LatencyBucket is the index of d among DurationBuckets, len(DurationBuckets)
// for the +Inf bucket: how LatencyQuantile expects counts.
func LatencyBucket(d time.Duration) int {
	return latencyIndex(durationLimits, d)
}

// LatencyQuantile estimates the q-quantile of per-bucket latency counts
// (len(DurationBuckets)+1 of them, see LatencyBucket) as Window does.
func LatencyQuantile(q float64, counts []uint64) time.Duration {
	var total uint64
	for _, n := range counts {
		total += n
	}
	return latencyQuantile(q, DurationBuckets, counts, total)
}

var durationLimits = func() []time.Duration {
	out := make([]time.Duration, len(DurationBuckets))
	for i, b := range DurationBuckets {
		out[i] = time.Duration(b * float64(time.Second))
	}
	return out
}()
