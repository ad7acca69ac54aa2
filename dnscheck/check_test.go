package dnscheck

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jonboulle/clockwork"
	"github.com/miekg/dns"
)

// outcome is the part of a Result the tests compare.
type outcome struct {
	Status  Status
	Reason  string
	Answers []string
	TCP     bool
}

func outcomes(rs []Result) map[string]outcome {
	m := make(map[string]outcome, len(rs))
	for _, r := range rs {
		m[r.Server] = outcome{r.Status, r.Reason, r.Answers, r.TCP}
	}
	return m
}

// TestCheckBrokenResolvers: a resolver that times out, one answering
// SERVFAIL, one answering with a wrong ID and one whose UDP answer is
// truncated are each reported; the truncated one is answered over TCP.
func TestCheckBrokenResolvers(t *testing.T) {
	z := newZone(2, rr("www.example.test.", 60, "A", "192.0.2.10"))
	auth := startServer(t, "127.0.0.53", z, behaveNormal)
	good := startServer(t, "127.0.0.70", z, behaveRecursive)
	silent := silentServer(t, "127.0.0.61")
	servfail := startServer(t, "127.0.0.62", z, behaveServfail)
	wrongID := startServer(t, "127.0.0.63", z, behaveWrongID)
	trunc := startServer(t, "127.0.0.64", z, behaveTruncateUDP)
	otherName := startServer(t, "127.0.0.65", z, behaveOtherName)
	garbage := startServer(t, "127.0.0.66", z, behaveGarbage)

	opts := fastOptions()
	opts.Authoritative = []string{auth.Addr}
	opts.Resolvers = []string{good.Addr, silent, servfail.Addr, wrongID.Addr, trunc.Addr, otherName.Addr, garbage.Addr}
	rep, err := Check(context.Background(), Query{Name: "www.example.test", Type: "A", Expect: []string{"192.0.2.10"}}, opts)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	got := outcomes(rep.Resolvers)
	want := map[string]outcome{
		good.Addr:      {StatusMatch, "", []string{"192.0.2.10"}, false},
		silent:         {StatusFailed, ReasonTimeout, []string{}, false},
		servfail.Addr:  {StatusFailed, ReasonServfail, []string{}, false},
		wrongID.Addr:   {StatusFailed, ReasonIDMismatch, []string{}, false},
		trunc.Addr:     {StatusMatch, "", []string{"192.0.2.10"}, true},
		otherName.Addr: {StatusFailed, ReasonQuestionMismatch, []string{}, false},
		garbage.Addr:   {StatusFailed, ReasonMalformed, []string{}, false},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("resolver outcomes (-got +want):\n%s", diff)
	}
	if rep.Done() {
		t.Errorf("Done() with failed resolvers")
	}
	if got, want := rep.Propagated, 2.0/7; got != want {
		t.Errorf("propagated %v, want %v", got, want)
	}
	if r := byServer(rep.Resolvers)[silent]; r.Attempts != 2 {
		t.Errorf("timeout resolver: %d attempts, want 2 (one retry)", r.Attempts)
	}
}

// TestCheckRecords: status per server for CNAME chains, AAAA apart from
// A, MX, TXT, loops and names that do not exist.
func TestCheckRecords(t *testing.T) {
	z := newZone(7,
		rr("www.example.test.", 60, "CNAME", "edge.example.test."),
		rr("edge.example.test.", 30, "A", "192.0.2.10"),
		rr("edge.example.test.", 30, "AAAA", "2001:db8::1"),
		rr("cdn.example.test.", 60, "CNAME", "shop.cdn.invalid."),
		rr("loop.example.test.", 60, "CNAME", "loop2.example.test."),
		rr("loop2.example.test.", 60, "CNAME", "loop.example.test."),
		rr("example.test.", 60, "MX", "10 mail.example.test."),
		rr("example.test.", 60, "TXT", `"v=spf1 -all"`),
	)
	auth := startServer(t, "127.0.0.53", z, behaveNormal)
	res := startServer(t, "127.0.0.70", z, behaveRecursive)
	tests := []struct {
		name     string
		q        Query
		wantAuth outcome
		wantRes  outcome
		wantTTL  uint32
	}{
		{"A through a CNAME chain", Query{Name: "www.example.test", Type: "A", Expect: []string{"192.0.2.10"}},
			outcome{StatusMatch, "", []string{"192.0.2.10"}, false}, outcome{StatusMatch, "", []string{"192.0.2.10"}, false}, 30},
		{"AAAA apart from A, still old", Query{Name: "www.example.test", Type: "AAAA", Expect: []string{"2001:db8::2"}, Old: []string{"2001:db8::1"}},
			outcome{StatusStale, "", []string{"2001:db8::1"}, false}, outcome{StatusStale, "", []string{"2001:db8::1"}, false}, 30},
		{"A not in the old values is wrong", Query{Name: "edge.example.test", Type: "A", Expect: []string{"192.0.2.11"}},
			outcome{StatusWrong, "", []string{"192.0.2.10"}, false}, outcome{StatusWrong, "", []string{"192.0.2.10"}, false}, 30},
		{"the CNAME itself", Query{Name: "www.example.test", Type: "CNAME", Expect: []string{"edge.example.test."}},
			outcome{StatusMatch, "", []string{"edge.example.test"}, false}, outcome{StatusMatch, "", []string{"edge.example.test"}, false}, 60},
		{"MX without a preference", Query{Name: "example.test", Type: "MX", Expect: []string{"mail.example.test"}},
			outcome{StatusMatch, "", []string{"10 mail.example.test"}, false}, outcome{StatusMatch, "", []string{"10 mail.example.test"}, false}, 60},
		{"TXT", Query{Name: "example.test", Type: "TXT", Expect: []string{"v=spf1 -all"}},
			outcome{StatusMatch, "", []string{"v=spf1 -all"}, false}, outcome{StatusMatch, "", []string{"v=spf1 -all"}, false}, 60},
		{"a CNAME loop", Query{Name: "loop.example.test", Type: "A", Expect: []string{"192.0.2.10"}},
			outcome{StatusFailed, ReasonCNAMELoop, []string{}, false}, outcome{StatusFailed, ReasonCNAMELoop, []string{}, false}, 0},
		{"a name that does not exist", Query{Name: "new.example.test", Type: "A", Expect: []string{"192.0.2.10"}},
			outcome{StatusMissing, "", []string{}, false}, outcome{StatusMissing, "", []string{}, false}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := fastOptions()
			opts.Authoritative, opts.Resolvers = []string{auth.Addr}, []string{res.Addr}
			rep, err := Check(context.Background(), tt.q, opts)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			got := []outcome{outcomes(rep.Authoritative)[auth.Addr], outcomes(rep.Resolvers)[res.Addr]}
			if diff := cmp.Diff(got, []outcome{tt.wantAuth, tt.wantRes}); diff != "" {
				t.Errorf("outcomes [authoritative, resolver] (-got +want):\n%s", diff)
			}
			if got := rep.Resolvers[0].TTLSeconds; got != tt.wantTTL {
				t.Errorf("resolver TTL %d, want %d", got, tt.wantTTL)
			}
			if got := rep.Authoritative[0].Serial; tt.wantAuth.Status != StatusFailed && got != 7 {
				t.Errorf("serial %d, want 7", got)
			}
		})
	}
}

// TestCheckCNAMEOutOfZone: an authoritative server can only vouch for a
// chain that leaves its zone; it matches when its serial is the newest.
func TestCheckCNAMEOutOfZone(t *testing.T) {
	newer := startServer(t, "127.0.0.53", newZone(3, rr("cdn.example.test.", 60, "CNAME", "shop.cdn.invalid.")), behaveNormal)
	older := startServer(t, "127.0.0.55", newZone(2, rr("cdn.example.test.", 60, "CNAME", "old.cdn.invalid.")), behaveNormal)
	opts := fastOptions()
	opts.Authoritative = []string{newer.Addr, older.Addr}
	rep, err := Check(context.Background(), Query{Name: "cdn.example.test", Type: "A", Expect: []string{"192.0.2.10"}}, opts)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	got := outcomes(rep.Authoritative)
	want := map[string]outcome{
		newer.Addr: {StatusMatch, reasonOutOfZone, []string{}, false},
		older.Addr: {StatusStale, reasonOutOfZone, []string{}, false},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("authoritative outcomes (-got +want):\n%s", diff)
	}
}

// TestETA: the ETA is the longest remaining TTL of a resolver not yet
// answering the expected values; the worst case is the change time plus
// the old TTL, or the negative TTL for a new name.
func TestETA(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	newZ := newZone(2, rr("www.example.test.", 300, "A", "192.0.2.10"))
	auth := startServer(t, "127.0.0.53", newZ, behaveNormal)
	lagging := startServer(t, "127.0.0.55", newZone(1, rr("www.example.test.", 300, "A", "198.51.100.7")), behaveNormal)
	stale30 := startServer(t, "127.0.0.71", newZone(1, rr("www.example.test.", 30, "A", "198.51.100.7")), behaveRecursive)
	stale100 := startServer(t, "127.0.0.72", newZone(1, rr("www.example.test.", 100, "A", "198.51.100.7")), behaveRecursive)
	empty := newZone(1)
	empty.negTTL = 45
	negative := startServer(t, "127.0.0.73", empty, behaveRecursive)
	fresh := startServer(t, "127.0.0.70", newZ, behaveRecursive)

	q := Query{Name: "www.example.test", Type: "A", Expect: []string{"192.0.2.10"}, Old: []string{"198.51.100.7"}}
	qNew := Query{Name: "www.example.test", Type: "A", Expect: []string{"192.0.2.10"}}
	tests := []struct {
		name      string
		q         Query
		auth, res []string
		changedAt time.Time
		oldTTL    time.Duration
		want      ETA
	}{
		{"propagated", q, []string{auth.Addr}, []string{fresh.Addr}, time.Time{}, 0,
			ETA{Basis: ETAPropagated, At: t0, WorstCase: t0.Add(300 * time.Second), WorstCaseBasis: "change at 2026-03-01T12:00:00Z + 5m0s, the longest TTL seen"}},
		{"stale caches", q, []string{auth.Addr}, []string{fresh.Addr, stale30.Addr, stale100.Addr}, t0.Add(-time.Minute), 10 * time.Minute,
			ETA{Basis: ETAResolverTTL, At: t0.Add(100 * time.Second), Seconds: 100, Server: stale100.Addr,
				WorstCase: t0.Add(9 * time.Minute), WorstCaseBasis: "change at 2026-03-01T11:59:00Z + 10m0s, the old TTL given"}},
		{"lagging authoritative", q, []string{auth.Addr, lagging.Addr}, []string{fresh.Addr}, t0, 0,
			ETA{Basis: ETAAuthoritativeLagging, WorstCase: t0.Add(300 * time.Second), WorstCaseBasis: "change at 2026-03-01T12:00:00Z + 5m0s, the longest TTL seen"}},
		{"new name, negative caching", qNew, []string{auth.Addr}, []string{negative.Addr}, t0, 0,
			ETA{Basis: ETAResolverTTL, At: t0.Add(45 * time.Second), Seconds: 45, Server: negative.Addr,
				WorstCase: t0.Add(45 * time.Second), WorstCaseBasis: "change at 2026-03-01T12:00:00Z + 45s, the negative-caching TTL of the SOA (a new name)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := fastOptions()
			opts.Authoritative, opts.Resolvers = tt.auth, tt.res
			opts.Clock, opts.ChangedAt, opts.OldTTL = clockwork.NewFakeClockAt(t0), tt.changedAt, tt.oldTTL
			rep, err := Check(context.Background(), tt.q, opts)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if diff := cmp.Diff(rep.ETA, tt.want); diff != "" {
				t.Errorf("ETA (-got +want):\n%s", diff)
			}
		})
	}
}

func TestCheckBadInput(t *testing.T) {
	tests := []struct {
		name string
		q    Query
		opts Options
		want string
	}{
		{"bad type", Query{Name: "a.test", Type: "SRV", Expect: []string{"x"}}, Options{Resolvers: []string{"127.0.0.1:1"}}, `checking a.test: record type "SRV": use one of A, AAAA, CNAME, TXT, MX`},
		{"bad name", Query{Name: "a..test", Type: "A", Expect: []string{"192.0.2.1"}}, Options{Resolvers: []string{"127.0.0.1:1"}}, `checking record: parsing host name "a..test": empty label`},
		{"no expect", Query{Name: "a.test", Type: "A"}, Options{Resolvers: []string{"127.0.0.1:1"}}, "checking a.test A: no expected value"},
		{"bad expect", Query{Name: "a.test", Type: "A", Expect: []string{"192.0.2.1", "::1"}}, Options{Resolvers: []string{"127.0.0.1:1"}}, `checking a.test A: expected value 2 ("::1"): parsing A value "::1": not an IPv4 address`},
		{"bad resolver", Query{Name: "a.test", Type: "A", Expect: []string{"192.0.2.1"}}, Options{Resolvers: []string{"nope"}}, `checking a.test: resolver "nope": want HOST:PORT or an IP address`},
		{"no servers", Query{Name: "a.test", Type: "A", Expect: []string{"192.0.2.1"}}, Options{}, "checking a.test: no servers to ask"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Check(context.Background(), tt.q, tt.opts)
			if err == nil {
				t.Fatalf("Check: no error, want %q", tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error %q, want %q", got, tt.want)
			}
		})
	}
}

// TestCheckQueryFlags: authoritative servers are asked with recursion off,
// resolvers with it on; both with EDNS0 at 1232 bytes, the DO bit and the
// client subnet when asked for.
func TestCheckQueryFlags(t *testing.T) {
	z := newZone(1, rr("www.example.test.", 60, "A", "192.0.2.10"))
	auth := startServer(t, "127.0.0.53", z, behaveNormal)
	res := startServer(t, "127.0.0.70", z, behaveRecursive)
	opts := fastOptions()
	opts.Authoritative, opts.Resolvers = []string{auth.Addr}, []string{res.Addr}
	opts.DO, opts.ClientSubnet = true, netip.MustParsePrefix("198.51.100.0/24")
	if _, err := Check(context.Background(), Query{Name: "www.example.test", Type: "A", Expect: []string{"192.0.2.10"}}, opts); err != nil {
		t.Fatal(err)
	}
	type flags struct {
		RD, DO  bool
		UDPSize uint16
		Subnet  string
	}
	view := func(m *dns.Msg) flags {
		f := flags{RD: m.RecursionDesired}
		if o := m.IsEdns0(); o != nil {
			f.DO, f.UDPSize = o.Do(), o.UDPSize()
			for _, e := range o.Option {
				if s, ok := e.(*dns.EDNS0_SUBNET); ok {
					f.Subnet = fmt.Sprintf("%s/%d", s.Address, s.SourceNetmask)
				}
			}
		}
		return f
	}
	got := []flags{view(auth.lastQuery()), view(res.lastQuery())}
	want := []flags{{false, true, UDPSize, "198.51.100.0/24"}, {true, true, UDPSize, "198.51.100.0/24"}}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("query flags [authoritative, resolver] (-got +want):\n%s", diff)
	}
}

// TestCheckDiscovery: without --authoritative, the zone is found from the
// SOA of a negative answer, its NS set asked for and every address of
// every NS queried.
func TestCheckDiscovery(t *testing.T) {
	records := []string{
		rr("www.example.test.", 60, "A", "192.0.2.10"),
		rr("example.test.", 60, "NS", "ns2.example.test."),
		rr("ns1.example.test.", 60, "A", "127.0.0.53"),
		rr("ns2.example.test.", 60, "A", "127.0.0.54"),
	}
	z := newZone(4, records...)
	pc, ln := listenBoth(t, "127.0.0.53")
	port := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	ln.Close()
	ns1 := startServerOn(t, fmt.Sprintf("127.0.0.53:%d", port), z)
	ns2 := startServerOn(t, fmt.Sprintf("127.0.0.54:%d", port), z)
	res := startServer(t, "127.0.0.70", z, behaveRecursive)
	opts := fastOptions()
	opts.Resolvers, opts.AuthoritativePort = []string{res.Addr}, port
	rep, err := Check(context.Background(), Query{Name: "www.example.test", Type: "A", Expect: []string{"192.0.2.10"}}, opts)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	var got [][3]string
	for _, a := range rep.Authoritative {
		got = append(got, [3]string{a.Host, a.Server, string(a.Status)})
	}
	want := [][3]string{{"ns1.example.test", ns1, "match"}, {"ns2.example.test", ns2, "match"}}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("discovered servers (-got +want):\n%s", diff)
	}
	if rep.Zone != "example.test" || !rep.Done() {
		t.Errorf("zone %q, done %v; want example.test, true", rep.Zone, rep.Done())
	}
}
