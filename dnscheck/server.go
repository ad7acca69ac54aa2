package dnscheck

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// reasonOutOfZone qualifies an authoritative answer whose CNAME chain
// leaves the zone: the server can only vouch for the chain, so it matches
// when its serial is the newest (resolvers check the end of the chain).
const reasonOutOfZone = "cname-out-of-zone"

// authoritative asks one authoritative server, recursion off, for the
// record and for the zone's SOA.
func (ck *checker) authoritative(ctx context.Context, a authServer) Result {
	r := Result{Server: a.Addr, Host: a.Host, Role: RoleAuthoritative}
	soac := make(chan *dns.SOA, 1)
	go func() { soac <- ck.soa(ctx, a.Addr) }()
	ex, err := ck.cl.query(ctx, a.Addr, ck.fqdn, ck.qt, false)
	soa := <-soac
	setExchange(&r, ex)
	if err != nil {
		return failed(r, err)
	}
	ans, err := parseAnswer(ck.fqdn, ck.qt, ex.Msg, ck.opts.MaxChain)
	r.AA = ans.AA
	if err != nil {
		return failed(r, &queryError{Reason: ReasonCNAMELoop, Err: err})
	}
	if soa == nil {
		soa = ans.SOA
	}
	if soa != nil {
		r.Serial, r.Zone = soa.Serial, canonicalName(soa.Hdr.Name)
	}
	r = ck.classify(r, ans)
	if soa != nil {
		r.NegativeTTLSeconds = min(soa.Hdr.Ttl, soa.Minttl)
	}
	if r.Status != StatusFailed && !ans.AA {
		r.Status, r.Reason = StatusFailed, ReasonNotAuthoritative
		r.Error = "the answer does not have the AA bit: the server is not authoritative for the zone (lame delegation?)"
	}
	if r.Status == StatusMissing && ans.Unresolved != "" {
		r.Status, r.Reason = StatusMatch, reasonOutOfZone
	}
	return r
}

// soa asks an authoritative server for the SOA of the checked name's
// zone: the SOA itself at the apex, else the one of a negative answer,
// walking up the labels when an answer has neither (a CNAME at the name).
func (ck *checker) soa(ctx context.Context, server string) *dns.SOA {
	for name := ck.fqdn; name != "."; {
		ex, err := ck.cl.query(ctx, server, name, dns.TypeSOA, false)
		if err != nil {
			return nil
		}
		if soa := findSOA(ex.Msg); soa != nil {
			return soa
		}
		off, end := dns.NextLabel(name, 0)
		if end {
			return nil
		}
		name = name[off:]
	}
	return nil
}

// resolver asks one resolver, recursion on, following a CNAME chain the
// reply leaves unresolved by asking again for its target.
func (ck *checker) resolver(ctx context.Context, addr string) Result {
	r := Result{Role: RoleResolver, Server: addr}
	name := ck.fqdn
	var chain []string
	var chainTTL uint32
	for {
		ex, err := ck.cl.query(ctx, addr, name, ck.qt, true)
		setExchange(&r, ex)
		if err != nil {
			r.Chain = chain
			return failed(r, err)
		}
		ans, err := parseAnswer(name, ck.qt, ex.Msg, ck.opts.MaxChain-len(chain))
		if len(ans.Chain) > 0 {
			chainTTL = minNonZero(chainTTL, ans.ChainTTL)
		}
		chain = append(chain, ans.Chain...)
		if err != nil {
			r.Chain = chain
			return failed(r, &queryError{Reason: ReasonCNAMELoop, Err: err})
		}
		ans.Chain = chain
		if len(chain) > 0 && len(ans.Values) > 0 {
			ans.TTL = min(ans.TTL, chainTTL)
		}
		if ans.Unresolved != "" && len(chain) >= ck.opts.MaxChain {
			return failed(r, &queryError{Reason: ReasonCNAMELoop, Err: fmt.Errorf("following %s: %w (limit %d)", ck.q.Name, errChain, ck.opts.MaxChain)})
		}
		if ans.Unresolved == "" {
			r.AA = ans.AA
			return ck.classify(r, ans)
		}
		name = dns.Fqdn(ans.Unresolved)
	}
}

func minNonZero(a, b uint32) uint32 {
	if a == 0 {
		return b
	}
	return min(a, b)
}

func setExchange(r *Result, ex exchange) {
	r.Attempts += ex.Attempts
	r.RTTMs = float64(ex.RTT.Microseconds()) / 1000
	r.TCP = r.TCP || ex.TCP
}

func failed(r Result, err error) Result {
	r.Status, r.Answers = StatusFailed, []string{}
	r.Reason = reasonOf(err)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		r.Reason = ReasonTimeout
	}
	r.Error = err.Error()
	return r
}

// classify sets the status of a server's answer.
func (ck *checker) classify(r Result, a Answer) Result {
	r.Rcode = dns.RcodeToString[a.Rcode]
	r.Answers, r.Chain, r.TTLSeconds = a.Values, a.Chain, a.TTL
	if r.Answers == nil {
		r.Answers = []string{}
	}
	switch a.Rcode {
	case dns.RcodeSuccess:
	case dns.RcodeNameError:
		r.Status, r.NegativeTTLSeconds = StatusMissing, a.NegTTL
		return r
	case dns.RcodeServerFailure:
		r.Status, r.Reason, r.Error = StatusFailed, ReasonServfail, "the server answered SERVFAIL"
		return r
	case dns.RcodeRefused:
		r.Status, r.Reason, r.Error = StatusFailed, ReasonRefused, "the server answered REFUSED"
		return r
	default:
		r.Status, r.Reason, r.Error = StatusFailed, ReasonRcode, "the server answered "+r.Rcode
		return r
	}
	if len(a.Values) == 0 {
		r.Status, r.NegativeTTLSeconds = StatusMissing, a.NegTTL
		return r
	}
	r.Status = compareValues(ck.q.Type, ck.q.Expect, ck.q.Old, a.Values)
	return r
}

// compareValues says whether answered values are the expected ones
// (match), include old ones and nothing else (stale), or not (wrong).
func compareValues(typ string, expect, old, got []string) Status {
	all, anyOld := true, false
	for _, g := range got {
		switch {
		case anyMatches(typ, expect, g):
		case anyMatches(typ, old, g):
			anyOld = true
		default:
			all = false
		}
	}
	if !all {
		return StatusWrong
	}
	if anyOld {
		return StatusStale
	}
	for _, e := range expect {
		found := false
		for _, g := range got {
			found = found || valueMatches(typ, e, g)
		}
		if !found {
			return StatusWrong // a subset of the expected values
		}
	}
	return StatusMatch
}

// zoneOf returns the zone the authoritative servers named in their SOA.
func zoneOf(rs []Result) string {
	for _, r := range rs {
		if r.Zone != "" {
			return r.Zone
		}
	}
	return ""
}

// ttlLeft is how long a TTL seen at checkedAt still runs at now.
func ttlLeft(ttl uint32, checkedAt, now time.Time) time.Duration {
	return max(0, time.Duration(ttl)*time.Second-now.Sub(checkedAt))
}

// isSubdomain says whether name is zone or under it.
func isSubdomain(name, zone string) bool {
	return name == zone || strings.HasSuffix(name, "."+zone)
}
