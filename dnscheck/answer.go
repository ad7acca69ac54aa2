package dnscheck

import (
	"errors"
	"fmt"
	"slices"

	"github.com/miekg/dns"
)

// DefaultMaxChain bounds the CNAME chain a check follows.
const DefaultMaxChain = 8

// errChain is returned for a CNAME chain that loops or is too long.
var errChain = errors.New("cname chain loops or is too long")

// Answer is what one reply says about the checked record.
type Answer struct {
	Rcode  int
	AA, TC bool
	// Values are the canonical values of the checked type at the end of
	// the CNAME chain, sorted, without duplicates.
	Values []string
	// TTL is the lowest TTL of the records behind Values: the time a
	// resolver keeps them.
	TTL uint32
	// Chain are the CNAME targets followed from the queried name.
	Chain []string
	// ChainTTL is the lowest TTL of the chain's CNAME records.
	ChainTTL uint32
	// Unresolved is the chain's last target when the reply stops there
	// (no record of the type for it and no negative answer).
	Unresolved string
	// NegTTL is the negative-caching TTL of an NXDOMAIN or NODATA reply:
	// the lower of the SOA's TTL and its minimum field.
	NegTTL uint32
	// SOA is the zone's SOA found in the answer or authority section.
	SOA *dns.SOA
}

// parseAnswer reads reply m to a query for qname (a FQDN) of type qt,
// following the CNAME chain in the answer section up to maxChain links.
func parseAnswer(qname string, qt uint16, m *dns.Msg, maxChain int) (Answer, error) {
	a := Answer{Rcode: m.Rcode, AA: m.Authoritative, TC: m.Truncated}
	a.SOA = findSOA(m)
	if a.SOA != nil {
		a.NegTTL = min(a.SOA.Hdr.Ttl, a.SOA.Minttl)
	}
	if m.Rcode != dns.RcodeSuccess {
		return a, nil
	}
	name, err := followChain(&a, qname, qt, m.Answer, maxChain)
	if err != nil {
		return a, err
	}
	first := true
	for _, rr := range m.Answer {
		h := rr.Header()
		if h.Rrtype != qt || h.Class != dns.ClassINET || dns.CanonicalName(h.Name) != name {
			continue
		}
		v, ok := rrValue(rr)
		if !ok {
			continue
		}
		if first || h.Ttl < a.TTL {
			a.TTL = h.Ttl
		}
		first = false
		if !slices.Contains(a.Values, v) {
			a.Values = append(a.Values, v)
		}
	}
	slices.Sort(a.Values)
	if len(a.Chain) > 0 {
		// A cached chain expires with its shortest link.
		a.TTL = min(a.TTL, a.ChainTTL)
		if len(a.Values) == 0 {
			a.TTL = 0
			a.Unresolved = a.Chain[len(a.Chain)-1]
		}
	}
	return a, nil
}

// followChain walks the CNAMEs of the answer section from qname and
// returns the name whose records answer the query. For a CNAME query the
// queried name itself is the answer.
func followChain(a *Answer, qname string, qt uint16, rrs []dns.RR, maxChain int) (string, error) {
	name := dns.CanonicalName(qname)
	if qt == dns.TypeCNAME {
		return name, nil
	}
	seen := map[string]bool{name: true}
	for {
		target, ttl, ok := cnameOf(rrs, name)
		if !ok {
			return name, nil
		}
		if seen[target] || len(a.Chain) >= maxChain {
			return "", fmt.Errorf("following %s: %w (limit %d)", qname, errChain, maxChain)
		}
		seen[target] = true
		a.Chain = append(a.Chain, canonicalName(target))
		if len(a.Chain) == 1 || ttl < a.ChainTTL {
			a.ChainTTL = ttl
		}
		name = target
	}
}

// cnameOf returns the CNAME target of name in rrs.
func cnameOf(rrs []dns.RR, name string) (string, uint32, bool) {
	for _, rr := range rrs {
		c, ok := rr.(*dns.CNAME)
		if ok && c.Hdr.Class == dns.ClassINET && dns.CanonicalName(c.Hdr.Name) == name {
			return dns.CanonicalName(c.Target), c.Hdr.Ttl, true
		}
	}
	return "", 0, false
}

// findSOA returns the first SOA of the answer, else of the authority
// section.
func findSOA(m *dns.Msg) *dns.SOA {
	for _, sec := range [][]dns.RR{m.Answer, m.Ns} {
		for _, rr := range sec {
			if s, ok := rr.(*dns.SOA); ok {
				return s
			}
		}
	}
	return nil
}
