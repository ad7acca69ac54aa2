package telemetry

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestRead(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	s := m.Side("shop", SideNew)
	s.Request(503, 10*time.Millisecond)
	s.Request(200, 20*time.Millisecond)
	m.SetWeight("shop", 25)
	tests := []struct {
		name   string
		metric string
		labels map[string]string
		want   float64
	}{
		{"counter", "migrate_proxy_requests_total", map[string]string{"app": "shop", "side": "new", "code_class": "5xx"}, 1},
		{"gauge", "migrate_cutover_weight", map[string]string{"app": "shop"}, 25},
		{"histogram count", "migrate_proxy_request_duration_seconds", map[string]string{"app": "shop", "side": "new"}, 2},
		{"other labels", "migrate_proxy_requests_total", map[string]string{"app": "shop", "side": "old", "code_class": "5xx"}, 0},
		{"fewer labels", "migrate_proxy_requests_total", map[string]string{"app": "shop"}, 0},
		{"no such metric", "migrate_nothing_total", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Read(reg, tt.metric, tt.labels)
			if err != nil || got != tt.want {
				t.Errorf("Read = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}
