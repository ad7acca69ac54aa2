package telemetry

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Mirrored answers: what a side answered to the requests mirrored to it.
// They are that side's answers as much as those it serves to clients (in
// the shadow phase they are all the new side gives), so they are counted
// per side, by status class and latency, but in series of their own:
// migrate_proxy_* and the sliding windows the rollback analysis reads
// count only the clients a side served.

// codeClassNone is the code_class of a mirrored request that got no
// answer (refused, reset, past shadow.timeout).
const codeClassNone = "none"

// mirroredVecs are the migrate_shadow_mirrored_* series.
type mirroredVecs struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMirroredVecs() *mirroredVecs {
	return &mirroredVecs{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "migrate_shadow_mirrored_requests_total",
			Help: "Requests mirrored to an app's side, by the status class of its answer (none: no answer). Apart from migrate_proxy_requests_total, which counts the clients the side served.",
		}, []string{"app", "side", "code_class"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "migrate_shadow_mirrored_request_duration_seconds",
			Help:    "Time a side took to answer a request mirrored to it, body included.",
			Buckets: DurationBuckets,
		}, []string{"app", "side"}),
	}
}

func (v *mirroredVecs) collectors() []prometheus.Collector {
	return []prometheus.Collector{v.requests, v.duration}
}

// mirroredSide is one side's mirrored answers: by class 1xx to 5xx, then
// none.
type mirroredSide struct {
	byClass  [6]namedCounter
	duration prometheus.Observer
	durName  string // statsd
}

func newMirroredSide(m *Metrics, app, side string) *mirroredSide {
	v := m.shadow.mirrored
	ms := &mirroredSide{duration: v.duration.WithLabelValues(app, side)}
	base := token(app) + "." + side + ".mirrored"
	for i := range ms.byClass {
		class := codeClassNone
		if i < 5 {
			class = strconv.Itoa(i+1) + "xx"
		}
		ms.byClass[i] = namedCounter{c: v.requests.WithLabelValues(app, side, class), name: base + "." + class}
	}
	ms.durName = base + "_duration"
	return ms
}

// Mirrored records the answer of side to a request mirrored to it: its
// status code and latency, or code 0 when it gave none (the latency is
// then not recorded). Side is SideOld or SideNew; anything else records
// nothing.
func (s *Shadow) Mirrored(side string, code int, d time.Duration) {
	if s == nil {
		return
	}
	i := sideIndex(side)
	if i < 0 {
		return
	}
	ms := s.mirrored[i]
	c := 5 // none
	if code != 0 {
		c = min(max(code/100-1, 0), 4)
	}
	nc := &ms.byClass[c]
	nc.c.Inc()
	s.m.mirror(event{kind: kindNamedCount, label: nc.name})
	if code == 0 {
		return
	}
	ms.duration.Observe(d.Seconds())
	s.m.mirror(event{kind: kindNamedTiming, label: ms.durName, dur: d})
}

func sideIndex(side string) int {
	switch side {
	case SideOld:
		return 0
	case SideNew:
		return 1
	}
	return -1
}

// MirroredStats are a side's answers to the requests mirrored to it since
// the process started.
type MirroredStats struct {
	// Requests counts the requests mirrored to the side, answered or not.
	Requests uint64 `json:"requests"`
	// Errors counts the 5xx answers; NoAnswer the requests it did not
	// answer (refused, reset, past shadow.timeout).
	Errors   uint64 `json:"errors"`
	NoAnswer uint64 `json:"no_answer"`
	// ErrorRate is Errors / Requests, 0 with no requests.
	ErrorRate float64 `json:"error_rate"`
	// P50Ms and P99Ms are the latencies of its answers.
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
}

// mirroredSnapshot reads app's side's mirrored answers.
func (m *Metrics) mirroredSnapshot(app, side string) MirroredStats {
	i := sideIndex(side)
	v := m.shadow
	v.mu.Lock()
	s := v.apps[app]
	v.mu.Unlock()
	if s == nil || i < 0 {
		return MirroredStats{}
	}
	return s.mirrored[i].snapshot()
}

func (ms *mirroredSide) snapshot() MirroredStats {
	var st MirroredStats
	for i := range ms.byClass {
		n := counterValue(ms.byClass[i].c)
		st.Requests += n
		switch i {
		case 4:
			st.Errors = n
		case 5:
			st.NoAnswer = n
		}
	}
	if st.Requests == 0 {
		return st
	}
	st.ErrorRate = float64(st.Errors) / float64(st.Requests)
	if h := histogramOf(ms.duration); h != nil {
		st.P50Ms = bucketQuantile(0.5, h) * 1000
		st.P99Ms = bucketQuantile(0.99, h) * 1000
	}
	return st
}
