// Package forward holds the forwarding rules of a request on its way from a
// client to a backend, each written once for every path that forwards one:
// lb's event loops (heads as bytes), lb's net/http path and the shadow
// mirror (http.Header). A path adapts its own form of the head to them and
// decides nothing on its own.
package forward

import "github.com/migratekit/migrate/internal/h1"

// Hop is a set of hop-by-hop header fields (RFC 9110 7.6.1), one bit per
// name of hopNames: fields that describe one connection and stop at the
// proxy. Transfer-Encoding is framing, which each path writes itself.
type Hop uint16

// The hop-by-hop fields.
const (
	Connection Hop = 1 << iota
	KeepAlive
	ProxyConnection
	ProxyAuthenticate
	ProxyAuthorization
	TE
	Trailer
	Upgrade
	Expect
	Forwarded
)

var hopNames = [...]string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Upgrade", "Expect", "Forwarded"}

// Always are the hop-by-hop fields dropped both ways; Request those
// dropped from requests. Expect: the proxy answers it and reads the body
// itself. Forwarded: the proxy sets X-Forwarded-* instead (as
// httputil.ReverseProxy does with Rewrite). Trailer is not hop-by-hop
// (RFC 9110 6.6.2, though RFC 2616's list had it): a message's Trailer
// field announces its trailer section, which passes on with its chunked
// body, a request's as an answer's.
const (
	Always  = Connection | KeepAlive | ProxyConnection | ProxyAuthenticate | ProxyAuthorization | TE | Upgrade
	Request = Always | Expect | Forwarded
)

// HopOf is the bit of the header field called name (ASCII
// case-insensitive), or 0 when it is not hop-by-hop.
func HopOf[T string | []byte](name T) Hop {
	if len(name) < 2 || len(name) > 19 {
		return 0
	}
	for i, h := range hopNames {
		if len(h) == len(name) && h1.EqualFold(name, h) {
			return 1 << i
		}
	}
	return 0
}

// AsksTrailers reports whether a TE value lists "trailers". The TE field
// is hop-by-hop, but "TE: trailers" goes on to the backend, as net/http's
// ReverseProxy sends it: gRPC and some backends send trailers only to a
// request that says it takes them.
func AsksTrailers[T string | []byte](v T) bool { return HasToken(v, "trailers") }

// HasToken reports whether the comma-separated list v (a Connection or TE
// value) holds the token t, ignoring ASCII case and the spaces and tabs
// around each item, as httpguts.HeaderValuesContainsToken does.
func HasToken[T string | []byte](v T, t string) bool {
	for len(v) > 0 {
		i := 0
		for i < len(v) && v[i] != ',' {
			i++
		}
		if h1.EqualFold(trimOWS(v[:i]), t) {
			return true
		}
		v = v[min(i+1, len(v)):]
	}
	return false
}

func trimOWS[T string | []byte](v T) T {
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	return v
}
