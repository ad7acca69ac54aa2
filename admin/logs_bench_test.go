package admin

import (
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/migratekit/migrate/lb"
	"github.com/migratekit/migrate/logship"
	"github.com/migratekit/migrate/manifest"
)

// benchBatch is a batch of n nginx access lines of side, ids prefixed by
// tag so that every batch is new to the store.
func benchBatch(side, tag string, n int) []logship.Event {
	at := time.Now()
	out := make([]logship.Event, n)
	for i := range out {
		raw := fmt.Sprintf(`10.0.0.%d - - [01/Mar/2026:12:00:00 +0000] "GET /users/%d HTTP/1.1" 200 512 "-" "bench/1.0"`, i%250, i)
		out[i] = logship.Event{ID: fmt.Sprintf("%s-%d", tag, i), Time: at, App: "shop", Side: side, Host: "web1",
			File: "/var/log/nginx/shop.access.log", Offset: int64(i) * 110, End: int64(i+1) * 110,
			Record: logship.Record{Raw: []byte(raw), Method: "GET", Path: fmt.Appendf(nil, "/users/%d", i),
				Status: 200, Bytes: 512, Present: logship.HasBytes}}
	}
	return out
}

// BenchmarkShipEmbedded ships 1000-line batches through the embedded sink
// to a real admin receiver on loopback that stores them in SQLite (the
// whole path of the embedded sink), next to the file sink appending the
// same batches to a local file, its floor. Reported as lines/s.
func BenchmarkShipEmbedded(b *testing.B) {
	const n = 1000
	b.Run("embedded", func(b *testing.B) {
		api := benchAPI(b)
		st, err := logship.OpenLogStore(b.Context(), filepath.Join(b.TempDir(), logship.LogStoreFile), logship.LogStoreOptions{MaxLines: 1 << 30})
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		api.opts.Logs = storeLogs{st}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(b.Context())
		served := make(chan error, 1)
		go func() { served <- api.Serve(ctx, ln) }()
		defer func() { cancel(); <-served }()
		d, err := logship.NewEmbeddedDeliverer(logship.SinkConfig{Admin: "http://" + ln.Addr().String()}, "shop", "new", logship.WithToken(token))
		if err != nil {
			b.Fatal(err)
		}
		defer d.(io.Closer).Close()
		benchShip(b, d, n)
	})
	b.Run("file", func(b *testing.B) {
		d, err := logship.NewFileDeliverer(filepath.Join(b.TempDir(), "sink.jsonl"))
		if err != nil {
			b.Fatal(err)
		}
		defer d.(io.Closer).Close()
		benchShip(b, d, n)
	})
}

// benchAPI is an admin API serving app shop, with the admin token.
func benchAPI(b *testing.B) *Server {
	m := &manifest.Manifest{Apps: map[string]*manifest.App{"shop": {
		Name: "shop", Listen: "127.0.0.1:0",
		Old: manifest.Pool{Backends: []string{"http://127.0.0.1:1"}},
		New: manifest.Pool{Backends: []string{"http://127.0.0.1:1"}},
	}}}
	proxy, err := lb.New(m, nil, lb.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return New(Options{Token: token, Proxy: proxy})
}

func benchShip(b *testing.B, d logship.Deliverer, n int) {
	batches := make([][]logship.Event, 64)
	for i := range batches {
		batches[i] = benchBatch("new", fmt.Sprint(i), n)
	}
	for i := 0; b.Loop(); i++ {
		batch := batches[i%len(batches)]
		if i >= len(batches) { // new ids, so that the store writes every line
			for j := range batch {
				batch[j].ID = strconv.Itoa(i*n + j)
			}
		}
		if err := d.Deliver(b.Context(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "lines/s")
}
