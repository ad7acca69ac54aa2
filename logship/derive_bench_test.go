package logship

import (
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/migratekit/migrate/telemetry"
)

// BenchmarkDerive counts access events into the event-time windows and
// the Prometheus series (with the id dedupe), next to the proxy's own
// per-request recording into its windows and series (telemetry.Side), its
// peer. Reported per event.
func BenchmarkDerive(b *testing.B) {
	m, err := telemetry.New(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	b.Run("derived", func(b *testing.B) {
		d := NewDerived(DeriveOptions{Metrics: m})
		now := time.Now()
		batch := make([]Event, 1000)
		for i := range batch {
			batch[i] = Event{App: "shop", Side: "new", Time: now,
				Record: Record{Status: 200 + i%2*300, Duration: time.Duration(i) * time.Microsecond, Present: HasDuration}}
		}
		n := 0
		for b.Loop() {
			for i := range batch {
				batch[i].ID = strconv.Itoa(n)
				n++
			}
			d.Observe(batch)
		}
		b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("proxy", func(b *testing.B) {
		s := m.Side("shop", "new")
		for b.Loop() {
			for i := range 1000 {
				s.Request(200+i%2*300, time.Duration(i)*time.Microsecond)
			}
		}
		b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "events/s")
	})
}
