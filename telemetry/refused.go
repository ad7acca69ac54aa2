package telemetry

// Requests the proxy refuses by its request rules (package lb, rules.go),
// per listener (its listen address in the manifest) and by the status
// they were answered with:
//
//	migrate_proxy_refused_total{listen,status}
//
// and in statsd, as counters, prefix.proxy.refused.<listen>.<status>. A
// refused request belongs to no app (its head was not read whole, or its
// host is no app's), so the series are per listener, not per app and side.
// The statuses are a fixed set (RefusedStatuses): a listener's series exist,
// at 0, from its first Refused call.

import (
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// RefusedStatuses are the statuses the proxy refuses a request with: a
// malformed head (400), CONNECT (405), a body that stalls (408), a host no
// app claims (421), a head over the header limit (431), an unknown
// Transfer-Encoding (501) and an HTTP version other than 1.0 and 1.1
// (505).
var RefusedStatuses = [...]int{400, 405, 408, 421, 431, 501, 505}

// refusedVecs is the refused series of a Metrics and its recorders.
type refusedVecs struct {
	total *prometheus.CounterVec

	mu        sync.Mutex
	listeners map[string]*Refused
}

func newRefusedVecs() *refusedVecs {
	return &refusedVecs{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "migrate_proxy_refused_total",
			Help: "Requests the proxy refused by its request rules, per listener, by the status they were answered with.",
		}, []string{"listen", "status"}),
		listeners: make(map[string]*Refused),
	}
}

func (v *refusedVecs) collectors() []prometheus.Collector {
	return []prometheus.Collector{v.total}
}

// Refused returns the recorder of the requests refused on one listener,
// listen being its address in the manifest. It is cached: call it once
// per listener.
func (m *Metrics) Refused(listen string) *Refused {
	if m == nil {
		return nil
	}
	v := m.refused
	v.mu.Lock()
	defer v.mu.Unlock()
	if r := v.listeners[listen]; r != nil {
		return r
	}
	r := &Refused{m: m, listen: listen}
	for i, code := range RefusedStatuses {
		r.counts[i], r.names[i] = r.resolve(code)
	}
	v.listeners[listen] = r
	return r
}

// Refused counts the requests one listener refuses. Request is cheap
// enough for the request path: an atomic add and a non-blocking statsd
// hand-off. A nil *Refused records nothing.
type Refused struct {
	m      *Metrics
	listen string
	counts [len(RefusedStatuses)]prometheus.Counter
	names  [len(RefusedStatuses)]string // statsd
}

// resolve returns the counter and the statsd name of one status.
func (r *Refused) resolve(status int) (prometheus.Counter, string) {
	code := strconv.Itoa(status)
	return r.m.refused.total.WithLabelValues(r.listen, code), "proxy.refused." + token(r.listen) + "." + code
}

// Request counts a request refused with status, one of RefusedStatuses
// (another status is counted too, under its own label, at the cost of a
// lookup).
func (r *Refused) Request(status int) {
	if r == nil {
		return
	}
	c, name := r.counter(status)
	c.Inc()
	r.m.mirror(event{kind: kindNamedCount, label: name})
}

func (r *Refused) counter(status int) (prometheus.Counter, string) {
	for i, code := range RefusedStatuses {
		if code == status {
			return r.counts[i], r.names[i]
		}
	}
	return r.resolve(status)
}
