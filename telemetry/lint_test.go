package telemetry

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

// TestMetricNames runs promlint over every metric this package registers
// and checks the naming and label contract of DESIGN.md.
func TestMetricNames(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewWithOptions(reg, Options{Statsd: "127.0.0.1:8125"})
	if err != nil {
		t.Fatal(err)
	}
	recordOneOfEach(m)

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(mfs), len(m.collectors()); got != want {
		t.Errorf("gathered %d metric families, want %d (one per collector)", got, want)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	allowed := map[string]bool{
		"app": true, "side": true, "code_class": true, "reason": true, "backend": true,
		"endpoint": true, "outcome": true, "level": true, // level: LogLevels
		"direction": true, // direction: old_to_new, new_to_old
		"record":    true, // record: the manifest's dns: records
		"listen":    true, // listen: the manifest's listen addresses
		"status":    true, // status: RefusedStatuses
	}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "migrate_") {
			t.Errorf("metric %s: name does not start with migrate_", mf.GetName())
		}
		for _, metric := range mf.GetMetric() {
			for _, l := range metric.GetLabel() {
				if !allowed[l.GetName()] {
					t.Errorf("metric %s: label %q is not from a bounded set", mf.GetName(), l.GetName())
				}
			}
		}
	}
}

func recordOneOfEach(m *Metrics) {
	s := m.Side("bobbarker", SideNew)
	s.Request(200, 3*time.Millisecond)
	s.ProxyError("timeout")
	s.Retry()
	s.Failover()
	s.BackendUp("http://10.1.0.5:3000", true)
	s.Ejection("http://10.1.0.5:3000")
	m.SetWeight("bobbarker", 25)
	sh := m.Shadow("bobbarker")
	sh.Pair(DirOldToNew, "/users/:id", "match")
	sh.Latency(DirNewToOld, "/users/:id", 5*time.Millisecond, 3*time.Millisecond)
	sh.QueueDepth(3)
	sh.Dropped(DirOldToNew, DropQueueFull)
	sh.NotSampled(DirNewToOld)
	sh.Mirrored(SideNew, 503, 4*time.Millisecond)
	sh.Mirrored(SideOld, 0, 0)
	m.statsdDropped.Add(0)
	m.statsdErrors.Add(0)
	recordLogSink(m)
	recordLogs(m)
	recordLogship(m)
	recordFallback(m)
	recordDNS(m)
	m.Refused("127.0.0.1:8080").Request(431)
}
