package fallback

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jonboulle/clockwork"
)

func TestCounterWindows(t *testing.T) {
	clock := clockwork.NewFakeClockAt(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	c := NewCounter(clock)
	a, b := netip.MustParseAddr("203.0.113.1"), netip.MustParseAddr("2001:db8::1")
	type counts struct {
		PerMinute float64
		Clients   uint64
	}
	tests := []struct {
		name    string
		advance time.Duration
		record  []netip.Addr
		want    counts
	}{
		{name: "two clients, one twice", record: []netip.Addr{a, a, b}, want: counts{3, 2}},
		{name: "30s on, one more", advance: 30 * time.Second, record: []netip.Addr{a}, want: counts{4, 2}},
		{name: "the first second leaves the minute", advance: 30 * time.Second, want: counts{1, 2}},
		{name: "a slot reused a minute later counts afresh", advance: 60 * time.Second, record: []netip.Addr{b}, want: counts{1, 2}},
		{name: "an unknown address is one client", record: []netip.Addr{{}}, want: counts{2, 3}},
		{name: "60 minutes on, the last windows still count", advance: 60 * time.Minute, want: counts{0, 3}},
		{name: "70 minutes on, every window has rotated out", advance: 10 * time.Minute, want: counts{0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock.Advance(tt.advance)
			for _, ip := range tt.record {
				c.Record(ip)
			}
			if diff := cmp.Diff(counts{c.PerMinute(), c.Clients()}, tt.want); diff != "" {
				t.Errorf("(-got +want):\n%s", diff)
			}
		})
	}
}

// TestCounterEstimate checks the sketch's estimate of many clients, spread
// over the hour's windows, within 3%.
func TestCounterEstimate(t *testing.T) {
	clock := clockwork.NewFakeClock()
	c := NewCounter(clock)
	const n = 20000
	for i := range n {
		if i%4000 == 0 {
			clock.Advance(10 * time.Minute) // five windows
		}
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		c.Record(ip)
		c.Record(ip) // a repeat adds nothing
	}
	got := float64(c.Clients())
	if got < n*0.97 || got > n*1.03 {
		t.Errorf("estimated %v clients, want %d within 3%%", got, n)
	}
}

// The counting benchmarks see a new client on every request, the worst
// case for memory: the sketches stay at their fixed size (7 of 16 KiB per
// app), the exact set grows with every client and stores its address.

func benchIP(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)})
}

func BenchmarkCounterRecord(b *testing.B) {
	c := NewCounter(nil)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		c.Record(benchIP(i))
	}
}

// BenchmarkCounterExactSet is the peer: distinct clients counted in an
// exact set of addresses, as a naive counter would.
func BenchmarkCounterExactSet(b *testing.B) {
	var mu sync.Mutex
	set := make(map[netip.Addr]struct{})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		mu.Lock()
		set[benchIP(i)] = struct{}{}
		mu.Unlock()
	}
}

// BenchmarkGuard is the fallback's work on a request before lb proxies it:
// the loop check, the count and the header.
func BenchmarkGuard(b *testing.B) {
	g := &guard{id: "fb1", value: []string{"fb1"}, counter: NewCounter(nil)}
	h := g.wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "203.0.113.7:51234"
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		delete(r.Header, Header)
		h.ServeHTTP(w, r)
	}
}
