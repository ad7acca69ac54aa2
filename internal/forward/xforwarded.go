package forward

import (
	"net/netip"

	"github.com/migratekit/migrate/internal/h1"
)

// The X-Forwarded-* fields a proxy sends, as
// httputil.ProxyRequest.SetXForwarded sets them: For is the client's
// address, Proto the scheme of the client's connection, Host the client's
// Host. The client's own values count only when its peer is a trusted
// proxy (one in front of this one): For then goes on after its chain, and
// its Proto and Host are kept. Anyone else's are dropped, since a client
// can forge them. Forwarded (RFC 7239) is dropped as hop-by-hop (Request).

// The X-Forwarded-* fields, as FieldOf tells them.
const (
	For = iota
	Proto
	Host
	None
)

// FieldOf tells which X-Forwarded-* field name is (ASCII
// case-insensitive), None if none.
func FieldOf[T string | []byte](name T) int {
	if len(name) < 15 || len(name) > 17 || (name[0]|0x20) != 'x' {
		return None
	}
	switch {
	case h1.EqualFold(name, "X-Forwarded-For"):
		return For
	case h1.EqualFold(name, "X-Forwarded-Host"):
		return Host
	case h1.EqualFold(name, "X-Forwarded-Proto"):
		return Proto
	}
	return None
}

// AppendFor appends the X-Forwarded-For value sent for a client at peer:
// prior, a trusted peer's own chain (its lines joined by ", "; nil when
// the peer is not trusted or sent none), then the peer.
func AppendFor(dst, prior []byte, peer netip.Addr) []byte {
	if len(prior) > 0 {
		dst = append(append(dst, prior...), ", "...)
	}
	return peer.AppendTo(dst)
}

// ProtoOf is the X-Forwarded-Proto sent for a connection over TLS or not,
// when the client's own is not kept.
func ProtoOf(tls bool) string {
	if tls {
		return "https"
	}
	return "http"
}
