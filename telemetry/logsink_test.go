package telemetry

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// recordLogSink records one value of each log sink series, for the lint
// test.
func recordLogSink(m *Metrics) {
	s := m.LogSink("bobbarker", SideOld)
	s.Batch(10, 1, 20*time.Millisecond)
	s.Retry(SinkRetryRateLimited)
}

func TestLogSinkSeries(t *testing.T) {
	m, err := New(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	s := m.LogSink("web", SideNew)
	if m.LogSink("web", SideNew) != s {
		t.Errorf("LogSink(web, new) is not cached")
	}
	s.Batch(1000, 0, 10*time.Millisecond)
	s.Batch(998, 2, 3*time.Second)
	s.Retry(SinkRetryUnavailable)
	s.Retry(SinkRetryUnavailable)
	s.Retry(SinkRetryPartial)
	v := m.logSink
	tests := []struct {
		name string
		got  float64
		want float64
	}{
		{"batches", testutil.ToFloat64(v.batches.WithLabelValues("web", SideNew)), 2},
		{"events", testutil.ToFloat64(v.events.WithLabelValues("web", SideNew)), 1998},
		{"dead lettered", testutil.ToFloat64(v.dead.WithLabelValues("web", SideNew)), 2},
		{"retries unavailable", testutil.ToFloat64(v.retries.WithLabelValues("web", SideNew, SinkRetryUnavailable)), 2},
		{"retries partial", testutil.ToFloat64(v.retries.WithLabelValues("web", SideNew, SinkRetryPartial)), 1},
		{"other side untouched", testutil.ToFloat64(v.batches.WithLabelValues("web", SideOld)), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
	t.Run("duration histogram", func(t *testing.T) {
		h := histogramOf(v.duration.WithLabelValues("web", SideNew))
		if got, want := h.GetSampleCount(), uint64(2); got != want {
			t.Errorf("count: got %d, want %d", got, want)
		}
		if got, want := h.GetSampleSum(), 3.01; got > want+1e-9 || got < want-1e-9 {
			t.Errorf("sum: got %v, want %v", got, want)
		}
	})
}

func TestLogSinkNil(t *testing.T) {
	var m *Metrics
	s := m.LogSink("web", SideOld)
	if s != nil {
		t.Fatalf("nil Metrics: LogSink() = %v, want nil", s)
	}
	s.Batch(1, 1, time.Second) // must not panic
	s.Retry(SinkRetryNetwork)
}

func TestLogSinkStatsdLines(t *testing.T) {
	srv := newStatsdServer(t)
	m, err := NewWithOptions(nil, Options{Statsd: srv.addr()})
	if err != nil {
		t.Fatal(err)
	}
	s := m.LogSink("bobbarker", SideOld)
	s.Batch(1000, 0, 250*time.Millisecond)
	s.Batch(5, 3, 2*time.Millisecond)
	s.Retry(SinkRetryRateLimited)
	stop := runMirror(t, m)
	stop()
	want := []string{ // sorted
		"migrate.bobbarker.old.logship_sink.batches:2|c",
		"migrate.bobbarker.old.logship_sink.dead_lettered:3|c",
		"migrate.bobbarker.old.logship_sink.events:1005|c",
		"migrate.bobbarker.old.logship_sink.retries.rate_limited:1|c",
		"migrate.bobbarker.old.logship_sink.send_duration:250|ms",
		"migrate.bobbarker.old.logship_sink.send_duration:2|ms",
	}
	pkts := srv.packets(len(want), 5*time.Second)
	if diff := cmp.Diff(linesOf(pkts), want); diff != "" {
		t.Errorf("lines mismatch (-got +want):\n%s", diff)
	}
}
