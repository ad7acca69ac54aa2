package dnscheck

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/migratekit/migrate/manifest"
)

// benchPanel starts n resolvers answering the new value after latency, on
// 127.0.1.x, and one authoritative server.
func benchPanel(b *testing.B, n int, latency time.Duration) (auth *dnsServer, res []*dnsServer) {
	z := newZone(2, rr("www.example.test.", 300, "A", "192.0.2.10"))
	auth = startServer(b, "127.0.0.53", z, behaveNormal)
	auth.latency = latency
	for i := range n {
		s := startServer(b, fmt.Sprintf("127.0.1.%d", i+1), z, behaveRecursive)
		s.latency = latency
		res = append(res, s)
	}
	return auth, res
}

func benchOptions(auth *dnsServer, res []*dnsServer) Options {
	opts := Options{Timeout: 2 * time.Second, Retries: 1}
	opts.Authoritative = []string{auth.Addr}
	for _, s := range res {
		opts.Resolvers = append(opts.Resolvers, s.Addr)
	}
	return opts
}

var benchQuery = Query{Name: "www.example.test", Type: "A", Expect: []string{"192.0.2.10"}}

// BenchmarkCheck50: one check of 50 resolvers that each answer after
// 20 ms. It reports the check's time over the slowest answer (rtt_ms) it
// saw: about 1 means the servers were asked at once.
func BenchmarkCheck50(b *testing.B) {
	auth, res := benchPanel(b, 50, 20*time.Millisecond)
	opts := benchOptions(auth, res)
	ctx := context.Background()
	var ratios []float64
	for b.Loop() {
		opts.Limits = NewLimits(manifest.DefaultDNSRate) // a fresh check, not held back by the previous one
		start := time.Now()
		rep, err := Check(ctx, benchQuery, opts)
		took := time.Since(start)
		if err != nil || !rep.Done() {
			b.Fatalf("check: done %v, err %v", rep.Done(), err)
		}
		slowest := 0.0
		for _, r := range append(rep.Resolvers, rep.Authoritative...) {
			slowest = max(slowest, r.RTTMs)
		}
		ratios = append(ratios, float64(took.Microseconds())/1000/slowest)
	}
	slices.Sort(ratios)
	b.ReportMetric(ratios[len(ratios)/2], "x_slowest_median")
	b.ReportMetric(ratios[len(ratios)-1], "x_slowest_max")
}

// BenchmarkDigLoop50: the peer, what a dig loop does: miekg/dns's own
// client asking the same 50 resolvers one after the other.
func BenchmarkDigLoop50(b *testing.B) {
	_, res := benchPanel(b, 50, 20*time.Millisecond)
	c := &dns.Client{Timeout: 2 * time.Second}
	for b.Loop() {
		for _, s := range res {
			m := new(dns.Msg)
			m.SetQuestion("www.example.test.", dns.TypeA)
			if _, _, err := c.Exchange(m, s.Addr); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkRateLimit50: back-to-back checks of the same 50 resolvers
// sharing one Limits at the default 20 queries per second per server. It
// reports the most queries any server got within one second (at most 20
// plus the burst of 1 is the limit respected) and the checks per second
// that allows.
func BenchmarkRateLimit50(b *testing.B) {
	auth, res := benchPanel(b, 50, 20*time.Millisecond)
	opts := benchOptions(auth, res)
	opts.Limits = NewLimits(manifest.DefaultDNSRate)
	ctx := context.Background()
	start := time.Now()
	for b.Loop() {
		if _, err := Check(ctx, benchQuery, opts); err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	most := 0
	for _, s := range append(res, auth) {
		most = max(most, maxInWindow(s.arrivals(), time.Second))
	}
	b.ReportMetric(float64(most), "max_queries_per_server_per_s")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "checks_per_s")
}

// maxInWindow is the most arrivals within any window of length w.
func maxInWindow(ts []time.Time, w time.Duration) int {
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	most, lo := 0, 0
	for hi := range ts {
		for ts[hi].Sub(ts[lo]) >= w {
			lo++
		}
		most = max(most, hi-lo+1)
	}
	return most
}
