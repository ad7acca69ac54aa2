package telemetry

// Fallback metrics (see package fallback), per app:
//
//	migrate_fallback_requests_total{app}               requests that reached the old host's fallback, loops included
//	migrate_fallback_loops_total{app}                  requests answered 508 by the loop guard (seen twice)
//	migrate_fallback_requests_per_minute{app}          arrivals over the last minute, sliding
//	migrate_fallback_clients{app}                      distinct clients over the last hour (a HyperLogLog estimate)
//	migrate_fallback_below_retire_seconds{app}         how long requests_per_minute has stayed under fallback.retire_below; 0 while above
//
// and in statsd, under prefix.app.fallback: requests and loops (counters),
// requests_per_minute, clients and below_retire_seconds (gauges, rounded).

import (
	"math"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// fallbackVecs are the fallback series of a Metrics and its recorders.
type fallbackVecs struct {
	requests *prometheus.CounterVec
	loops    *prometheus.CounterVec
	rpm      *prometheus.GaugeVec
	clients  *prometheus.GaugeVec
	below    *prometheus.GaugeVec

	mu   sync.Mutex
	apps map[string]*Fallback
}

func newFallbackVecs() *fallbackVecs {
	app := []string{"app"}
	return &fallbackVecs{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "migrate_fallback_requests_total",
			Help: "Requests that reached the old host's fallback proxy, loops included.",
		}, app),
		loops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "migrate_fallback_loops_total",
			Help: "Requests the fallback's loop guard answered 508 because they had already passed through it.",
		}, app),
		rpm: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "migrate_fallback_requests_per_minute",
			Help: "Requests that reached the fallback over the last minute (sliding).",
		}, app),
		clients: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "migrate_fallback_clients",
			Help: "Distinct clients that reached the fallback over the last hour (HyperLogLog estimate; no address is stored).",
		}, app),
		below: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "migrate_fallback_below_retire_seconds",
			Help: "How long the fallback's requests per minute have stayed under fallback.retire_below; 0 while above.",
		}, app),
		apps: make(map[string]*Fallback),
	}
}

func (v *fallbackVecs) collectors() []prometheus.Collector {
	return []prometheus.Collector{v.requests, v.loops, v.rpm, v.clients, v.below}
}

// Fallback returns the recorder of one app's fallback. It is cached: call
// it once per app.
func (m *Metrics) Fallback(app string) *Fallback {
	if m == nil {
		return nil
	}
	v := m.fallback
	v.mu.Lock()
	defer v.mu.Unlock()
	if f := v.apps[app]; f != nil {
		return f
	}
	base := token(app) + ".fallback"
	f := &Fallback{
		m:         m,
		requests:  v.requests.WithLabelValues(app),
		loops:     v.loops.WithLabelValues(app),
		rpm:       v.rpm.WithLabelValues(app),
		clients:   v.clients.WithLabelValues(app),
		below:     v.below.WithLabelValues(app),
		reqName:   base + ".requests",
		loopName:  base + ".loops",
		rpmName:   base + ".requests_per_minute",
		cliName:   base + ".clients",
		belowName: base + ".below_retire_seconds",
	}
	v.apps[app] = f
	return f
}

// Fallback records one app's fallback traffic. Request and Loop are cheap
// enough for the request path (an atomic add and a non-blocking statsd
// hand-off); Arrivals runs off it. A nil *Fallback records nothing.
type Fallback struct {
	m                           *Metrics
	requests, loops             prometheus.Counter
	rpm, clients, below         prometheus.Gauge
	reqName, loopName           string
	rpmName, cliName, belowName string
}

// Request counts a request that reached the fallback.
func (f *Fallback) Request() {
	if f == nil {
		return
	}
	f.requests.Inc()
	f.m.mirror(event{kind: kindNamedCount, label: f.reqName})
}

// Loop counts a request the loop guard refused.
func (f *Fallback) Loop() {
	if f == nil {
		return
	}
	f.loops.Inc()
	f.m.mirror(event{kind: kindNamedCount, label: f.loopName})
}

// Arrivals records the straggler counts: requests over the last minute,
// distinct clients over the last hour, and how long the rate has stayed
// under the retire threshold (0 while above).
func (f *Fallback) Arrivals(perMinute float64, clients uint64, below time.Duration) {
	if f == nil {
		return
	}
	f.rpm.Set(perMinute)
	f.clients.Set(float64(clients))
	f.below.Set(below.Seconds())
	f.m.mirror(event{kind: kindNamedGauge, label: f.rpmName, value: int64(math.Round(perMinute))})
	f.m.mirror(event{kind: kindNamedGauge, label: f.cliName, value: int64(min(clients, math.MaxInt64))})
	f.m.mirror(event{kind: kindNamedGauge, label: f.belowName, value: int64(below.Seconds())})
}
