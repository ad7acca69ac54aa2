package logship_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/migratekit/migrate/logship"
)

// A Sink around a Deliverer: here the stdout one, which writes each event
// as a JSON line. Send returns once the batch is delivered or
// dead-lettered; the source may then checkpoint past it.
func ExampleNewSink() {
	s := logship.NewSink(logship.NewWriterDeliverer(os.Stdout), logship.SinkOptions{MaxBackoff: 5 * time.Second})
	defer s.Close()
	batch := []logship.Event{{
		ID: "5f1c", Time: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), App: "web", Side: "new", Host: "h1",
		File: "/var/log/web/access.log", Offset: 42,
		Record: logship.Record{Raw: []byte(`GET /users/7 200`), Method: "GET", Path: []byte("/users/7"),
			Endpoint: "/users/:id", Status: 200},
	}}
	if err := s.Send(context.Background(), batch); err != nil {
		fmt.Println(err)
	}
	// Output:
	// {"id":"5f1c","time":"2026-03-01T12:00:00Z","app":"web","side":"new","host":"h1","file":"/var/log/web/access.log","offset":42,"line":"GET /users/7 200","method":"GET","path":"/users/7","endpoint":"/users/:id","status":200}
}
