package telemetry

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// recordDNS records one value of each dns series, for the lint test.
func recordDNS(m *Metrics) {
	m.DNSRecord("bobbarker", "bobbarker.example.com/A", 0.5, 1, 120)
}

func TestDNSSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.DNSRecord("web", "www.example.com/A", 0.25, 1, 300)
	m.DNSRecord("web", "www.example.com/A", 0.75, 0.5, 42)
	tests := []struct {
		name string
		want float64
	}{
		{"migrate_dns_propagated_ratio", 0.75},
		{"migrate_dns_authoritative_agreement_ratio", 0.5},
		{"migrate_dns_eta_seconds", 42},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Read(reg, tt.name, map[string]string{"app": "web", "record": "www.example.com/A"})
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	var nilM *Metrics
	nilM.DNSRecord("web", "www.example.com/A", 1, 1, 0)
}
