package telemetry

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// statsdServer is a UDP listener on loopback standing in for statsd.
type statsdServer struct {
	t    *testing.T
	conn net.PacketConn
}

func newStatsdServer(t *testing.T) *statsdServer {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &statsdServer{t: t, conn: conn}
}

func (s *statsdServer) addr() string { return s.conn.LocalAddr().String() }

// packets reads packets until they hold n lines; it fails the test if they
// do not arrive within wait.
func (s *statsdServer) packets(n int, wait time.Duration) []string {
	s.t.Helper()
	var pkts []string
	lines := 0
	buf := make([]byte, 65536)
	s.conn.SetReadDeadline(time.Now().Add(wait))
	for lines < n {
		k, _, err := s.conn.ReadFrom(buf)
		if err != nil {
			s.t.Fatalf("reading statsd packets: got %d of %d lines (%q): %v", lines, n, pkts, err)
		}
		pkts = append(pkts, string(buf[:k]))
		lines += strings.Count(string(buf[:k]), "\n") + 1
	}
	return pkts
}

func linesOf(pkts []string) []string {
	var lines []string
	for _, p := range pkts {
		lines = append(lines, strings.Split(p, "\n")...)
	}
	slices.Sort(lines)
	return lines
}

// runMirror runs m.Run until the returned stop is called; stop waits for Run
// to return and checks its error.
func runMirror(t *testing.T, m *Metrics) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v, want nil", err)
		}
	}
}

func TestStatsdLines(t *testing.T) {
	want := []string{ // sorted
		"migrate.bobbarker.new.backend.10_1_0_5_3000.ejections:1|c",
		"migrate.bobbarker.new.backend.10_1_0_5_3000.up:0|g",
		"migrate.bobbarker.new.errors.timeout:1|c",
		"migrate.bobbarker.new.failovers:1|c",
		"migrate.bobbarker.new.request_duration:12.5|ms",
		"migrate.bobbarker.new.request_duration:3|ms",
		"migrate.bobbarker.new.request_duration:3|ms",
		"migrate.bobbarker.new.requests.2xx:1|c",
		"migrate.bobbarker.new.requests.5xx:1|c",
		"migrate.bobbarker.new.retries:1|c",
		"migrate.bobbarker.old.request_duration:0.25|ms",
		"migrate.bobbarker.old.requests.2xx:1|c",
		"migrate.bobbarker.weight:25|g",
	}
	tests := []struct {
		name       string
		packetSize int
	}{
		{"one packet", 0},
		{"split at 100 bytes", 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newStatsdServer(t)
			m, err := NewWithOptions(prometheus.NewRegistry(), Options{Statsd: srv.addr(), PacketSize: tt.packetSize})
			if err != nil {
				t.Fatal(err)
			}
			s := m.Side("bobbarker", SideNew)
			s.Request(503, 12500*time.Microsecond)
			s.Request(200, 3*time.Millisecond)
			s.Request(0, 3*time.Millisecond) // no status class: timing only
			s.ProxyError("timeout")
			s.Retry()
			s.Failover()
			s.BackendUp("http://10.1.0.5:3000", false)
			s.Ejection("http://10.1.0.5:3000")
			m.Side("bobbarker", SideOld).Request(200, 250*time.Microsecond)
			m.SetWeight("bobbarker", 25)
			stop := runMirror(t, m)
			stop() // sends everything queued

			pkts := srv.packets(len(want), 5*time.Second)
			if diff := cmp.Diff(linesOf(pkts), want); diff != "" {
				t.Errorf("lines mismatch (-got +want):\n%s", diff)
			}
			for _, p := range pkts {
				if tt.packetSize > 0 && len(p) > tt.packetSize {
					t.Errorf("packet of %d bytes, want at most %d: %q", len(p), tt.packetSize, p)
				}
			}
		})
	}
}

func TestStatsdFlushInterval(t *testing.T) {
	srv := newStatsdServer(t)
	clock := clockwork.NewFakeClock()
	m, err := NewWithOptions(nil, Options{Statsd: srv.addr(), Prefix: "mig.prod.", Clock: clock, FlushInterval: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	stop := runMirror(t, m)
	defer stop()
	if err := clock.BlockUntilContext(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	m.Side("shop", SideOld).Retry()

	// The retry reaches the flusher at some point; each tick sends what it
	// has summed so far, so tick until the line arrives.
	var got []string
	buf := make([]byte, 2048)
	for i := 0; i < 100 && got == nil; i++ {
		clock.Advance(10 * time.Second)
		srv.conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if n, _, err := srv.conn.ReadFrom(buf); err == nil {
			got = append(got, string(buf[:n]))
		}
	}
	want := []string{"mig.prod.shop.old.retries:1|c"}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("flushed packets mismatch (-got +want):\n%s", diff)
	}
}

// TestStatsdNeverBlocks fills the queue with no flusher running: every
// further value is dropped and counted, and Request returns.
func TestStatsdNeverBlocks(t *testing.T) {
	m, err := NewWithOptions(prometheus.NewRegistry(), Options{Statsd: "127.0.0.1:9", QueueSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	s := m.Side("app", SideNew)
	const n = 10000
	for range n {
		s.Request(200, time.Millisecond)
	}
	s.Retry()
	m.SetWeight("app", 50)
	if got, want := testutil.ToFloat64(m.statsdDropped), float64(n+2-16); got != want {
		t.Errorf("dropped = %v, want %v", got, want)
	}
	if got, want := testutil.ToFloat64(m.requests.WithLabelValues("app", SideNew, "2xx")), float64(n); got != want {
		t.Errorf("prometheus requests = %v, want %v", got, want)
	}
}

// TestStatsdUnreachable sends to a port nobody listens on: send failures
// are counted, not returned, and Run stops cleanly.
func TestStatsdUnreachable(t *testing.T) {
	srv := newStatsdServer(t)
	addr := srv.addr()
	srv.conn.Close()
	clock := clockwork.NewFakeClock()
	m, err := NewWithOptions(nil, Options{Statsd: addr, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	stop := runMirror(t, m)
	if err := clock.BlockUntilContext(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	s := m.Side("app", SideNew)
	for i := 0; i < 500 && testutil.ToFloat64(m.statsdErrors) == 0; i++ {
		s.Request(200, time.Millisecond)
		clock.Advance(time.Second)
		time.Sleep(time.Millisecond) // let the flusher send; ICMP refusals fail a later send
	}
	stop()
	if got := testutil.ToFloat64(m.statsdErrors); got == 0 {
		t.Errorf("send errors = 0, want > 0 for an unreachable statsd")
	}
}

// TestStatsdSocketFails: a statsd socket that cannot be opened (here an
// address no dial takes; in production a host name that does not
// resolve yet) does not end Run, which would stop the whole instance: it
// logs once and tries again until ctx ends.
func TestStatsdSocketFails(t *testing.T) {
	var log bytes.Buffer
	clock := clockwork.NewFakeClock()
	m, err := NewWithOptions(nil, Options{Statsd: "127.0.0.1:99999", Clock: clock, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	stop := runMirror(t, m)
	for range 3 {
		if err := clock.BlockUntilContext(ctx, 1); err != nil {
			t.Fatalf("Run is not waiting to try again: %v", err)
		}
		clock.Advance(maxDialBackoff)
	}
	stop()
	if n := strings.Count(log.String(), "opening statsd socket"); n != 1 {
		t.Errorf("%d log lines of the failure, want 1:\n%s", n, log.String())
	}
}

func TestStatsdRunTwice(t *testing.T) {
	srv := newStatsdServer(t)
	m, err := NewWithOptions(nil, Options{Statsd: srv.addr()})
	if err != nil {
		t.Fatal(err)
	}
	stop := runMirror(t, m)
	defer stop()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	for !m.statsd.running.Load() && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	if err := m.Run(ctx); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second Run() = %v, want an already running error", err)
	}
}

func TestNewWithOptionsErrors(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"no port", Options{Statsd: "127.0.0.1"}},
		{"empty port", Options{Statsd: "127.0.0.1:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewWithOptions(nil, tt.opts)
			if err == nil || !strings.Contains(err.Error(), "statsd address") {
				t.Errorf("NewWithOptions() error = %v, want a statsd address error", err)
			}
		})
	}
}

func TestRunWithoutStatsd(t *testing.T) {
	m, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	// On real time Run keeps the window clock until ctx is done.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := m.Run(ctx); err != nil {
		t.Errorf("Run() = %v, want nil", err)
	}
}

func TestNames(t *testing.T) {
	tests := []struct {
		name string
		fn   func(string) string
		in   string
		want string
	}{
		{"plain app", token, "bobbarker", "bobbarker"},
		{"dots and colons", token, "a.b:c|d@e", "a_b_c_d_e"},
		{"runs collapse, ends trimmed", token, "..x  y..", "x_y"},
		{"underscores too", token, "_my__app_", "my_app"},
		{"nothing left", token, "...", "unknown"},
		{"http backend", backendToken, "http://10.0.0.5:3000", "10_0_0_5_3000"},
		{"https backend with path", backendToken, "https://api.example.com/v2/", "api_example_com_v2"},
		{"ipv6 backend", backendToken, "http://[::1]:8080", "1_8080"},
		{"not a url", backendToken, "10.0.0.7:80", "10_0_0_7_80"},
		{"empty prefix", cleanPrefix, "", "migrate"},
		{"dotted prefix", cleanPrefix, ".mig.prod.", "mig.prod"},
		{"unsafe prefix", cleanPrefix, "my app.x:y", "my_app.x_y"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.fn(tt.in); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
