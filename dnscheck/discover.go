package dnscheck

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/miekg/dns"
)

// errNoZone is returned when no SOA is found for the name or a parent.
var errNoZone = errors.New("no SOA found")

// discover finds the zone of the checked name (walking up its labels to
// the SOA), its NS set and every IPv4 and IPv6 address of every NS,
// asking the first resolver of the panel that answers.
func (ck *checker) discover(ctx context.Context) (string, []authServer, error) {
	var errs []error
	for _, res := range ck.res {
		zone, auths, err := ck.discoverWith(ctx, res)
		if err == nil {
			return zone, auths, nil
		}
		errs = append(errs, fmt.Errorf("asking %s: %w", res, err))
		if ctx.Err() != nil {
			break
		}
	}
	if len(errs) == 0 {
		return "", nil, ErrNoServers
	}
	return "", nil, errors.Join(errs...)
}

func (ck *checker) discoverWith(ctx context.Context, res string) (string, []authServer, error) {
	zone, err := ck.findZone(ctx, res)
	if err != nil {
		return "", nil, err
	}
	ex, err := ck.cl.query(ctx, res, zone, dns.TypeNS, true)
	if err != nil {
		return "", nil, fmt.Errorf("asking for the NS of %s: %w", zone, err)
	}
	var hosts []string
	for _, rr := range ex.Msg.Answer {
		if ns, ok := rr.(*dns.NS); ok && !slices.Contains(hosts, ns.Ns) {
			hosts = append(hosts, ns.Ns)
		}
	}
	if len(hosts) == 0 {
		return "", nil, fmt.Errorf("zone %s: no NS records (rcode %s)", zone, dns.RcodeToString[ex.Msg.Rcode])
	}
	var auths []authServer
	for _, h := range hosts {
		addrs, err := ck.addresses(ctx, res, h)
		if err != nil {
			return "", nil, err
		}
		for _, a := range addrs {
			auths = append(auths, authServer{Addr: a, Host: canonicalName(h)})
		}
	}
	if len(auths) == 0 {
		return "", nil, fmt.Errorf("zone %s: no address for its name servers %v", zone, hosts)
	}
	return canonicalName(zone), auths, nil
}

// findZone walks up from the checked name to the first name with an SOA.
// A negative answer's SOA names the zone at once.
func (ck *checker) findZone(ctx context.Context, res string) (string, error) {
	for name := ck.fqdn; ; {
		ex, err := ck.cl.query(ctx, res, name, dns.TypeSOA, true)
		if err != nil {
			return "", fmt.Errorf("asking for the SOA of %s: %w", name, err)
		}
		if soa := findSOA(ex.Msg); soa != nil && isSubdomain(canonicalName(name), canonicalName(soa.Hdr.Name)) {
			return dns.CanonicalName(soa.Hdr.Name), nil
		}
		off, end := dns.NextLabel(name, 0)
		if end || name == "." {
			return "", fmt.Errorf("%s: %w", ck.q.Name, errNoZone)
		}
		name = name[off:]
	}
}

// addresses returns HOST:PORT for every A and AAAA of a name server.
func (ck *checker) addresses(ctx context.Context, res, host string) ([]string, error) {
	var out []string
	for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
		ex, err := ck.cl.query(ctx, res, host, qt, true)
		if err != nil {
			return nil, fmt.Errorf("asking for the addresses of %s: %w", host, err)
		}
		ans, err := parseAnswer(dns.Fqdn(host), qt, ex.Msg, ck.opts.MaxChain)
		if err != nil {
			return nil, fmt.Errorf("asking for the addresses of %s: %w", host, err)
		}
		for _, v := range ans.Values {
			out = append(out, joinHostPort(v, ck.opts.AuthoritativePort))
		}
	}
	return out, nil
}

func joinHostPort(ip string, port int) string {
	if slices.Contains([]byte(ip), ':') {
		return "[" + ip + "]:" + strconv.Itoa(port)
	}
	return ip + ":" + strconv.Itoa(port)
}
