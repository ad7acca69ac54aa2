package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/migratekit/migrate/dnscheck"
	"github.com/migratekit/migrate/internal/testsvc"
	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/state"
)

// dnsTestServer answers A queries for one name with its current value,
// authoritatively, with a SOA of its current serial in negative answers
// and for SOA queries.
type dnsTestServer struct {
	addr   string
	mu     sync.Mutex
	value  string
	serial uint32
}

func (s *dnsTestServer) set(value string, serial uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.value, s.serial = value, serial
}

func (s *dnsTestServer) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	s.mu.Lock()
	value, serial := s.value, s.serial
	s.mu.Unlock()
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative, m.RecursionAvailable = true, true
	q := r.Question[0]
	soa := &dns.SOA{Hdr: dns.RR_Header{Name: "example.test.", Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 60},
		Ns: "ns1.example.test.", Mbox: "h.example.test.", Serial: serial, Minttl: 30}
	switch {
	case q.Qtype == dns.TypeA && strings.EqualFold(q.Name, "www.example.test."):
		m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP(value)})
	case q.Qtype == dns.TypeSOA && strings.EqualFold(q.Name, "example.test."):
		m.Answer = append(m.Answer, soa)
	default:
		m.Ns = append(m.Ns, soa)
	}
	w.WriteMsg(m)
}

// startDNSTest starts a dnsTestServer on ip (UDP and TCP) answering value.
func startDNSTest(t *testing.T, ip, value string, serial uint32) *dnsTestServer {
	t.Helper()
	s := &dnsTestServer{value: value, serial: serial}
	s.addr = testsvc.StartDNS(t, ip, s)
	return s
}

func TestDNSCheckCommand(t *testing.T) {
	const newIP, oldIP = "192.0.2.10", "198.51.100.7"
	auth1 := startDNSTest(t, "127.0.0.53", newIP, 2)
	auth2 := startDNSTest(t, "127.0.0.54", newIP, 2)
	lagging := startDNSTest(t, "127.0.0.55", oldIP, 1)
	res := startDNSTest(t, "127.0.0.70", newIP, 2)
	base := []string{"dnscheck", "www.example.test", "--type", "A", "--expect", newIP, "--old", oldIP, "--timeout", "300ms", "--retries", "1"}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string
		wantErr  []string
	}{
		{"propagated", append(base, "--authoritative", auth1.addr, "--authoritative", auth2.addr, "--resolver", res.addr), exitOK,
			[]string{"PROPAGATED: 1/1 resolvers (100%), 2/2 authoritative agree on serial 2", "authoritative  " + auth1.addr}, nil},
		{"a lagging authoritative server", append(base, "--authoritative", auth1.addr, "--authoritative", lagging.addr, "--resolver", res.addr), exitCheck,
			[]string{"serial 1 (lagging)", "NOT PROPAGATED"}, []string{"www.example.test A not propagated: 100% of resolvers, 50% of authoritative servers"}},
		{"a stale resolver", append(base, "--authoritative", auth1.addr, "--resolver", res.addr, "--resolver", lagging.addr), exitCheck,
			[]string{"NOT PROPAGATED: 1/2 resolvers (50%)", "ETA in 1m0s (cache of " + lagging.addr + ")"}, nil},
		{"bad type", []string{"dnscheck", "www.example.test", "--type", "SRV", "--expect", "x", "--resolver", res.addr}, exitUsage,
			nil, []string{`record type "SRV": use one of A, AAAA, CNAME, TXT, MX`}},
		{"bad expected value", []string{"dnscheck", "www.example.test", "--type", "A", "--expect", "2001:db8::1", "--resolver", res.addr}, exitUsage,
			nil, []string{`expected value 1 ("2001:db8::1"): parsing A value "2001:db8::1": not an IPv4 address`}},
		{"no --expect", []string{"dnscheck", "www.example.test", "--resolver", res.addr}, exitUsage, nil, []string{`required flag(s) "expect" not set`}},
		{"bad resolver", []string{"dnscheck", "www.example.test", "--expect", newIP, "--resolver", "nope"}, exitUsage, nil, []string{`resolver "nope": want HOST:PORT or an IP address`}},
		{"bad client subnet", append(base, "--resolver", res.addr, "--client-subnet", "10.0.0.1"), exitUsage, nil, []string{`--client-subnet "10.0.0.1": not a CIDR`}},
		{"a resolv.conf named and missing", append(base, "--resolver", res.addr, "--system-resolvers", "--resolv-conf", "/nonexistent/resolv.conf"), exitUsage,
			nil, []string{"reading the system's resolvers: open /nonexistent/resolv.conf: no such file or directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runCLI(t, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d; stdout:\n%s\nstderr:\n%s", code, tt.wantCode, out, errs)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("stdout does not contain %q:\n%s", w, out)
				}
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr does not contain %q:\n%s", w, errs)
				}
			}
		})
	}
}

func TestDNSCheckCommandJSON(t *testing.T) {
	auth := startDNSTest(t, "127.0.0.53", "192.0.2.10", 2)
	code, out, errs := runCLI(t, "dnscheck", "www.example.test", "--expect", "192.0.2.10", "--authoritative", auth.addr, "--resolver", auth.addr, "--format", "json")
	if code != exitOK {
		t.Fatalf("exit code %d, stderr %s", code, errs)
	}
	var rep dnscheck.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("decoding %q: %v", out, err)
	}
	if !rep.Complete || rep.Propagated != 1 || rep.Serial != 2 || rep.Zone != "example.test" || rep.Resolvers[0].Answers[0] != "192.0.2.10" {
		t.Errorf("report %+v", rep)
	}
}

// writeDNSManifest writes a manifest whose app shop watches www.example.test
// A on the given servers.
func writeDNSManifest(t *testing.T, auth, res string) string {
	t.Helper()
	data := fmt.Sprintf(`apps:
  shop:
    old: {backends: [http://127.0.0.1:1]}
    new: {backends: [http://127.0.0.1:2]}
    dns: [{name: www.example.test, type: A, expect: [192.0.2.10], old: [198.51.100.7]}]
    dns_check:
      authoritative: [%q]
      resolvers: [%q]
      system_resolvers: false
      timeout: 300ms
      retries: 1
      interval: 100ms
      max_interval: 200ms
`, auth, res)
	return writeConfig(t, t.TempDir(), data)
}

// TestDNSCheckWatchCommand: watch exits 1 at --timeout while a record is
// stale, then 0 once it has propagated, with the event in the state store
// and the gauges on --metrics-listen while it runs.
func TestDNSCheckWatchCommand(t *testing.T) {
	auth := startDNSTest(t, "127.0.0.53", "198.51.100.7", 1)
	res := startDNSTest(t, "127.0.0.70", "198.51.100.7", 1)
	cfg := writeDNSManifest(t, auth.addr, res.addr)
	dataDir := t.TempDir()
	watch := []string{"--config", cfg, "--data-dir", dataDir, "dnscheck", "watch", "shop", "--until-propagated"}

	code, out, errs := runCLI(t, append(watch, "--timeout", "1s")...)
	if code != exitCheck || !strings.Contains(errs, "shop: dns not propagated within 1s") || !strings.Contains(out, "resolver "+res.addr+" stale") {
		t.Errorf("stale: code %d, want %d; stdout:\n%s\nstderr:\n%s", code, exitCheck, out, errs)
	}

	metricsAddr := freeAddr(t)
	type result struct {
		code      int
		out, errs string
	}
	done := make(chan result, 1)
	go func() {
		c, o, e := runCLI(t, append(watch, "--timeout", "30s", "--metrics-listen", metricsAddr, "--format", "json")...)
		done <- result{c, o, e}
	}()
	if got := scrapeUntil(t, "http://"+metricsAddr+"/metrics", `migrate_dns_propagated_ratio{app="shop",record="www.example.test/A"} 0`); !got {
		t.Errorf("the gauge of the stale record never showed on /metrics")
	}
	auth.set("192.0.2.10", 2)
	res.set("192.0.2.10", 2)
	r := <-done
	if r.code != exitOK {
		t.Fatalf("propagated: code %d, stderr:\n%s", r.code, r.errs)
	}
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	var lastRound struct {
		Done    bool              `json:"done"`
		Reports []dnscheck.Report `json:"reports"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &lastRound); err != nil || !lastRound.Done || len(lastRound.Reports) != 1 {
		t.Errorf("last JSON line %q: %+v, %v", lines[len(lines)-1], lastRound, err)
	}
	store, err := state.Open(context.Background(), manifest.State{}, dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	evs, err := store.Events(context.Background(), state.Query{App: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Kind != dnscheck.KindPropagated {
		t.Errorf("events %+v, want one %s", evs, dnscheck.KindPropagated)
	}
}

func TestDNSCheckWatchBadInput(t *testing.T) {
	cfg := writeDNSManifest(t, "127.0.0.1:1", "127.0.0.1:2")
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"unknown app", []string{"--config", cfg, "dnscheck", "watch", "nope"}, `app "nope" is not in the manifest`},
		{"bad format", []string{"--config", cfg, "dnscheck", "watch", "shop", "--format", "yaml"}, `--format "yaml"`},
		{"negative timeout", []string{"--config", cfg, "dnscheck", "watch", "shop", "--timeout", "-1s"}, "--timeout -1s is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := runCLI(t, tt.args...)
			if code != exitUsage || !strings.Contains(errs, tt.wantErr) {
				t.Errorf("code %d, stderr %q; want %d and %q", code, errs, exitUsage, tt.wantErr)
			}
		})
	}
}

// scrapeUntil GETs url until its body contains want, for up to 10s.
func scrapeUntil(t *testing.T, url, want string) bool {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(b), want) {
				return true
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}
