package logship

import (
	"bytes"
	"io"
	"testing"
)

// BenchmarkSinkBodies builds the request body of a 1000-event batch for
// each HTTP protocol, then gzips it as the deliverers do: the CPU a batch
// costs the shipper before the network.
func BenchmarkSinkBodies(b *testing.B) {
	opts := HTTPOptions{URL: "http://127.0.0.1:9"}
	loki, err := NewLokiDeliverer(opts, "")
	if err != nil {
		b.Fatal(err)
	}
	es, err := NewElasticDeliverer(opts, "")
	if err != nil {
		b.Fatal(err)
	}
	otlp, err := NewOTLPDeliverer(opts)
	if err != nil {
		b.Fatal(err)
	}
	builders := []struct {
		name  string
		build func(dst []byte, batch []Event) []byte
	}{
		{"json_lines", appendLines},
		{"loki", loki.(*lokiDeliverer).appendPush},
		{"elasticsearch", es.(*elasticDeliverer).appendBulk},
		{"otlp", otlp.(*otlpDeliverer).appendRequest},
	}
	batch := sinkEvents(1000)
	for _, bl := range builders {
		b.Run(bl.name, func(b *testing.B) {
			var body []byte
			zw := newSinkGzip()
			b.ReportAllocs()
			for b.Loop() {
				body = bl.build(body[:0], batch)
				zw.Reset(io.Discard)
				zw.Write(body)
				zw.Close()
			}
			b.ReportMetric(float64(len(body))/float64(zipped(b, body)), "ratio")
			b.SetBytes(int64(len(body)))
			b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// zipped returns the gzipped size of body at the deliverers' level.
func zipped(b *testing.B, body []byte) int {
	var buf bytes.Buffer
	zw := newSinkGzip()
	zw.Reset(&buf)
	if _, err := zw.Write(body); err != nil {
		b.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		b.Fatal(err)
	}
	return buf.Len()
}
