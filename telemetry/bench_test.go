package telemetry

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkSideRequest measures the request path's cost of recording one
// request: Prometheus only, with a running statsd mirror, and with a full
// statsd queue (the drop path).
func BenchmarkSideRequest(b *testing.B) {
	b.Run("statsd=off", func(b *testing.B) {
		m, err := New(prometheus.NewRegistry())
		if err != nil {
			b.Fatal(err)
		}
		benchRequest(b, m.Side("app", SideNew))
	})
	b.Run("statsd=on", func(b *testing.B) {
		conn, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		m, err := NewWithOptions(prometheus.NewRegistry(), Options{Statsd: conn.LocalAddr().String()})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- m.Run(ctx) }()
		benchRequest(b, m.Side("app", SideNew))
		cancel()
		<-done
	})
	b.Run("statsd=full", func(b *testing.B) {
		m, err := NewWithOptions(prometheus.NewRegistry(), Options{Statsd: "127.0.0.1:9", QueueSize: 1})
		if err != nil {
			b.Fatal(err)
		}
		benchRequest(b, m.Side("app", SideNew))
	})
}

func benchRequest(b *testing.B, s *Side) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.Request(200, 3*time.Millisecond)
		}
	})
}
