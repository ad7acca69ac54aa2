package telemetry

// Log shipper metrics (see package logship), per app and side:
//
//	migrate_logship_lines_total{app,side}                lines read and shipped (each part of a split line counts)
//	migrate_logship_bytes_total{app,side}                bytes of those lines
//	migrate_logship_delivered_total{app,side}            events the sink acknowledged
//	migrate_logship_parse_errors_total{app,side,reason}  lines shipped raw, by parser reason
//	migrate_logship_split_lines_total{app,side}          lines longer than max_line, shipped in parts
//	migrate_logship_unterminated_total{app,side}         last lines shipped without their newline after flush_timeout
//	migrate_logship_rotations_total{app,side}            files renamed away or deleted while tailed
//	migrate_logship_truncations_total{app,side}          files truncated (copytruncate) or rewritten
//	migrate_logship_unreadable_files_total{app,side}     files the globs match that could not be opened
//	migrate_logship_checkpoint_lag_bytes{app,side}       bytes read but not yet acknowledged
//
// and in statsd, under prefix.app.side.logship: lines, bytes, delivered,
// parse_errors.<reason>, split_lines, unterminated, rotations,
// truncations, unreadable_files (counters), checkpoint_lag_bytes (gauge).
// Reasons come from the parsers' bounded set.

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// logshipVecs are the migrate_logship_* series of a Metrics.
type logshipVecs struct {
	lines, bytes, delivered, parseErrors, split, unterminated *prometheus.CounterVec
	rotations, truncations, unreadable                        *prometheus.CounterVec
	lag                                                       *prometheus.GaugeVec

	mu   sync.Mutex
	recs map[sideKey]*Logship
}

func newLogshipVecs() *logshipVecs {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "migrate_logship_" + name, Help: help},
			append([]string{"app", "side"}, labels...))
	}
	return &logshipVecs{
		lines:        counter("lines_total", "Lines read from a side's log files and shipped; each part of a split line counts."),
		bytes:        counter("bytes_total", "Bytes of the lines shipped."),
		delivered:    counter("delivered_total", "Events the sink acknowledged."),
		parseErrors:  counter("parse_errors_total", "Lines that did not parse, shipped raw, by reason.", "reason"),
		split:        counter("split_lines_total", "Lines longer than max_line, shipped in parts."),
		unterminated: counter("unterminated_total", "Last lines shipped without their newline after flush_timeout."),
		rotations:    counter("rotations_total", "Tailed files renamed away or deleted, drained before they were closed."),
		truncations:  counter("truncations_total", "Tailed files truncated or rewritten (copytruncate), read again from their start."),
		unreadable:   counter("unreadable_files_total", "Files matched by the globs that could not be opened."),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "migrate_logship_checkpoint_lag_bytes",
			Help: "Bytes read from the open files but not yet acknowledged by the sink.",
		}, []string{"app", "side"}),
		recs: make(map[sideKey]*Logship),
	}
}

func (v *logshipVecs) collectors() []prometheus.Collector {
	return []prometheus.Collector{v.lines, v.bytes, v.delivered, v.parseErrors, v.split, v.unterminated,
		v.rotations, v.truncations, v.unreadable, v.lag}
}

// Logship returns the recorder of the shipper of an app's side. It is
// cached: call it once per shipper.
func (m *Metrics) Logship(app, side string) *Logship {
	if m == nil {
		return nil
	}
	v := m.logship
	v.mu.Lock()
	defer v.mu.Unlock()
	k := sideKey{app, side}
	if l := v.recs[k]; l != nil {
		return l
	}
	l := &Logship{m: m, app: app, side: side, base: token(app) + "." + token(side) + ".logship."}
	l.lines = v.lines.WithLabelValues(app, side)
	l.bytes = v.bytes.WithLabelValues(app, side)
	l.delivered = v.delivered.WithLabelValues(app, side)
	l.split = v.split.WithLabelValues(app, side)
	l.unterminated = v.unterminated.WithLabelValues(app, side)
	l.rotations = v.rotations.WithLabelValues(app, side)
	l.truncations = v.truncations.WithLabelValues(app, side)
	l.unreadable = v.unreadable.WithLabelValues(app, side)
	l.lag = v.lag.WithLabelValues(app, side)
	v.recs[k] = l
	return l
}

// Logship records one shipper. Its methods are safe for concurrent use;
// a nil *Logship records nothing.
type Logship struct {
	m         *Metrics
	app, side string
	base      string // statsd: app.side.logship.

	lines, bytes, delivered, split, unterminated prometheus.Counter
	rotations, truncations, unreadable           prometheus.Counter
	lag                                          prometheus.Gauge
	parseErrors                                  sync.Map // reason -> prometheus.Counter
}

func (l *Logship) count(c prometheus.Counter, name string, n int) {
	c.Add(float64(n))
	l.m.mirror(event{kind: kindNamedCount, label: l.base + name, value: int64(n)})
}

// Lines counts shipped lines and their bytes (a shipper adds them up
// over a poll, not line by line).
func (l *Logship) Lines(lines, bytes int) {
	if l == nil || lines == 0 {
		return
	}
	l.count(l.lines, "lines", lines)
	l.count(l.bytes, "bytes", bytes)
}

// Delivered counts events the sink acknowledged.
func (l *Logship) Delivered(n int) {
	if l != nil {
		l.count(l.delivered, "delivered", n)
	}
}

// ParseError counts a line shipped raw; reason is Record.ParseError.
func (l *Logship) ParseError(reason string) {
	if l == nil {
		return
	}
	c, ok := l.parseErrors.Load(reason)
	if !ok {
		c, _ = l.parseErrors.LoadOrStore(reason, l.m.logship.parseErrors.WithLabelValues(l.app, l.side, reason))
	}
	l.count(c.(prometheus.Counter), "parse_errors."+token(reason), 1)
}

// SplitLine counts a line longer than max_line.
func (l *Logship) SplitLine() {
	if l != nil {
		l.count(l.split, "split_lines", 1)
	}
}

// Unterminated counts a last line shipped without its newline.
func (l *Logship) Unterminated() {
	if l != nil {
		l.count(l.unterminated, "unterminated", 1)
	}
}

// Rotation counts a tailed file renamed away or deleted.
func (l *Logship) Rotation() {
	if l != nil {
		l.count(l.rotations, "rotations", 1)
	}
}

// Truncation counts a tailed file truncated or rewritten.
func (l *Logship) Truncation() {
	if l != nil {
		l.count(l.truncations, "truncations", 1)
	}
}

// Unreadable counts a file that could not be opened.
func (l *Logship) Unreadable() {
	if l != nil {
		l.count(l.unreadable, "unreadable_files", 1)
	}
}

// CheckpointLag sets the bytes read but not yet acknowledged.
func (l *Logship) CheckpointLag(n int64) {
	if l == nil {
		return
	}
	l.lag.Set(float64(n))
	l.m.mirror(event{kind: kindNamedGauge, label: l.base + "checkpoint_lag_bytes", value: n})
}
