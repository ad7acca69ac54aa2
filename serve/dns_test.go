package serve

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"

	"github.com/migratekit/migrate/admin"
	"github.com/migratekit/migrate/dashboards"
	"github.com/migratekit/migrate/dnscheck"
	"github.com/migratekit/migrate/internal/testsvc"
	"github.com/migratekit/migrate/manifest"
)

// dnsRecord is what a test DNS server answers for one A record: an
// authoritative server with AA and the zone's SOA, or a resolver (RA set).
type dnsRecord struct {
	mu     sync.Mutex
	ip     string
	serial uint32
}

func (d *dnsRecord) set(ip string, serial uint32) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ip, d.serial = ip, serial
}

// handler answers every A question with the record's address, TTL 60.
func (d *dnsRecord) handler(authoritative bool) dns.HandlerFunc {
	return func(w dns.ResponseWriter, r *dns.Msg) {
		d.mu.Lock()
		ip, serial := d.ip, d.serial
		d.mu.Unlock()
		m := new(dns.Msg)
		m.SetReply(r)
		m.Authoritative, m.RecursionAvailable = authoritative, !authoritative
		q := r.Question[0]
		if q.Qtype == dns.TypeA {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP(ip)})
		}
		if authoritative {
			m.Ns = append(m.Ns, &dns.SOA{Hdr: dns.RR_Header{Name: "example.test.", Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 60},
				Ns: "ns1.example.test.", Mbox: "hostmaster.example.test.", Serial: serial, Refresh: 60, Retry: 60, Expire: 600, Minttl: 5})
		}
		w.WriteMsg(m)
	}
}

// startDNS serves h on UDP and TCP of a free port of ip until the end of
// the test, and returns its HOST:PORT.
func startDNS(t *testing.T, ip string, h dns.Handler) string {
	t.Helper()
	return testsvc.StartDNS(t, ip, h)
}

// waitDNS polls app's status on the admin API until its dns field
// satisfies ok, and returns that status.
func waitDNS(t *testing.T, c *admin.Client, app string, ok func(*admin.DNSStatus) bool) admin.AppStatus {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var st admin.AppStatus
	for time.Now().Before(deadline) {
		var err error
		if st, err = c.App(context.Background(), app); err != nil {
			t.Fatalf("reading status: %v", err)
		}
		if st.DNS != nil && ok(st.DNS) {
			return st
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the dns status of %s never got there; last: %+v", app, st.DNS)
	return st
}

// TestServeWatchesDNS runs an instance whose app has a dns: record on
// miekg/dns servers: before the change the status and the dashboard
// frame show the record stale with its servers; after it, propagated,
// and a dns_propagated event is recorded.
func TestServeWatchesDNS(t *testing.T) {
	const name, oldIP, newIP = "shop.example.test", "198.51.100.7", "192.0.2.10"
	oldB, newB := backend(t, 200, "old"), backend(t, 200, "new")
	rec := &dnsRecord{}
	rec.set(oldIP, 1)
	auth := startDNS(t, "127.0.0.54", rec.handler(true))
	res := startDNS(t, "127.0.0.71", rec.handler(false))
	inst, _ := start(t, fmt.Sprintf(`defaults:
  listen: 127.0.0.1:0
  admin: {listen: 127.0.0.1:0}
apps:
  shop:
    old: {backends: [%s]}
    new: {backends: [%s]}
    shadow: {sample: 0%%}
    dns: [{name: %s, type: A, expect: [%s], old: [%s]}]
    dns_check: {authoritative: [%q], resolvers: [%q], system_resolvers: false, timeout: 500ms, retries: 1, rate: 1000, interval: 50ms, max_interval: 100ms}
`, oldB.URL, newB.URL, name, newIP, oldIP, auth, res))
	c := &admin.Client{BaseURL: inst.AdminAddr().String()}
	ctx := context.Background()

	before := waitDNS(t, c, "shop", func(d *admin.DNSStatus) bool { return len(d.Records) == 1 })
	wantStale := []admin.DNSRecordStatus{{Name: name, Type: "A", ETABasis: dnscheck.ETAAuthoritativeLagging,
		Stale: []string{"authoritative " + auth + " stale", "resolver " + res + " stale"}}}
	if diff := cmp.Diff(before.DNS.Records, wantStale); diff != "" {
		t.Errorf("status dns before the change (-got +want):\n%s", diff)
	}
	checkFrame(t, inst.Dashboard.Sample(ctx), []dashboards.ResolverStatus{
		{Resolver: auth, Answer: []string{oldIP}, TTL: 60, Role: "authoritative", Status: "stale"},
		{Resolver: res, Answer: []string{oldIP}, TTL: 60, Status: "stale"},
	}, 0)

	rec.set(newIP, 2)
	after := waitDNS(t, c, "shop", func(d *admin.DNSStatus) bool { return d.Done })
	wantDone := []admin.DNSRecordStatus{{Name: name, Type: "A", Propagated: 1, Agreement: 1, Done: true, ETABasis: dnscheck.ETAPropagated}}
	if diff := cmp.Diff(after.DNS.Records, wantDone); diff != "" {
		t.Errorf("status dns after the change (-got +want):\n%s", diff)
	}
	checkFrame(t, inst.Dashboard.Sample(ctx), []dashboards.ResolverStatus{
		{Resolver: auth, OK: true, Answer: []string{newIP}, TTL: 60, Role: "authoritative", Status: "match"},
		{Resolver: res, OK: true, Answer: []string{newIP}, TTL: 60, Status: "match"},
	}, 1)

	evs, err := c.Events(ctx, "shop", 100)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range evs {
		if e.Actor == dnscheck.ActorDNSCheck {
			kinds = append(kinds, e.Kind)
		}
	}
	if diff := cmp.Diff(kinds, []string{dnscheck.KindPropagated}); diff != "" {
		t.Errorf("dnscheck events (-got +want):\n%s", diff)
	}
}

// checkFrame checks the DNS panel of the frame's only app.
func checkFrame(t *testing.T, f dashboards.Frame, want []dashboards.ResolverStatus, propagated float64) {
	t.Helper()
	if len(f.Apps) != 1 || f.Apps[0].DNS == nil || len(f.Apps[0].DNS.Records) != 1 {
		t.Fatalf("frame has no DNS panel for one record: %+v", f.Apps)
	}
	r := f.Apps[0].DNS.Records[0]
	if r.Propagated != propagated {
		t.Errorf("frame: propagated %v, want %v", r.Propagated, propagated)
	}
	if diff := cmp.Diff(r.Resolvers, want); diff != "" {
		t.Errorf("frame: servers (-got +want):\n%s", diff)
	}
}

// TestServeDNSWatchOff: with dns_check.watch false the instance runs no
// watch: no dns field in the status, no DNS panel in the frame.
func TestServeDNSWatchOff(t *testing.T) {
	oldB, newB := backend(t, 200, "old"), backend(t, 200, "new")
	inst, _ := start(t, fmt.Sprintf(`defaults:
  listen: 127.0.0.1:0
  admin: {listen: 127.0.0.1:0}
apps:
  shop:
    old: {backends: [%s]}
    new: {backends: [%s]}
    shadow: {sample: 0%%}
    dns: [{name: shop.example.test, type: A, expect: [192.0.2.10]}]
    dns_check: {authoritative: ["127.0.0.54:1"], resolvers: ["127.0.0.71:1"], system_resolvers: false, watch: false}
`, oldB.URL, newB.URL))
	if got := len(inst.dns.watchers); got != 0 {
		t.Errorf("%d dns watchers, want none", got)
	}
	st, err := (&admin.Client{BaseURL: inst.AdminAddr().String()}).App(context.Background(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	if st.DNS != nil {
		t.Errorf("status has dns %+v, want none", st.DNS)
	}
	if f := inst.Dashboard.Sample(context.Background()); len(f.Apps) != 1 || f.Apps[0].DNS != nil {
		t.Errorf("frame apps %+v, want one without DNS", f.Apps)
	}
}

// TestDNSWatchWithoutResolvConf: a resolv.conf that cannot be read does
// not stop the instance: the watch runs on the other resolvers and the
// log says so; a manifest problem still fails.
func TestDNSWatchWithoutResolvConf(t *testing.T) {
	m := plainManifest(t, "")
	a := m.Apps["shop"]
	a.DNS = []manifest.DNSRecord{{Name: "shop.example.test", Type: "A", Expect: []string{"192.0.2.10"}}}
	a.DNSCheck.Resolvers = []string{"127.0.0.71:1"}
	var log syncBuffer
	inst := &Instance{log: slog.New(slog.NewTextHandler(&log, nil))}
	d, err := inst.newDNSWatch(m, []string{"shop"}, filepath.Join(t.TempDir(), "missing-resolv.conf"))
	if err != nil || len(d.watchers) != 1 {
		t.Fatalf("newDNSWatch() with no resolv.conf = %v, %v; want one watcher", d, err)
	}
	if !strings.Contains(log.String(), "without the system's resolvers") {
		t.Errorf("log does not say so: %s", log.String())
	}
	a.DNSCheck.ClientSubnet = "not a subnet"
	if _, err := inst.newDNSWatch(m, []string{"shop"}, filepath.Join(t.TempDir(), "missing-resolv.conf")); err == nil {
		t.Error("newDNSWatch() with a bad client_subnet succeeded")
	}
}
