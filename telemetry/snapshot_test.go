package telemetry

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus"
)

type observation struct {
	code  int
	d     time.Duration
	times int
}

func TestSnapshot(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name string
		obs  []observation
		want SideStats
	}{
		{
			name: "no requests",
			want: SideStats{},
		},
		{
			// All four in (2.5ms, 5ms]: p50 rank 2 of 4, p99 rank 3.96 of 4.
			name: "one 5xx in four, one bucket",
			obs:  []observation{{200, 3 * ms, 3}, {503, 3 * ms, 1}},
			want: SideStats{Requests: 4, Errors: 1, ErrorRate: 0.25, P50Ms: 3.75, P99Ms: 4.975},
		},
		{
			// 90 in (5ms, 10ms], 10 in (100ms, 250ms].
			name: "two buckets",
			obs:  []observation{{200, 7 * ms, 90}, {200, 200 * ms, 10}},
			want: SideStats{Requests: 100, P50Ms: 5 + 5*50.0/90, P99Ms: 100 + 150*9.0/10},
		},
		{
			name: "4xx and 1xx are not errors",
			obs:  []observation{{404, 20 * ms, 2}, {101, 20 * ms, 1}, {500, 20 * ms, 1}},
			want: SideStats{Requests: 4, Errors: 1, ErrorRate: 0.25, P50Ms: 10 + 15*2.0/4, P99Ms: 10 + 15*3.96/4},
		},
		{
			name: "beyond the last bucket gives its upper bound",
			obs:  []observation{{200, time.Minute, 1}},
			want: SideStats{Requests: 1, P50Ms: 30000, P99Ms: 30000},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := New(prometheus.NewRegistry())
			if err != nil {
				t.Fatal(err)
			}
			s := m.Side("app", SideNew)
			m.Side("app", SideOld).Request(500, time.Second) // the other side must not count
			for _, o := range tt.obs {
				for range o.times {
					s.Request(o.code, o.d)
				}
			}
			got := m.Snapshot("app", SideNew)
			if diff := cmp.Diff(got, tt.want, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
				t.Errorf("Snapshot() mismatch (-got +want):\n%s", diff)
			}
		})
	}
}

func TestSnapshotUnknown(t *testing.T) {
	m, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	var nilMetrics *Metrics
	tests := []struct {
		name string
		m    *Metrics
	}{
		{"side never used", m},
		{"nil metrics", nilMetrics},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.m.Snapshot("nope", SideOld)
			if diff := cmp.Diff(got, SideStats{}); diff != "" {
				t.Errorf("Snapshot() mismatch (-got +want):\n%s", diff)
			}
		})
	}
}
