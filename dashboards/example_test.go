package dashboards_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/migratekit/migrate/admin"
	"github.com/migratekit/migrate/dashboards"
	"github.com/migratekit/migrate/telemetry"
)

// ExampleGrafana writes the Grafana dashboard of an app and lists its
// panels, old left and new right.
func ExampleGrafana() {
	raw, err := dashboards.Grafana(dashboards.GrafanaOptions{App: "shop", Datasource: "Prometheus"})
	if err != nil {
		panic(err)
	}
	var d struct {
		Panels []struct {
			Type, Title string
		}
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		panic(err)
	}
	for _, p := range d.Panels[:5] {
		fmt.Println(p.Type, p.Title)
	}
	// Output:
	// row Requests/s
	// timeseries Requests/s · old
	// timeseries Requests/s · new
	// row Error rate (5xx)
	// timeseries Error rate (5xx) · old
}

// ExampleNew runs a dashboard over an instance's own status and series
// (Local) and serves it; serve.New does this for every migrate serve.
func ExampleNew() {
	reg := prometheus.NewRegistry()
	m, err := telemetry.New(reg)
	if err != nil {
		panic(err)
	}
	d, err := dashboards.New(dashboards.Options{Source: dashboards.Local{
		Statuses: func() []admin.AppStatus { return []admin.AppStatus{{App: "shop", Weight: 25, Phase: "split"}} },
		Gatherer: reg,
	}})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(d.Handler()) // mount at dashboards.Prefix
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }() // a frame a second until ctx ends

	m.Side("shop", "old").Request(200, 3*time.Millisecond)
	f := d.Sample(ctx)
	fmt.Println(f.Apps[0].App, f.Apps[0].Weight, f.Apps[0].Phase)
	cancel()
	fmt.Println(<-done)
	// Output:
	// shop 25 split
	// <nil>
}
