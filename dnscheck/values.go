package dnscheck

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// Types are the record types a check supports.
var Types = []string{"A", "AAAA", "CNAME", "TXT", "MX"}

// qtype returns the dns type code of a supported type name.
func qtype(typ string) (uint16, error) {
	switch strings.ToUpper(typ) {
	case "A":
		return dns.TypeA, nil
	case "AAAA":
		return dns.TypeAAAA, nil
	case "CNAME":
		return dns.TypeCNAME, nil
	case "TXT":
		return dns.TypeTXT, nil
	case "MX":
		return dns.TypeMX, nil
	}
	return 0, fmt.Errorf("record type %q: use one of %s", typ, strings.Join(Types, ", "))
}

// ParseValue checks a value of a record of type typ (as given to --expect
// or in the manifest) and returns it in the canonical form answers are
// compared in: addresses as netip prints them, host names lower case
// without the final dot, MX as "host" or "preference host", TXT as is.
func ParseValue(typ, v string) (string, error) {
	switch strings.ToUpper(typ) {
	case "A", "AAAA":
		return parseAddr(strings.ToUpper(typ), v)
	case "CNAME":
		return parseHost(v)
	case "MX":
		return parseMX(v)
	case "TXT":
		if v == "" {
			return "", fmt.Errorf("parsing TXT value: empty")
		}
		return v, nil
	}
	_, err := qtype(typ)
	return "", err
}

// ParseValues parses every value, naming the first bad one.
func ParseValues(typ string, vs []string) ([]string, error) {
	out := make([]string, 0, len(vs))
	for i, v := range vs {
		p, err := ParseValue(typ, v)
		if err != nil {
			return nil, fmt.Errorf("value %d (%q): %w", i+1, v, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func parseAddr(typ, v string) (string, error) {
	ip, err := netip.ParseAddr(strings.TrimSpace(v))
	if err != nil || ip.Zone() != "" {
		return "", fmt.Errorf("parsing %s value %q: not an IP address", typ, v)
	}
	if typ == "A" && !ip.Is4() {
		return "", fmt.Errorf("parsing A value %q: not an IPv4 address", v)
	}
	if typ == "AAAA" && (!ip.Is6() || ip.Is4In6()) {
		return "", fmt.Errorf("parsing AAAA value %q: not an IPv6 address", v)
	}
	return ip.String(), nil
}

func parseHost(v string) (string, error) {
	h := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(v), "."))
	if h == "" {
		return "", fmt.Errorf("parsing host name %q: empty", v)
	}
	if strings.HasPrefix(h, ".") || strings.HasSuffix(h, ".") || strings.Contains(h, "..") {
		return "", fmt.Errorf("parsing host name %q: empty label", v)
	}
	if i := strings.IndexFunc(h, func(r rune) bool { return r <= ' ' || r == 0x7f }); i >= 0 {
		return "", fmt.Errorf("parsing host name %q: space or control character at %d", v, i)
	}
	if _, ok := dns.IsDomainName(h); !ok || len(h) > 253 {
		return "", fmt.Errorf("parsing host name %q: not a domain name", v)
	}
	for _, l := range dns.SplitDomainName(h) {
		if l == "" || strings.ContainsAny(l, " \t\\\"()") {
			return "", fmt.Errorf("parsing host name %q: bad label %q", v, l)
		}
	}
	return h, nil
}

func parseMX(v string) (string, error) {
	f := strings.Fields(v)
	switch len(f) {
	case 1:
		return parseHost(f[0])
	case 2:
		p, err := strconv.ParseUint(f[0], 10, 16)
		if err != nil {
			return "", fmt.Errorf("parsing MX value %q: preference %q is not 0-65535", v, f[0])
		}
		h, err := parseHost(f[1])
		if err != nil {
			return "", err
		}
		return strconv.FormatUint(p, 10) + " " + h, nil
	}
	return "", fmt.Errorf("parsing MX value %q: want \"host\" or \"preference host\"", v)
}

// valueMatches says whether an answered value (canonical) matches a
// wanted one (canonical). An MX wanted without a preference matches any
// preference.
func valueMatches(typ, want, got string) bool {
	if typ == "MX" && !strings.Contains(want, " ") {
		return mxHost(got) == want
	}
	return want == got
}

// anyMatches says whether got matches one of wants.
func anyMatches(typ string, wants []string, got string) bool {
	for _, w := range wants {
		if valueMatches(typ, w, got) {
			return true
		}
	}
	return false
}

// rrValue returns the canonical value of an answer record of the checked
// type, and false for a record of another type.
func rrValue(rr dns.RR) (string, bool) {
	switch r := rr.(type) {
	case *dns.A:
		ip, ok := netip.AddrFromSlice(r.A.To4())
		return ip.String(), ok
	case *dns.AAAA:
		ip, ok := netip.AddrFromSlice(r.AAAA.To16())
		return ip.String(), ok
	case *dns.CNAME:
		return canonicalName(r.Target), true
	case *dns.MX:
		return strconv.Itoa(int(r.Preference)) + " " + canonicalName(r.Mx), true
	case *dns.TXT:
		return strings.Join(r.Txt, ""), true
	}
	return "", false
}

// canonicalName is a name lower case without the final dot.
func canonicalName(n string) string {
	return strings.ToLower(strings.TrimSuffix(n, "."))
}

// mxHost is the host of an MX value with or without a preference.
func mxHost(v string) string {
	if _, host, ok := strings.Cut(v, " "); ok {
		return host
	}
	return v
}
