package logship

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// fileCountSink is the file sink, counting what it delivered.
type fileCountSink struct {
	Sink
	count *countSink
}

func (f *fileCountSink) Send(ctx context.Context, batch []Event) error {
	if err := f.Sink.Send(ctx, batch); err != nil {
		return err
	}
	return f.count.Send(ctx, batch)
}

// countSink acknowledges every batch at once and counts the events.
type countSink struct {
	n    atomic.Int64
	done chan struct{}
	want int64
}

func (c *countSink) Send(_ context.Context, batch []Event) error {
	if c.n.Add(int64(len(batch))) >= c.want {
		select {
		case <-c.done:
		default:
			close(c.done)
		}
	}
	return nil
}

func (c *countSink) Close() error { return nil }

// BenchmarkShipper measures the pipeline (tail, parse, event, batch,
// checkpoint) with a sink that acknowledges at once (sink=none) and with
// the file sink (sink=file), in lines per second of wall time and of the
// process's CPU time (user and sys: lines/cpu-s is lines/s per core).
func BenchmarkShipper(b *testing.B) {
	const lines = 200_000
	var sb strings.Builder
	for i := range lines {
		fmt.Fprintf(&sb, `10.0.%d.%d - - [25/Nov/2026:10:00:00 +0000] "GET /users/%d?page=2 HTTP/1.1" 200 %d "https://example.com/" "Mozilla/5.0 (X11; Linux x86_64)"`+"\n",
			i%250, i%200, i, 1000+i%5000)
	}
	data := []byte(sb.String())
	for _, bc := range []struct{ format, sink string }{{"raw", "none"}, {"nginx_combined", "none"}, {"raw", "file"}, {"nginx_combined", "file"}} {
		format := bc.format
		b.Run(format+"/sink="+bc.sink, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			var cpu time.Duration
			for range b.N {
				b.StopTimer()
				logs := b.TempDir()
				if err := os.WriteFile(filepath.Join(logs, "access.log"), data, 0o644); err != nil {
					b.Fatal(err)
				}
				count := &countSink{done: make(chan struct{}), want: lines}
				var sink Sink = count
				if bc.sink == "file" {
					d, err := NewFileDeliverer(filepath.Join(logs, "out.jsonl"))
					if err != nil {
						b.Fatal(err)
					}
					sink = &fileCountSink{Sink: NewSink(d, SinkOptions{}), count: count}
				}
				sh, err := NewShipper(ShipperOptions{
					Source: SourceConfig{App: "bench", Side: "old", Paths: []string{filepath.Join(logs, "*.log")}, Format: format, Poll: time.Millisecond},
					Sink:   sink, DataDir: logs,
				})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				cpu0 := cpuTime(b)
				ctx, cancel := context.WithCancel(context.Background())
				errc := make(chan error, 1)
				go func() { errc <- sh.Run(ctx) }()
				<-count.done
				cancel()
				if err := <-errc; err != nil {
					b.Fatal(err)
				}
				cpu += cpuTime(b) - cpu0
			}
			b.ReportMetric(float64(lines*b.N)/b.Elapsed().Seconds(), "lines/s")
			b.ReportMetric(float64(lines*b.N)/cpu.Seconds(), "lines/cpu-s")
		})
	}
}

// cpuTime is the user and system CPU time of the process so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
