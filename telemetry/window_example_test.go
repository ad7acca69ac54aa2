package telemetry_test

import (
	"fmt"
	"log"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/migratekit/migrate/telemetry"
)

func ExampleMetrics_Window() {
	clock := clockwork.NewFakeClock()
	m, err := telemetry.NewWithOptions(prometheus.NewRegistry(), telemetry.Options{Clock: clock})
	if err != nil {
		log.Fatal(err)
	}
	side := m.Side("bobbarker", telemetry.SideNew) // once per pool
	side.Request(500, 3*time.Millisecond)          // a minute ago: out of the window
	clock.Advance(time.Minute)
	for range 19 {
		side.Request(200, 3*time.Millisecond)
	}
	side.Request(503, 3*time.Millisecond)

	w := m.Window("bobbarker", telemetry.SideNew, 30*time.Second, clock.Now())
	fmt.Printf("requests=%d 5xx=%d p99=%s over %s\n", w.Requests, w.Errors5xx, w.P99, w.Window)
	// Output: requests=20 5xx=1 p99=4.975ms over 30s
}
