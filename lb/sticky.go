package lb

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/migratekit/migrate/internal/forward"
)

// The sticky split: a client's key (its IP address in canonical text form,
// or the value of the sticky cookie) is hashed with FNV-1a 64 followed by
// the murmur3 64-bit finaliser, and the hash modulo PointScale is its point.
// A client goes to the new side iff point < weight*PointScale/100. The hash
// is fixed and seedless so every migrate instance, and every restart, puts a
// client on the same side; and raising the weight only ever moves clients
// from old to new.

// PointScale is the number of points a sticky key can land on.
const PointScale = 10000

// StickyPoint returns the point of a sticky key, in [0, PointScale).
func StickyPoint(key string) int { return stickyPoint(key) }

func stickyPoint[T string | []byte](key T) int { return SaltedPoint("", key) }

// SaltedPoint is the point in [0, PointScale) of key under salt: FNV-1a 64
// over salt then key, and the murmur3 finaliser (fmix64). The split uses
// no salt; a mirror's sample uses its own, so that the clients it samples
// are not the ones the split moves first (package shadow).
func SaltedPoint[T string | []byte](salt string, key T) int {
	h := uint64(fnvOffset)
	for i := 0; i < len(salt); i++ {
		h = (h ^ uint64(salt[i])) * fnvPrime
	}
	for i := 0; i < len(key); i++ {
		h = (h ^ uint64(key[i])) * fnvPrime
	}
	return int(fmix64(h) % PointScale)
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// fmix64 spreads FNV's weak low bits (murmur3's finaliser).
func fmix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// ipPoint is StickyPoint(ip.String()) without allocating.
func ipPoint(ip netip.Addr) int {
	var buf [64]byte
	return stickyPoint(ip.AppendTo(buf[:0]))
}

// ParseTrusted parses trusted proxy entries: CIDRs ("10.0.0.0/8") or bare
// addresses ("10.0.0.5").
func ParseTrusted(entries []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(entries))
	for _, e := range entries {
		s := strings.TrimSpace(e)
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, fmt.Errorf("parsing trusted proxy %q: %w", e, err)
			}
			if p.Addr().Is4In6() {
				p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("parsing trusted proxy %q: %w", e, err)
		}
		a = a.Unmap().WithZone("")
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// ClientIP returns the address of the client that sent r: the peer address
// (RemoteAddr), unless the peer is a trusted proxy. Then X-Forwarded-For is
// walked right to left, skipping trusted entries, and the first untrusted
// entry is the client. A malformed entry stops the walk: everything to its
// left may be forged, so the last trusted hop is returned instead. If every
// entry is trusted, the leftmost is returned. The result is the zero Addr
// only when RemoteAddr itself is not an address.
func ClientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	return clientIP(forward.PeerAddr(r.RemoteAddr), r.Header["X-Forwarded-For"], trusted)
}

// clientIP is ClientIP for a client at peer that sent the X-Forwarded-For
// lines, on every path.
func clientIP(peer netip.Addr, lines []string, trusted []netip.Prefix) netip.Addr {
	if !forward.Trusted(peer, trusted) {
		return peer
	}
	last := peer
	for i := len(lines) - 1; i >= 0; i-- {
		line := lines[i]
		for line != "" {
			var entry string
			if j := strings.LastIndexByte(line, ','); j >= 0 {
				entry, line = line[j+1:], line[:j]
			} else {
				entry, line = line, ""
			}
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue
			}
			a := forward.ParseHop(entry)
			if !a.IsValid() {
				return last
			}
			if !forward.Trusted(a, trusted) {
				return a
			}
			last = a
		}
	}
	return last
}

// AppendStickyKey appends the sticky key of the client of r as the split
// takes it, for a mirror's sample (shadow): with a sticky cookie called
// cookie ("": none), the value the client sent, else minted (the value
// the proxy minted for this answer; "" if none); else its address through
// the trusted proxies (ClientIP), else r.RemoteAddr as it is.
func AppendStickyKey(dst []byte, r *http.Request, cookie, minted string, trusted []netip.Prefix) []byte {
	if v, ok := cookieKey(cookie != "", func() (string, bool) { return StickyCookie(r, cookie) }, minted); ok {
		return append(dst, v...)
	}
	if a := ClientIP(r, trusted); a.IsValid() {
		return a.AppendTo(dst)
	}
	return append(dst, r.RemoteAddr...)
}

// cookieKey is the sticky key of a client by its cookie, on every path:
// when the app splits by one (byCookie), the valid value it sent (sent),
// else the one minted for this answer ("" if none); ok false: the key is
// the client's address.
func cookieKey[T string | []byte](byCookie bool, sent func() (T, bool), minted string) (key T, ok bool) {
	if !byCookie {
		return key, false
	}
	if v, ok := sent(); ok {
		return v, true
	}
	return T(minted), minted != ""
}

// StickyCookie returns the value of the cookie called name in r, if it is
// present and well-formed (see ValidStickyValue). It does not allocate.
func StickyCookie(r *http.Request, name string) (string, bool) {
	for _, line := range r.Header["Cookie"] {
		if v, ok := stickyInLine(line, name); ok {
			return v, true
		}
	}
	return "", false
}

// stickyInLine is the value of the first well-formed cookie called name in
// one Cookie header line: StickyCookie's rule, for every data path.
func stickyInLine[T string | []byte](line T, name string) (T, bool) {
	for len(line) > 0 {
		end := 0
		for end < len(line) && line[end] != ';' {
			end++
		}
		part := line[:end]
		line = line[min(end+1, len(line)):]
		for len(part) > 0 && (part[0] == ' ' || part[0] == '\t') {
			part = part[1:]
		}
		eq := 0
		for eq < len(part) && part[eq] != '=' {
			eq++
		}
		if eq == len(part) || string(part[:eq]) != name {
			continue
		}
		v := part[eq+1:]
		for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
			v = v[:len(v)-1]
		}
		if validSticky(v) {
			return v, true
		}
	}
	var zero T
	return zero, false
}

// ValidStickyValue reports whether v can be a sticky cookie value: 8 to 64
// characters from A-Z, a-z, 0-9, '-' and '_'.
func ValidStickyValue(v string) bool { return validSticky(v) }

func validSticky[T string | []byte](v T) bool {
	if len(v) < 8 || len(v) > 64 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if !isKeyByte(v[i]) {
			return false
		}
	}
	return true
}

func isKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// validCookieName reports whether name is an RFC 6265 token.
func validCookieName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}
