package dnscheck

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// startUnbound runs the Debian unbound of MIGRATE_TEST_UNBOUND as a caching
// resolver on ip, with a stub zone for testZone pointing at stubs, and
// stops it at the end of the test. It returns its HOST:PORT.
func startUnbound(t *testing.T, ip string, stubs ...string) string {
	t.Helper()
	bin := os.Getenv("MIGRATE_TEST_UNBOUND")
	if bin == "" {
		t.Fatal("MIGRATE_TEST_UNBOUND is not set: it must name the unbound binary (scripts/test sets it; or export MIGRATE_TEST_UNBOUND=$(command -v unbound))")
	}
	dir := t.TempDir()
	port := freeUDPPort(t, ip)
	var stubLines strings.Builder
	for _, s := range stubs {
		host, p, _ := net.SplitHostPort(s)
		fmt.Fprintf(&stubLines, "    stub-addr: %s@%s\n", host, p)
	}
	conf := fmt.Sprintf(`server:
    verbosity: 1
    do-daemonize: no
    chroot: ""
    username: ""
    directory: %[1]q
    pidfile: ""
    logfile: %[2]q
    use-syslog: no
    interface: %[3]s@%[4]d
    port: %[4]d
    do-ip6: no
    so-reuseport: no
    num-threads: 1
    access-control: 127.0.0.0/8 allow
    do-not-query-localhost: no
    module-config: "iterator"
    qname-minimisation: no
    prefetch: no
    serve-expired: no
    cache-min-ttl: 0
    domain-insecure: %[5]q
    local-zone: %[5]q transparent
stub-zone:
    name: %[5]q
%[6]sremote-control:
    control-enable: no
`, dir, filepath.Join(dir, "unbound.log"), ip, port, testZone, stubLines.String())
	cfg := filepath.Join(dir, "unbound.conf")
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-d", "-c", cfg)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting unbound: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	addr := net.JoinHostPort(ip, fmt.Sprint(port))
	if !poll(t, 10*time.Second, func(ctx context.Context) bool {
		select {
		case err := <-done:
			log, _ := os.ReadFile(filepath.Join(dir, "unbound.log"))
			t.Fatalf("unbound exited: %v\n%s", err, log)
		default:
		}
		m := new(dns.Msg)
		m.SetQuestion(testZone, dns.TypeSOA)
		c := &dns.Client{Timeout: 200 * time.Millisecond}
		r, _, err := c.ExchangeContext(ctx, m, addr)
		return err == nil && r.Rcode == dns.RcodeSuccess
	}) {
		log, _ := os.ReadFile(filepath.Join(dir, "unbound.log"))
		t.Fatalf("unbound on %s did not answer within 10s; its log:\n%s", addr, log)
	}
	return addr
}

func freeUDPPort(t *testing.T, ip string) int {
	t.Helper()
	pc, ln := listenBoth(t, ip)
	port := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	ln.Close()
	return port
}

// TestPropagationThroughUnbound: two authoritative servers have the new
// value and serial, one lags with the old ones; a real unbound has the old
// answer cached. The check reports the lagging server and the stale
// resolver with its remaining TTL, and flips to propagated once the TTL
// runs out (with the lagging server caught up).
func TestPropagationThroughUnbound(t *testing.T) {
	const name, oldIP, newIP = "www.example.test.", "198.51.100.7", "192.0.2.10"
	zones := []*zone{newZone(1, rr(name, 3, "A", oldIP)), newZone(1, rr(name, 3, "A", oldIP)), newZone(1, rr(name, 3, "A", oldIP))}
	var auths []string
	for i, z := range zones {
		auths = append(auths, startServer(t, fmt.Sprintf("127.0.0.%d", 53+i), z, behaveNormal).Addr)
	}
	unbound := startUnbound(t, "127.0.0.60", auths[0], auths[1])

	q := Query{Name: name, Type: "A", Expect: []string{newIP}, Old: []string{oldIP}}
	opts := fastOptions()
	opts.Authoritative, opts.Resolvers = auths, []string{unbound}
	ctx := context.Background()
	// Cache the old answer in unbound, then change two of the three.
	before, err := Check(ctx, q, opts)
	if err != nil {
		t.Fatalf("Check before the change: %v", err)
	}
	if got := before.Resolvers[0].Status; got != StatusStale {
		t.Fatalf("unbound before the change: %s, want stale (result %+v)", got, before.Resolvers[0])
	}
	zones[0].set(2, rr(name, 3, "A", newIP))
	zones[1].set(2, rr(name, 3, "A", newIP))

	rep, err := Check(ctx, q, opts)
	if err != nil {
		t.Fatalf("Check after the change: %v", err)
	}
	type authView struct {
		Status  Status
		Serial  uint32
		Lagging bool
		AA      bool
	}
	var gotAuth []authView
	for _, a := range rep.Authoritative {
		gotAuth = append(gotAuth, authView{a.Status, a.Serial, a.Lagging, a.AA})
	}
	wantAuth := []authView{{StatusMatch, 2, false, true}, {StatusMatch, 2, false, true}, {StatusStale, 1, true, true}}
	if d := diffOf(gotAuth, wantAuth); d != "" {
		t.Errorf("authoritative servers (-got +want):\n%s", d)
	}
	res := rep.Resolvers[0]
	if res.Status != StatusStale || res.TTLSeconds > 3 || len(res.Answers) != 1 || res.Answers[0] != oldIP {
		t.Errorf("unbound: %+v, want stale %s with a TTL of at most 3s", res, oldIP)
	}
	if rep.Done() || rep.ETA.Basis != ETAAuthoritativeLagging {
		t.Errorf("Done %v, ETA basis %q; want not done, %q", rep.Done(), rep.ETA.Basis, ETAAuthoritativeLagging)
	}

	// The lagging server catches up; unbound answers from its cache until
	// the TTL runs out.
	zones[2].set(2, rr(name, 3, "A", newIP))
	rep, err = Check(ctx, q, opts)
	if err != nil {
		t.Fatalf("Check after the catch-up: %v", err)
	}
	if rep.Resolvers[0].Status == StatusStale && rep.ETA.Basis != ETAResolverTTL {
		t.Errorf("ETA basis %q with a stale cache, want %q", rep.ETA.Basis, ETAResolverTTL)
	}
	var last Report
	if !poll(t, 10*time.Second, func(ctx context.Context) bool {
		last, err = Check(ctx, q, opts)
		return err == nil && last.Done()
	}) {
		t.Fatalf("not propagated 10s after a 3s TTL ran out; last report %+v, err %v", last, err)
	}
	if last.Propagated != 1 || last.Agreement != 1 || last.ETA.Basis != ETAPropagated {
		t.Errorf("propagated report: share %v, agreement %v, ETA %q", last.Propagated, last.Agreement, last.ETA.Basis)
	}
}
