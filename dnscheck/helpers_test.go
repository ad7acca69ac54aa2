package dnscheck

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"

	"github.com/migratekit/migrate/internal/testsvc"
)

// testZone is the zone the test servers serve.
const testZone = "example.test."

// zone is the mutable data of an authoritative test server.
type zone struct {
	mu     sync.Mutex
	serial uint32
	negTTL uint32
	rrs    []dns.RR
}

func newZone(serial uint32, records ...string) *zone {
	z := &zone{serial: serial, negTTL: 2}
	z.set(serial, records...)
	return z
}

// set replaces the records (zone-file lines, names relative to nothing)
// and the serial.
func (z *zone) set(serial uint32, records ...string) {
	var rrs []dns.RR
	for _, s := range records {
		rr, err := dns.NewRR(s)
		if err != nil {
			panic(fmt.Sprintf("test record %q: %v", s, err))
		}
		rrs = append(rrs, rr)
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	z.serial, z.rrs = serial, rrs
}

func (z *zone) soa() *dns.SOA {
	return &dns.SOA{Hdr: dns.RR_Header{Name: testZone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 60},
		Ns: "ns1." + testZone, Mbox: "hostmaster." + testZone, Serial: z.serial, Refresh: 60, Retry: 60, Expire: 600, Minttl: z.negTTL}
}

// answer fills m, an answer to q, the way an authoritative server does:
// records of the name (following in-zone CNAMEs), else NODATA or NXDOMAIN
// with the SOA.
func (z *zone) answer(q dns.Question, m *dns.Msg) {
	z.mu.Lock()
	defer z.mu.Unlock()
	m.Authoritative = true
	name := dns.CanonicalName(q.Name)
	if !dns.IsSubDomain(testZone, name) {
		m.Authoritative = false
		m.Rcode = dns.RcodeRefused
		return
	}
	for range DefaultMaxChain {
		var found, exists bool
		for _, rr := range z.all() {
			h := rr.Header()
			if dns.CanonicalName(h.Name) != name {
				continue
			}
			exists = true
			if h.Rrtype == q.Qtype {
				m.Answer = append(m.Answer, dns.Copy(rr))
				found = true
			}
		}
		if found {
			return
		}
		var cname *dns.CNAME
		for _, rr := range z.all() {
			if c, ok := rr.(*dns.CNAME); ok && dns.CanonicalName(c.Hdr.Name) == name {
				cname = c
			}
		}
		if cname == nil {
			if !exists && len(m.Answer) == 0 {
				m.Rcode = dns.RcodeNameError
			}
			m.Ns = append(m.Ns, z.soa())
			return
		}
		m.Answer = append(m.Answer, dns.Copy(cname))
		name = dns.CanonicalName(cname.Target)
		if !dns.IsSubDomain(testZone, name) {
			return
		}
	}
}

// all is the zone's records with the SOA and NS at the apex; z.mu held.
func (z *zone) all() []dns.RR {
	ns := &dns.NS{Hdr: dns.RR_Header{Name: testZone, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: 60}, Ns: "ns1." + testZone}
	return append([]dns.RR{z.soa(), ns}, z.rrs...)
}

// behavior is how a test server misbehaves.
type behavior int

const (
	behaveNormal behavior = iota
	behaveServfail
	behaveWrongID
	behaveTruncateUDP // TC over UDP, the full answer over TCP
	behaveRecursive   // answers as a resolver would: RA set, AA clear
	behaveOtherName   // answers a question for another name
	behaveGarbage     // answers bytes that are not a DNS message
)

// dnsServer is a miekg/dns server on UDP and TCP of one loopback address.
type dnsServer struct {
	Addr    string
	zone    *zone
	behave  behavior
	latency time.Duration

	mu      sync.Mutex
	queries []time.Time // arrival times, for the rate-limit check
	last    *dns.Msg    // the last query
}

func (s *dnsServer) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	s.mu.Lock()
	s.queries = append(s.queries, time.Now())
	s.last = r.Copy()
	s.mu.Unlock()
	if s.latency > 0 {
		time.Sleep(s.latency)
	}
	m := new(dns.Msg)
	m.SetReply(r)
	if o := r.IsEdns0(); o != nil {
		m.SetEdns0(o.UDPSize(), false)
	}
	_, udp := w.RemoteAddr().(*net.UDPAddr)
	switch {
	case s.behave == behaveServfail:
		m.Rcode = dns.RcodeServerFailure
	case s.behave == behaveTruncateUDP && udp:
		m.Truncated = true
	default:
		s.zone.answer(r.Question[0], m)
	}
	if s.behave == behaveRecursive {
		m.Authoritative, m.RecursionAvailable = false, true
	}
	switch s.behave {
	case behaveWrongID:
		m.Id++
	case behaveOtherName:
		m.Question[0].Name = "other.example.test."
	case behaveGarbage:
		w.Write([]byte{byte(r.Id >> 8), byte(r.Id), 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 3, 'w'})
		return
	}
	w.WriteMsg(m)
}

// lastQuery returns the last query the server got.
func (s *dnsServer) lastQuery() *dns.Msg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// arrivals returns the arrival times of the queries seen.
func (s *dnsServer) arrivals() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.queries...)
}

// startServer starts a DNS server on ip (any free port, UDP and TCP)
// and stops it at the end of the test.
func startServer(t testing.TB, ip string, z *zone, b behavior) *dnsServer {
	t.Helper()
	pc, ln := listenBoth(t, ip)
	return serve(t, pc, ln, z, b)
}

// startServerOn starts an authoritative server of z on addr, a HOST:PORT
// that was free, and returns addr.
func startServerOn(t testing.TB, addr string, z *zone) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, pc, ln, z, behaveNormal).Addr
}

func serve(t testing.TB, pc net.PacketConn, ln net.Listener, z *zone, b behavior) *dnsServer {
	t.Helper()
	s := &dnsServer{zone: z, behave: b}
	s.Addr = pc.LocalAddr().String()
	testsvc.ServeDNS(t, pc, ln, s)
	return s
}

// listenBoth binds UDP and TCP on the same free port of ip.
func listenBoth(t testing.TB, ip string) (net.PacketConn, net.Listener) {
	t.Helper()
	return testsvc.ListenDNS(t, ip)
}

// silentServer is a UDP socket that reads and never answers.
func silentServer(t testing.TB, ip string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", ip+":0")
	if err != nil {
		t.Fatalf("listening on %s: %v", ip, err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc.LocalAddr().String()
}

// fastOptions are check options for loopback servers.
func fastOptions() Options {
	return Options{Timeout: 300 * time.Millisecond, Retries: 1, Backoff: 10 * time.Millisecond, Rate: 1000}
}

// byServer indexes results by server address.
func byServer(rs []Result) map[string]Result {
	m := make(map[string]Result, len(rs))
	for _, r := range rs {
		m[r.Server] = r
	}
	return m
}

// poll calls f until it returns true or d passes.
func poll(t *testing.T, d time.Duration, f func(ctx context.Context) bool) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for {
		if f(ctx) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func rr(name string, ttl int, typ, value string) string {
	return fmt.Sprintf("%s %d IN %s %s", name, ttl, typ, value)
}

func diffOf(got, want any) string { return cmp.Diff(got, want) }

func writeFile(path, data string) error { return os.WriteFile(path, []byte(data), 0o644) }
