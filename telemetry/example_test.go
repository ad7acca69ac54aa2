package telemetry_test

import (
	"fmt"
	"log"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/migratekit/migrate/telemetry"
)

func ExampleMetrics_Snapshot() {
	m, err := telemetry.New(prometheus.NewRegistry())
	if err != nil {
		log.Fatal(err)
	}
	side := m.Side("bobbarker", telemetry.SideNew) // once per pool
	for range 3 {
		side.Request(200, 3*time.Millisecond)
	}
	side.Request(502, 3*time.Millisecond)

	st := m.Snapshot("bobbarker", telemetry.SideNew)
	fmt.Printf("requests=%d errors=%d error_rate=%.2f p50=%.2fms\n", st.Requests, st.Errors, st.ErrorRate, st.P50Ms)
	// Output: requests=4 errors=1 error_rate=0.25 p50=3.75ms
}
