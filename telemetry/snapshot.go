package telemetry

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// SideStats are one side's request numbers since the process started, as
// the admin API and `migrate status` show them: the clients it served,
// and apart from them its answers to the requests mirrored to it.
type SideStats struct {
	Requests  uint64  `json:"requests"`
	Errors    uint64  `json:"errors"`     // 5xx responses
	ErrorRate float64 `json:"error_rate"` // Errors / Requests, 0 with no requests
	P50Ms     float64 `json:"p50_ms"`
	P99Ms     float64 `json:"p99_ms"`
	// Mirrored are the side's answers to mirrored requests (shadow), not
	// counted above.
	Mirrored MirroredStats `json:"mirrored"`
}

// Snapshot reads one app's side from its registered series: requests and
// 5xx errors from migrate_proxy_requests_total, the median and 99th
// percentile latency from migrate_proxy_request_duration_seconds,
// interpolated within buckets as PromQL's histogram_quantile does, and
// the same of its mirrored answers (migrate_shadow_mirrored_*). A side
// that recorded nothing, and a nil Metrics, give zeros. It reads a handful
// of series and is cheap enough to call every second per app.
func (m *Metrics) Snapshot(app, side string) SideStats {
	if m == nil {
		return SideStats{}
	}
	m.mu.Lock()
	s := m.sides[sideKey{app, side}]
	m.mu.Unlock()
	var st SideStats
	if s != nil {
		st = s.snapshot()
	}
	st.Mirrored = m.mirroredSnapshot(app, side)
	return st
}

func (s *Side) snapshot() SideStats {
	var st SideStats
	for i, c := range s.byClass {
		n := counterValue(c)
		st.Requests += n
		if i == 4 {
			st.Errors = n
		}
	}
	if st.Requests == 0 {
		return SideStats{}
	}
	st.ErrorRate = float64(st.Errors) / float64(st.Requests)
	if h := histogramOf(s.duration); h != nil {
		st.P50Ms = bucketQuantile(0.5, h) * 1000
		st.P99Ms = bucketQuantile(0.99, h) * 1000
	}
	return st
}

func counterValue(c prometheus.Counter) uint64 {
	var d dto.Metric
	if err := c.Write(&d); err != nil {
		return 0
	}
	return uint64(d.GetCounter().GetValue())
}

func histogramOf(o prometheus.Observer) *dto.Histogram {
	pm, ok := o.(prometheus.Metric)
	if !ok {
		return nil
	}
	var d dto.Metric
	if err := pm.Write(&d); err != nil {
		return nil
	}
	return d.GetHistogram()
}

// bucketQuantile estimates the q-quantile of h the way histogram_quantile
// does: find the bucket holding rank q*count and interpolate linearly
// between its bounds (the first bucket starts at 0). A rank beyond the last
// finite bucket gives that bucket's upper bound. Zero observations give 0.
func bucketQuantile(q float64, h *dto.Histogram) float64 {
	count := h.GetSampleCount()
	if count == 0 {
		return 0
	}
	rank := q * float64(count)
	var lower float64
	var below uint64
	for _, b := range h.GetBucket() {
		upper, cum := b.GetUpperBound(), b.GetCumulativeCount()
		if float64(cum) >= rank && cum > below {
			return lower + (upper-lower)*(rank-float64(below))/float64(cum-below)
		}
		lower, below = upper, cum
	}
	return lower
}
