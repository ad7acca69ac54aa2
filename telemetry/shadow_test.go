package telemetry

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestShadowSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	sh := m.Shadow("web")
	if m.Shadow("web") != sh {
		t.Errorf("Shadow(web) is not cached")
	}
	sh.Pair("/users/:id", "match")
	sh.Pair("/users/:id", "match")
	sh.Pair("/users/:id", "diff")
	sh.Pair("", "skipped_unsafe")
	sh.Latency("/users/:id", 30*time.Millisecond, 10*time.Millisecond)
	sh.Latency("/users/:id", 10*time.Millisecond, 30*time.Millisecond)
	sh.QueueDepth(7)
	sh.Dropped(DropQueueFull)
	sh.Dropped(DropQueueFull)
	sh.Dropped(DropShutdown)
	sh.NotSampled()

	tests := []struct {
		name string
		got  float64
		want float64
	}{
		{"match", testutil.ToFloat64(m.shadow.pairs.WithLabelValues("web", "/users/:id", "match")), 2},
		{"diff", testutil.ToFloat64(m.shadow.pairs.WithLabelValues("web", "/users/:id", "diff")), 1},
		{"no endpoint is other", testutil.ToFloat64(m.shadow.pairs.WithLabelValues("web", OtherEndpoint, "skipped_unsafe")), 1},
		{"queue depth", testutil.ToFloat64(m.shadow.queue.WithLabelValues("web")), 7},
		{"dropped queue_full", testutil.ToFloat64(m.shadow.dropped.WithLabelValues("web", DropQueueFull)), 2},
		{"dropped shutdown", testutil.ToFloat64(m.shadow.dropped.WithLabelValues("web", DropShutdown)), 1},
		{"not sampled", testutil.ToFloat64(m.shadow.notSampled.WithLabelValues("web")), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
	t.Run("delta histogram", func(t *testing.T) {
		h := histogramOf(m.shadow.delta.WithLabelValues("web", "/users/:id"))
		if got, want := h.GetSampleCount(), uint64(2); got != want {
			t.Errorf("count: got %d, want %d", got, want)
		}
		if got, want := h.GetSampleSum(), 0.0; got > want+1e-9 || got < want-1e-9 {
			t.Errorf("sum: got %v, want %v (+20ms and -20ms)", got, want)
		}
	})
}

func TestShadowEndpointBound(t *testing.T) {
	m, err := New(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	sh := m.Shadow("web")
	for i := range MaxShadowEndpoints + 50 {
		sh.Pair(fmt.Sprintf("/e%d", i), "match")
	}
	if got, want := testutil.CollectAndCount(m.shadow.pairs), MaxShadowEndpoints+1; got != want {
		t.Errorf("series: got %d, want %d (the bound plus other)", got, want)
	}
	if got, want := testutil.ToFloat64(m.shadow.pairs.WithLabelValues("web", OtherEndpoint, "match")), 50.0; got != want {
		t.Errorf("other: got %v, want %v", got, want)
	}
}

func TestShadowNil(t *testing.T) {
	var m *Metrics
	sh := m.Shadow("web")
	sh.Pair("/", "match")
	sh.Latency("/", time.Millisecond, time.Millisecond)
	sh.QueueDepth(1)
	sh.Dropped(DropQueueFull)
	sh.NotSampled()
	if sh != nil {
		t.Errorf("nil Metrics gave a non-nil Shadow")
	}
}

func TestShadowStatsdLines(t *testing.T) {
	want := []string{ // sorted
		"migrate.web.shadow.dropped.queue_full:2|c",
		"migrate.web.shadow.latency_delta.users_id:-2.5|ms",
		"migrate.web.shadow.latency_delta.users_id:20|ms",
		"migrate.web.shadow.mirror_duration.users_id:2.5|ms",
		"migrate.web.shadow.mirror_duration.users_id:30|ms",
		"migrate.web.shadow.not_sampled:1|c",
		"migrate.web.shadow.pairs.root.skipped_stream:1|c",
		"migrate.web.shadow.pairs.users_id.match:2|c",
		"migrate.web.shadow.queue_depth:4|g",
	}
	srv := newStatsdServer(t)
	m, err := NewWithOptions(prometheus.NewRegistry(), Options{Statsd: srv.addr()})
	if err != nil {
		t.Fatal(err)
	}
	sh := m.Shadow("web")
	sh.Pair("/users/:id", "match")
	sh.Pair("/users/:id", "match")
	sh.Pair("/", "skipped_stream")
	sh.Latency("/users/:id", 30*time.Millisecond, 10*time.Millisecond)
	sh.Latency("/users/:id", 2500*time.Microsecond, 5*time.Millisecond)
	sh.QueueDepth(4)
	sh.Dropped(DropQueueFull)
	sh.Dropped(DropQueueFull)
	sh.NotSampled()
	stop := runMirror(t, m)
	stop()

	if diff := cmp.Diff(linesOf(srv.packets(len(want), 5*time.Second)), want); diff != "" {
		t.Errorf("lines mismatch (-got +want):\n%s", diff)
	}
}
