package telemetry

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// recordLogs records one of each log-derived series, for the lint test.
func recordLogs(m *Metrics) {
	s := m.Logs("bobbarker", SideOld)
	s.Request(503, 20*time.Millisecond, true)
	s.Line("WARNING")
	s.Duplicate()
	s.Skipped(LogSkipTooOld)
}

func TestLogSide(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	s := m.Logs("shop", SideNew)
	if m.Logs("shop", SideNew) != s {
		t.Error("Logs returned a new recorder for the same side")
	}
	s.Request(200, 10*time.Millisecond, true)
	s.Request(502, 0, false)
	s.Request(504, time.Second, true)
	s.Line("ERR")
	s.Line("")
	s.Line("chatty")
	tests := []struct {
		name   string
		series string
		labels map[string]string
		want   float64
	}{
		{"2xx", "migrate_logs_requests_total", map[string]string{"app": "shop", "side": "new", "code_class": "2xx"}, 1},
		{"5xx", "migrate_logs_requests_total", map[string]string{"app": "shop", "side": "new", "code_class": "5xx"}, 2},
		{"error level", "migrate_logs_lines_total", map[string]string{"app": "shop", "side": "new", "level": "error"}, 1},
		{"no level", "migrate_logs_lines_total", map[string]string{"app": "shop", "side": "new", "level": "none"}, 1},
		{"unknown level", "migrate_logs_lines_total", map[string]string{"app": "shop", "side": "new", "level": "other"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Read(reg, tt.series, tt.labels)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("%s%v = %v, want %v", tt.series, tt.labels, got, tt.want)
			}
		})
	}
	if got, want := testutil.CollectAndCount(m.logs.duration), 1; got != want {
		t.Errorf("duration series = %d, want %d", got, want)
	}
	var nilSide *LogSide
	nilSide.Request(200, 0, true) // must not panic
}

func TestLatencyQuantile(t *testing.T) {
	counts := make([]uint64, len(DurationBuckets)+1)
	for range 99 {
		counts[LatencyBucket(3*time.Millisecond)]++
	}
	counts[LatencyBucket(time.Minute)]++
	got := []time.Duration{LatencyQuantile(0.5, counts), LatencyQuantile(0.99, counts)}
	want := []time.Duration{3762626 * time.Nanosecond, 5 * time.Millisecond} // interpolated in (2.5ms, 5ms]
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("quantiles (-got +want):\n%s", diff)
	}
}

func TestLogSideStatsdLines(t *testing.T) {
	srv := newStatsdServer(t)
	m, err := NewWithOptions(nil, Options{Statsd: srv.addr()})
	if err != nil {
		t.Fatal(err)
	}
	s := m.Logs("bobbarker", SideNew)
	s.Request(503, 40*time.Millisecond, true)
	s.Request(200, 0, false)
	s.Request(201, 0, false)
	s.Line("Warning")
	s.Duplicate()
	s.Skipped(LogSkipFuture)
	stop := runMirror(t, m)
	stop()
	want := []string{ // sorted
		"migrate.bobbarker.new.logs.duplicates:1|c",
		"migrate.bobbarker.new.logs.lines.warn:1|c",
		"migrate.bobbarker.new.logs.request_duration:40|ms",
		"migrate.bobbarker.new.logs.requests.2xx:2|c",
		"migrate.bobbarker.new.logs.requests.5xx:1|c",
		"migrate.bobbarker.new.logs.window_skipped.future:1|c",
	}
	pkts := srv.packets(len(want), 5*time.Second)
	if diff := cmp.Diff(linesOf(pkts), want); diff != "" {
		t.Errorf("lines mismatch (-got +want):\n%s", diff)
	}
}
