package forward

import "net/netip"

// PeerAddr is the address of a client connection's RemoteAddr, normally
// "ip:port" (tried first: a failed netip.ParseAddr allocates its error),
// unmapped; the zero Addr when it is none.
func PeerAddr(remoteAddr string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remoteAddr); err == nil {
		return ap.Addr().Unmap()
	}
	return ParseHop(remoteAddr)
}

// ParseHop parses an entry of an X-Forwarded-For chain: "1.2.3.4",
// "1.2.3.4:80", "::1", "[::1]" or "[::1]:80", unmapped; the zero Addr
// when it is none of these.
func ParseHop(s string) netip.Addr {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap()
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil && a.Is6() {
			return a.Unmap()
		}
	}
	return netip.Addr{}
}

// Trusted reports whether a is a trusted proxy: in one of the prefixes of
// trusted (its zone, if any, left out).
func Trusted(a netip.Addr, trusted []netip.Prefix) bool {
	if !a.IsValid() {
		return false
	}
	a = a.WithZone("")
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
