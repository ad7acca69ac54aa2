package telemetry

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// recordFallback records one value of each fallback series, for the lint
// test.
func recordFallback(m *Metrics) {
	f := m.Fallback("bobbarker")
	f.Request()
	f.Loop()
	f.Arrivals(2.5, 7, time.Minute)
}

func TestFallbackSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	f := m.Fallback("web")
	if m.Fallback("web") != f {
		t.Errorf("Fallback(web) is not cached")
	}
	f.Request()
	f.Request()
	f.Loop()
	f.Arrivals(3.5, 12, 90*time.Second)
	tests := []struct {
		name string
		want float64
	}{
		{"migrate_fallback_requests_total", 2},
		{"migrate_fallback_loops_total", 1},
		{"migrate_fallback_requests_per_minute", 3.5},
		{"migrate_fallback_clients", 12},
		{"migrate_fallback_below_retire_seconds", 90},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Read(reg, tt.name, map[string]string{"app": "web"})
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	var nilF *Fallback
	nilF.Request()
	nilF.Loop()
	nilF.Arrivals(1, 1, time.Second)
}
