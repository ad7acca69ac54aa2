package telemetry

// DNS propagation metrics (see package dnscheck), per app and record of the
// app's manifest (record is "name/TYPE", e.g. "www.example.com/A"):
//
//	migrate_dns_propagated_ratio{app,record}               share (0-1) of the resolver panel answering the expected values
//	migrate_dns_authoritative_agreement_ratio{app,record}  share (0-1) of authoritative servers answering them with the newest serial
//	migrate_dns_eta_seconds{app,record}                    seconds until the last stale cache of the panel expires; 0 once propagated
//
// and in statsd, under prefix.app.dns.<record>: propagated_percent,
// agreement_percent and eta_seconds (gauges, rounded).
//
// Records come from the manifest's dns: list, so the record label is
// bounded.

import (
	"math"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// dnsVecs are the dns series of a Metrics.
type dnsVecs struct {
	propagated *prometheus.GaugeVec
	agreement  *prometheus.GaugeVec
	eta        *prometheus.GaugeVec

	mu    sync.Mutex
	names map[[2]string]string // app, record -> statsd base
}

func newDNSVecs() *dnsVecs {
	labels := []string{"app", "record"}
	return &dnsVecs{
		propagated: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "migrate_dns_propagated_ratio",
			Help: "Share (0-1) of the DNS resolver panel answering a record's expected values.",
		}, labels),
		agreement: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "migrate_dns_authoritative_agreement_ratio",
			Help: "Share (0-1) of a record's authoritative servers answering its expected values with the newest SOA serial.",
		}, labels),
		eta: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "migrate_dns_eta_seconds",
			Help: "Seconds until the last stale cache of the resolver panel expires for a record; 0 once propagated.",
		}, labels),
		names: make(map[[2]string]string),
	}
}

func (v *dnsVecs) collectors() []prometheus.Collector {
	return []prometheus.Collector{v.propagated, v.agreement, v.eta}
}

// DNSRecord records the last check of one record of an app's manifest:
// the propagated share, the authoritative agreement (both 0-1) and the
// seconds to its ETA. record is "name/TYPE".
func (m *Metrics) DNSRecord(app, record string, propagated, agreement, etaSeconds float64) {
	if m == nil {
		return
	}
	v := m.dns
	v.propagated.WithLabelValues(app, record).Set(propagated)
	v.agreement.WithLabelValues(app, record).Set(agreement)
	v.eta.WithLabelValues(app, record).Set(etaSeconds)
	if m.statsd == nil {
		return
	}
	base := v.statsdBase(app, record)
	m.mirror(event{kind: kindNamedGauge, label: base + ".propagated_percent", value: int64(math.Round(propagated * 100))})
	m.mirror(event{kind: kindNamedGauge, label: base + ".agreement_percent", value: int64(math.Round(agreement * 100))})
	m.mirror(event{kind: kindNamedGauge, label: base + ".eta_seconds", value: int64(math.Round(etaSeconds))})
}

func (v *dnsVecs) statsdBase(app, record string) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	k := [2]string{app, record}
	if b, ok := v.names[k]; ok {
		return b
	}
	b := token(app) + ".dns." + token(record)
	v.names[k] = b
	return b
}
