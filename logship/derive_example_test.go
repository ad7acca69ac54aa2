package logship_test

import (
	"fmt"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/migratekit/migrate/logship"
)

func ExampleDerived() {
	clock := clockwork.NewFakeClockAt(time.Date(2026, 3, 1, 12, 0, 10, 0, time.UTC))
	d := logship.NewDerived(logship.DeriveOptions{Clock: clock})
	at := clock.Now().Add(-5 * time.Second) // the requests' time, read from the lines
	batch := []logship.Event{
		{ID: "a1", App: "shop", Side: "new", Time: at, Record: logship.Record{Status: 200}},
		{ID: "a2", App: "shop", Side: "new", Time: at, Record: logship.Record{Status: 503}},
	}
	fmt.Println("counted", d.Observe(batch))
	fmt.Println("counted again", d.Observe(batch)) // a shipper restarted and sent it again
	w := d.Window("shop", "new", 30*time.Second, clock.Now())
	fmt.Printf("requests %d, 5xx %d over %s\n", w.Requests, w.Errors5xx, w.Window)
	// Output:
	// counted 2
	// counted again 0
	// requests 2, 5xx 1 over 30s
}
