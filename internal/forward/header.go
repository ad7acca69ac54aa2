package forward

import (
	"net/http"
	"net/netip"
	"strings"
)

// The rules on an http.Header: net/http's path of lb and the shadow
// mirror. The loops apply them to a head's bytes (lb's loophead.go).

// RequestHeader removes from h, the header of a request on its way to a
// backend, the hop-by-hop fields (Request), the fields its Connection
// fields name, and Transfer-Encoding (the sender frames the body); it
// keeps "TE: trailers" when the TE field asked for trailers. upgrade, when
// not "", is the protocol the request switches to, which the proxy
// carries: Connection: Upgrade and Upgrade: upgrade are sent.
func RequestHeader(h http.Header, upgrade string) {
	teTrailers := false
	for _, v := range h["Te"] {
		teTrailers = teTrailers || AsksTrailers(v)
	}
	for _, v := range h["Connection"] {
		for name := range strings.SplitSeq(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for name := range h {
		if HopOf(name)&Request != 0 {
			delete(h, name)
		}
	}
	delete(h, "Transfer-Encoding")
	if teTrailers {
		h["Te"] = teTrailersValue
	}
	if upgrade != "" {
		h["Connection"] = upgradeValue
		h["Upgrade"] = []string{upgrade}
	}
}

// Shared values, never modified (capacity 1: an append copies).
var (
	teTrailersValue = []string{"trailers"}[:1:1]
	upgradeValue    = []string{"Upgrade"}[:1:1]
	protoValues     = [2][]string{[]string{"http"}[:1:1], []string{"https"}[:1:1]}
)

// SetXForwarded sets X-Forwarded-For, -Proto and -Host in out, the header
// of a request on its way to a backend, for a client at peer (the zero
// Addr: no X-Forwarded-For) that sent in for host, over TLS or not;
// trusted says the peer is a trusted proxy, whose own values in in are
// kept.
func SetXForwarded(out, in http.Header, trusted bool, peer netip.Addr, host string, tls bool) {
	vals := new([2]string) // one allocation for both per-request values
	if peer.IsValid() {
		var buf [64]byte
		var prior []byte
		if chain := in["X-Forwarded-For"]; trusted && len(chain) > 0 {
			prior = []byte(strings.Join(chain, ", "))
		}
		vals[0] = string(AppendFor(buf[:0], prior, peer))
		out["X-Forwarded-For"] = vals[0:1:1]
	} else {
		delete(out, "X-Forwarded-For")
	}
	out["X-Forwarded-Proto"] = protoValues[b2i(tls)]
	if v := in["X-Forwarded-Proto"]; trusted && len(v) > 0 {
		out["X-Forwarded-Proto"] = v
	}
	vals[1] = host
	out["X-Forwarded-Host"] = vals[1:2:2]
	if v := in["X-Forwarded-Host"]; trusted && len(v) > 0 {
		out["X-Forwarded-Host"] = v
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
