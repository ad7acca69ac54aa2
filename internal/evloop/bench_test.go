//go:build linux

package evloop

import (
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
)

// BenchmarkEchoRoundTrip sends 64 bytes and reads them back, over one
// connection and over 32 at once (one client goroutine each), against a loop's echo server and against a goroutine per
// connection on Go's netpoller.
func BenchmarkEchoRoundTrip(b *testing.B) {
	servers := []struct {
		name  string
		serve func(b *testing.B) string
	}{
		{name: "evloop", serve: func(b *testing.B) string { return serve(b, newEcho, startLoop(b)) }},
		{name: "goroutines", serve: serveGoroutines},
	}
	for _, s := range servers {
		for _, conns := range []int{1, 32} {
			b.Run(fmt.Sprintf("%s/conns=%d", s.name, conns), func(b *testing.B) {
				addr := s.serve(b)
				b.SetBytes(64)
				if conns == 1 {
					pingPong(b, addr, b.Loop)
					return
				}
				b.SetParallelism((conns + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
				b.RunParallel(func(pb *testing.PB) { pingPong(b, addr, pb.Next) })
			})
		}
	}
}

// pingPong makes round trips of 64 bytes over a new connection to addr.
func pingPong(b *testing.B, addr string, next func() bool) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Errorf("dialing: %v", err)
		return
	}
	defer c.Close()
	msg, got := payload(64, 1), make([]byte, 64)
	for next() {
		if _, err := c.Write(msg); err != nil {
			b.Errorf("writing: %v", err)
			return
		}
		if _, err := io.ReadFull(c, got); err != nil {
			b.Errorf("reading: %v", err)
			return
		}
	}
}

// serveGoroutines is a net echo server with a goroutine per connection,
// stopped when the benchmark ends.
func serveGoroutines(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatalf("listening: %v", err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { io.Copy(c, c) })
		}
	})
	b.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}
