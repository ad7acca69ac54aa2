package logship_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/migratekit/migrate/logship"
)

// printSink prints each event and stops the example after want events.
type printSink struct {
	want int
	stop context.CancelFunc
}

func (p *printSink) Send(_ context.Context, batch []logship.Event) error {
	for _, ev := range batch {
		fmt.Printf("%s %s %s %d %q\n", ev.Side, filepath.Base(ev.File), ev.Record.Endpoint, ev.Record.Status, ev.Record.ParseError)
		if p.want--; p.want == 0 {
			p.stop()
		}
	}
	return nil
}

func (p *printSink) Close() error { return nil }

// A Shipper tails a side's files, parses each line and sends it to a sink;
// a line that does not parse goes out raw, labelled with its parse error.
func ExampleShipper() {
	dir, err := os.MkdirTemp("", "logship-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	lines := `10.0.0.1 - - [25/Nov/2026:10:00:00 +0000] "GET /users/42 HTTP/1.1" 200 12 "-" "curl"` + "\n" +
		"not an access line\n"
	if err := os.WriteFile(filepath.Join(dir, "access.log"), []byte(lines), 0o644); err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sh, err := logship.NewShipper(logship.ShipperOptions{
		Source: logship.SourceConfig{
			App: "shop", Side: "old", Paths: []string{filepath.Join(dir, "*.log")}, Format: "nginx_combined",
			Template: func(path string) string {
				if strings.HasPrefix(path, "/users/") {
					return "/users/:id"
				}
				return path
			},
		},
		Sink:      &printSink{want: 2, stop: cancel},
		DataDir:   filepath.Join(dir, "data"),
		BatchWait: 10 * time.Millisecond,
	})
	if err != nil {
		panic(err)
	}
	if err := sh.Run(ctx); err != nil {
		panic(err)
	}
	// Output:
	// old access.log /users/:id 200 ""
	// old access.log  0 "line does not match the format"
}
