package dnscheck

import (
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// FuzzParseAnswer: any reply bytes either fail to unpack or parse into an
// answer with sorted, distinct values, a chain within the bound, and no
// TTL without values.
func FuzzParseAnswer(f *testing.F) {
	for _, rrs := range [][]string{
		{rr("www.example.test.", 60, "A", "192.0.2.10")},
		{rr("www.example.test.", 60, "CNAME", "edge.example.test."), rr("edge.example.test.", 30, "A", "192.0.2.10")},
		{rr("www.example.test.", 60, "CNAME", "www.example.test.")},
		{rr("www.example.test.", 60, "MX", "10 mail.example.test.")},
	} {
		m := new(dns.Msg)
		m.SetQuestion("www.example.test.", dns.TypeA)
		for _, s := range rrs {
			r, _ := dns.NewRR(s)
			m.Answer = append(m.Answer, r)
		}
		m.Ns = append(m.Ns, newZone(1).soa())
		wire, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(wire, uint16(dns.TypeA))
	}
	f.Fuzz(func(t *testing.T, wire []byte, qt uint16) {
		m := new(dns.Msg)
		if err := m.Unpack(wire); err != nil {
			return
		}
		a, err := parseAnswer("www.example.test.", qt, m, DefaultMaxChain)
		if err != nil {
			if !strings.Contains(err.Error(), errChain.Error()) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if !slices.IsSorted(a.Values) || len(slices.Compact(slices.Clone(a.Values))) != len(a.Values) {
			t.Errorf("values not sorted and distinct: %q", a.Values)
		}
		if len(a.Chain) > DefaultMaxChain {
			t.Errorf("chain of %d links, bound %d", len(a.Chain), DefaultMaxChain)
		}
		if len(a.Values) == 0 && a.TTL != 0 {
			t.Errorf("TTL %d without values", a.TTL)
		}
		if a.Unresolved != "" && len(a.Values) > 0 {
			t.Errorf("unresolved %q with values %q", a.Unresolved, a.Values)
		}
	})
}

// FuzzParseValue: a value that parses is canonical (parsing it again
// gives it back) and is matched by itself.
func FuzzParseValue(f *testing.F) {
	for _, s := range [][2]string{
		{"A", "192.0.2.1"}, {"A", "::1"}, {"AAAA", "2001:DB8::1"}, {"AAAA", "::ffff:1.2.3.4"},
		{"CNAME", "Edge.Example.COM."}, {"MX", "10 mail.example.com"}, {"MX", "mail"}, {"MX", "70000 x"},
		{"TXT", "v=spf1 -all"}, {"SRV", "x"}, {"CNAME", "a..b"}, {"CNAME", `a\.b`},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, typ, v string) {
		got, err := ParseValue(typ, v)
		if err != nil {
			if got != "" {
				t.Errorf("error %v with a value %q", err, got)
			}
			return
		}
		again, err := ParseValue(typ, got)
		if err != nil || again != got {
			t.Fatalf("ParseValue(%q, %q) = %q, and again %q, %v: not canonical", typ, v, got, again, err)
		}
		if !valueMatches(strings.ToUpper(typ), got, got) {
			t.Errorf("value %q does not match itself", got)
		}
	})
}
