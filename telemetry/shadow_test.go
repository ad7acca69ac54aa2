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
	sh.Pair(DirOldToNew, "/users/:id", "match")
	sh.Pair(DirOldToNew, "/users/:id", "match")
	sh.Pair(DirOldToNew, "/users/:id", "diff")
	sh.Pair(DirNewToOld, "/users/:id", "diff")
	sh.Pair(DirOldToNew, "", "skipped_unsafe")
	sh.Pair("", "/users/:id", "noise") // no direction: old_to_new
	sh.Latency(DirOldToNew, "/users/:id", 30*time.Millisecond, 10*time.Millisecond)
	sh.Latency(DirOldToNew, "/users/:id", 10*time.Millisecond, 30*time.Millisecond)
	sh.Latency(DirNewToOld, "/users/:id", 10*time.Millisecond, 30*time.Millisecond)
	sh.QueueDepth(7)
	sh.Dropped(DirOldToNew, DropQueueFull)
	sh.Dropped(DirOldToNew, DropQueueFull)
	sh.Dropped(DirNewToOld, DropShutdown)
	sh.NotSampled(DirNewToOld)

	tests := []struct {
		name string
		got  float64
		want float64
	}{
		{"match", testutil.ToFloat64(m.shadow.pairs.WithLabelValues("web", DirOldToNew, "/users/:id", "match")), 2},
		{"diff old_to_new", testutil.ToFloat64(m.shadow.pairs.WithLabelValues("web", DirOldToNew, "/users/:id", "diff")), 1},
		{"diff new_to_old", testutil.ToFloat64(m.shadow.pairs.WithLabelValues("web", DirNewToOld, "/users/:id", "diff")), 1},
		{"no direction is old_to_new", testutil.ToFloat64(m.shadow.pairs.WithLabelValues("web", DirOldToNew, "/users/:id", "noise")), 1},
		{"no endpoint is other", testutil.ToFloat64(m.shadow.pairs.WithLabelValues("web", DirOldToNew, OtherEndpoint, "skipped_unsafe")), 1},
		{"queue depth", testutil.ToFloat64(m.shadow.queue.WithLabelValues("web")), 7},
		{"dropped queue_full", testutil.ToFloat64(m.shadow.dropped.WithLabelValues("web", DirOldToNew, DropQueueFull)), 2},
		{"dropped shutdown", testutil.ToFloat64(m.shadow.dropped.WithLabelValues("web", DirNewToOld, DropShutdown)), 1},
		{"not sampled", testutil.ToFloat64(m.shadow.notSampled.WithLabelValues("web", DirNewToOld)), 1},
		{"not sampled old_to_new", testutil.ToFloat64(m.shadow.notSampled.WithLabelValues("web", DirOldToNew)), 0},
		{"latency new_to_old", float64(histogramOf(m.shadow.duration.WithLabelValues("web", DirNewToOld, "/users/:id")).GetSampleCount()), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
	t.Run("delta histogram", func(t *testing.T) {
		h := histogramOf(m.shadow.delta.WithLabelValues("web", DirOldToNew, "/users/:id"))
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
		sh.Pair(DirOldToNew, fmt.Sprintf("/e%d", i), "match")
	}
	sh.Pair(DirNewToOld, "/e0", "match") // the bound is per direction
	if got, want := testutil.CollectAndCount(m.shadow.pairs), MaxShadowEndpoints+2; got != want {
		t.Errorf("series: got %d, want %d (the bound plus other, and one new_to_old)", got, want)
	}
	if got, want := testutil.ToFloat64(m.shadow.pairs.WithLabelValues("web", DirOldToNew, OtherEndpoint, "match")), 50.0; got != want {
		t.Errorf("other: got %v, want %v", got, want)
	}
}

func TestShadowNil(t *testing.T) {
	var m *Metrics
	sh := m.Shadow("web")
	sh.Pair(DirOldToNew, "/", "match")
	sh.Latency(DirOldToNew, "/", time.Millisecond, time.Millisecond)
	sh.QueueDepth(1)
	sh.Dropped(DirOldToNew, DropQueueFull)
	sh.NotSampled(DirOldToNew)
	sh.Mirrored(SideNew, 200, time.Millisecond)
	if sh != nil {
		t.Errorf("nil Metrics gave a non-nil Shadow")
	}
}

func TestShadowStatsdLines(t *testing.T) {
	want := []string{ // sorted
		"migrate.web.new.mirrored.5xx:2|c",
		"migrate.web.new.mirrored_duration:7|ms",
		"migrate.web.new.mirrored_duration:9|ms",
		"migrate.web.old.mirrored.none:1|c",
		"migrate.web.shadow.new_to_old.not_sampled:1|c",
		"migrate.web.shadow.new_to_old.pairs.users_id.diff:1|c",
		"migrate.web.shadow.old_to_new.dropped.queue_full:2|c",
		"migrate.web.shadow.old_to_new.latency_delta.users_id:-2.5|ms",
		"migrate.web.shadow.old_to_new.latency_delta.users_id:20|ms",
		"migrate.web.shadow.old_to_new.mirror_duration.users_id:2.5|ms",
		"migrate.web.shadow.old_to_new.mirror_duration.users_id:30|ms",
		"migrate.web.shadow.old_to_new.pairs.root.skipped_stream:1|c",
		"migrate.web.shadow.old_to_new.pairs.users_id.match:2|c",
		"migrate.web.shadow.queue_depth:4|g",
	}
	srv := newStatsdServer(t)
	m, err := NewWithOptions(prometheus.NewRegistry(), Options{Statsd: srv.addr()})
	if err != nil {
		t.Fatal(err)
	}
	sh := m.Shadow("web")
	sh.Pair(DirOldToNew, "/users/:id", "match")
	sh.Pair(DirOldToNew, "/users/:id", "match")
	sh.Pair(DirNewToOld, "/users/:id", "diff")
	sh.Pair(DirOldToNew, "/", "skipped_stream")
	sh.Latency(DirOldToNew, "/users/:id", 30*time.Millisecond, 10*time.Millisecond)
	sh.Latency(DirOldToNew, "/users/:id", 2500*time.Microsecond, 5*time.Millisecond)
	sh.QueueDepth(4)
	sh.Dropped(DirOldToNew, DropQueueFull)
	sh.Dropped(DirOldToNew, DropQueueFull)
	sh.NotSampled(DirNewToOld)
	sh.Mirrored(SideNew, 503, 7*time.Millisecond)
	sh.Mirrored(SideNew, 500, 9*time.Millisecond)
	sh.Mirrored(SideOld, 0, time.Second)
	stop := runMirror(t, m)
	stop()

	if diff := cmp.Diff(linesOf(srv.packets(len(want), 5*time.Second)), want); diff != "" {
		t.Errorf("lines mismatch (-got +want):\n%s", diff)
	}
}

// TestMirroredAnswers: a side's answers to mirrored requests are counted
// per side by status class and latency, in a series apart from the
// served ones, and Snapshot reports them as the side's mirrored numbers
// without adding them to its served ones.
func TestMirroredAnswers(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	sh := m.Shadow("web")
	for range 3 {
		sh.Mirrored(SideNew, 200, 2*time.Millisecond)
	}
	sh.Mirrored(SideNew, 503, 20*time.Millisecond)
	sh.Mirrored(SideNew, 0, 5*time.Second) // no answer
	sh.Mirrored("sideways", 500, time.Millisecond)
	m.Side("web", SideOld).Request(200, time.Millisecond)

	tests := []struct {
		name string
		got  float64
		want float64
	}{
		{"2xx", testutil.ToFloat64(m.shadow.mirrored.requests.WithLabelValues("web", SideNew, "2xx")), 3},
		{"5xx", testutil.ToFloat64(m.shadow.mirrored.requests.WithLabelValues("web", SideNew, "5xx")), 1},
		{"no answer", testutil.ToFloat64(m.shadow.mirrored.requests.WithLabelValues("web", SideNew, "none")), 1},
		{"latencies of the answers", float64(histogramOf(m.shadow.mirrored.duration.WithLabelValues("web", SideNew)).GetSampleCount()), 4},
		{"not served", testutil.ToFloat64(m.requests.WithLabelValues("web", SideNew, "5xx")), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
	got := m.Snapshot("web", SideNew)
	want := SideStats{Mirrored: MirroredStats{Requests: 5, Errors: 1, NoAnswer: 1, ErrorRate: 0.2,
		P50Ms: got.Mirrored.P50Ms, P99Ms: got.Mirrored.P99Ms}}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("Snapshot(new) (-got +want):\n%s", diff)
	}
	if p50, p99 := got.Mirrored.P50Ms, got.Mirrored.P99Ms; p50 <= 1 || p50 > 2.5 || p99 <= 10 || p99 > 25 {
		t.Errorf("mirrored p50 %v ms, p99 %v ms: want within the 2ms and 20ms buckets", p50, p99)
	}
	if got := m.Snapshot("web", SideOld); got.Requests != 1 || got.Mirrored != (MirroredStats{}) {
		t.Errorf("Snapshot(old) = %+v, want one served request and nothing mirrored", got)
	}
}
