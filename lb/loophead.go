package lb

import (
	"net/http"
	"net/netip"
	"net/textproto"
	"net/url"
	"strconv"
	"unsafe"

	"github.com/migratekit/migrate/internal/forward"
	"github.com/migratekit/migrate/internal/h1"
)

// Heads of the event-loop data path (loop_linux.go): the backend's request
// head made from the client's, and the client's answer head made from the
// backend's, with the rules of package forward that net/http's path
// follows too (rewrite): hop-by-hop headers and those a Connection header
// names dropped, X-Forwarded-* set, the client's Host kept.

// connectionNamed reports whether a Connection header of hs names name
// (a header for this hop only).
func connectionNamed(hs []h1.Header, name []byte) bool {
	for _, h := range hs {
		if len(h.Name) == 10 && h1.EqualFold(h.Name, "Connection") &&
			forward.HasToken(h.Value, unsafe.String(unsafe.SliceData(name), len(name))) {
			return true
		}
	}
	return false
}

// hasConnection reports whether hs has a Connection header.
func hasConnection(hs []h1.Header) bool {
	for _, h := range hs {
		if len(h.Name) == 10 && h1.EqualFold(h.Name, "Connection") {
			return true
		}
	}
	return false
}

// appendLoopRequest appends the head of the request r (a client's, parsed
// by h1.ParseRequest) as it goes to backend b of s; upgrade, when not
// empty, is the protocol it switches to, which the proxy carries:
// Connection: Upgrade and Upgrade: upgrade are sent (forward.RequestHeader).
func (s *side) appendLoopRequest(dst []byte, r *h1.Request, b *backend, peer netip.Addr, upgrade []byte) []byte {
	dst = append(dst, r.Method...)
	dst = append(dst, ' ')
	dst = b.appendTarget(dst, r.Target)
	dst = append(dst, " HTTP/1.1\r\n"...)
	trusted := forward.Trusted(peer, s.app.trusted)
	named := hasConnection(r.Headers)
	if r.Host == nil { // HTTP/1.0 without one: net/http's transport names the backend's
		dst = appendHeader(dst, []byte("Host"), []byte(b.url.Host))
	}
	var seen [forward.None]bool
	var prior []byte // the client's X-Forwarded-For chain, when trusted
	teTrailers := false
	for _, h := range r.Headers {
		if bit := forward.HopOf(h.Name); bit&forward.Request != 0 || (named && !framing(h.Name) && connectionNamed(r.Headers, h.Name)) {
			teTrailers = teTrailers || (bit == forward.TE && forward.AsksTrailers(h.Value))
			continue
		}
		if reserved(h.Name) {
			continue
		}
		if x := forward.FieldOf(h.Name); x != forward.None {
			if !trusted {
				continue
			}
			seen[x] = true
			if x == forward.For {
				if len(prior) > 0 {
					prior = append(prior, ", "...)
				}
				prior = append(prior, h.Value...)
				continue
			}
		}
		dst = appendHeader(dst, h.Name, h.Value)
	}
	if teTrailers {
		dst = append(dst, "Te: trailers\r\n"...)
	}
	if len(upgrade) > 0 {
		dst = append(append(append(dst, "Connection: Upgrade\r\nUpgrade: "...), upgrade...), "\r\n"...)
	}
	dst = append(dst, "X-Forwarded-For: "...)
	dst = forward.AppendFor(dst, prior, peer)
	dst = append(dst, "\r\n"...)
	if !seen[forward.Proto] {
		dst = append(append(append(dst, "X-Forwarded-Proto: "...), forward.ProtoOf(false)...), "\r\n"...) // a loop serves no TLS
	}
	if !seen[forward.Host] {
		dst = appendHeader(dst, []byte("X-Forwarded-Host"), r.Host)
	}
	return append(dst, "\r\n"...)
}

// framing reports whether name is a field that frames a body
// (Content-Length, Transfer-Encoding): it goes on with the body as it
// came, even when a Connection header names it (net/http's path writes
// the framing from the body itself; nginx ignores such names).
func framing(name []byte) bool {
	return (len(name) == 14 && h1.EqualFold(name, "Content-Length")) || (len(name) == 17 && h1.EqualFold(name, "Transfer-Encoding"))
}

func appendHeader(dst, name, value []byte) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	return append(dst, "\r\n"...)
}

// appendLoopResponse appends the head of the backend's answer r as it goes
// to the client: minted is a sticky cookie to set, conn the value of the
// Connection header to send ("" for none, connectionField), dechunk says
// the body goes without its chunked framing (to an HTTP/1.0 client).
func (s *side) appendLoopResponse(dst []byte, r *h1.Response, minted, conn string, dechunk bool) []byte {
	// The client's connection is HTTP/1.1 whatever the backend speaks
	// (the status line is "HTTP/1.x SP 3DIGIT ...", h1.ParseResponse).
	dst = append(dst, "HTTP/1.1"...)
	dst = append(dst, r.StatusLine[len("HTTP/1.x"):]...)
	dst = append(dst, "\r\n"...)
	named := hasConnection(r.Headers)
	coded := r.Chunked || r.OtherCoding
	// A 1xx or 204 answer has no body, and must not say it has one (RFC
	// 9110 8.6, RFC 9112 6.1): a client could read the next answer as it.
	bodiless := r.Status < 200 || r.Status == http.StatusNoContent
	length := false // a Content-Length went out: its copies do not (ParseResponse checked they agree)
	for _, h := range r.Headers {
		if forward.HopOf(h.Name)&forward.Always != 0 || (named && !framing(h.Name) && connectionNamed(r.Headers, h.Name)) {
			continue
		}
		switch {
		case len(h.Name) == 14 && h1.EqualFold(h.Name, "Content-Length"):
			if coded || bodiless || length {
				continue // Transfer-Encoding rules (RFC 9112 6.3)
			}
			length = true
		case (bodiless || dechunk) && len(h.Name) == 17 && h1.EqualFold(h.Name, "Transfer-Encoding"):
			continue
		}
		dst = appendHeader(dst, h.Name, h.Value)
	}
	return s.appendOwnHeaders(dst, minted, conn)
}

// appendOwnHeaders appends the proxy's own answer headers and ends the
// head.
func (s *side) appendOwnHeaders(dst []byte, minted, conn string) []byte {
	if s.app.debug {
		dst = append(append(append(dst, "X-Migrate-Side: "...), s.name...), "\r\n"...)
	}
	if minted != "" {
		dst = append(append(append(dst, "Set-Cookie: "...), minted...), "\r\n"...)
	}
	return appendConnection(dst, conn)
}

// appendConnection appends the Connection header conn, if any, and ends
// the head.
func appendConnection(dst []byte, conn string) []byte {
	if conn != "" {
		dst = append(append(append(dst, "Connection: "...), conn...), "\r\n"...)
	}
	return append(dst, "\r\n"...)
}

// connectionField is the Connection header of an answer (net/http's
// server's rule): on HTTP/1.1 "close" when the connection closes after
// it; on HTTP/1.0 "keep-alive" when it stays open, none when it closes
// (what 1.0 does by default).
func connectionField(http10, close bool) string {
	switch {
	case http10 && !close:
		return "keep-alive"
	case !http10 && close:
		return "close"
	}
	return ""
}

// appendLoopError appends a short plain-text answer of the proxy's own
// (plainError on the loop path); s may be nil for answers of no side.
func appendLoopError(dst []byte, s *side, code int, body, minted, conn string) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst = append(dst, ' ')
	dst = append(dst, http.StatusText(code)...)
	dst = append(dst, "\r\n"...)
	for _, f := range ownFields {
		dst = append(append(append(append(dst, f[0]...), ": "...), f[1]...), "\r\n"...)
	}
	dst = append(dst, "Content-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\r\n"...)
	if s != nil {
		dst = s.appendOwnHeaders(dst, minted, conn)
	} else {
		dst = appendConnection(dst, conn)
	}
	return append(dst, body...)
}

// pickLoop is pick on the loop path: the side of the client of request r
// from peer, and the Set-Cookie value of a sticky cookie minted for it
// ("" if none) with the cookie's value.
func (a *App) pickLoop(r *h1.Request, peer netip.Addr) (s *side, minted, key string) {
	i, key := choose(a, func() ([]byte, bool) {
		v := stickyCookieIn(r.Headers, a.cookie)
		return v, v != nil
	}, func() int { return ipPoint(a.loopClientIP(r, peer)) }, true)
	if key != "" {
		minted = a.setCookie(key, false)
	}
	return a.sides[i], minted, key
}

// loopSideOf is sideOf on the loop path: the side of the client without
// minting a cookie (a client with no cookie counts as old).
func (a *App) loopSideOf(r *h1.Request, peer netip.Addr) *side {
	i, _ := choose(a, func() ([]byte, bool) {
		v := stickyCookieIn(r.Headers, a.cookie)
		return v, v != nil
	}, func() int { return ipPoint(a.loopClientIP(r, peer)) }, false)
	return a.sides[i]
}

// mirrorLeaves reports whether the app's mirror leaves the request r of a
// client split to s alone (see Sampler); mintedKey is the value of a
// sticky cookie minted for the answer ("" if none).
func (a *App) mirrorLeaves(r *h1.Request, peer netip.Addr, s *side, mintedKey string) bool {
	m, ok := a.mirror.(Sampler)
	if !ok {
		return a.mirror == nil
	}
	serving := a.servingSide(s)
	if serving == nil {
		return true // answered 502 by the proxy: nothing to mirror
	}
	key, ok := cookieKey(a.cookie != "", func() ([]byte, bool) {
		v := stickyCookieIn(r.Headers, a.cookie)
		return v, v != nil
	}, mintedKey)
	if !ok {
		var buf [64]byte
		key = a.loopClientIP(r, peer).AppendTo(buf[:0])
	}
	return m.Leaves(serving.name, key)
}

// loopHTTPRequest is the request r of a loop's client at peer as net/http
// would read it, for a LoopMirror: every part copied out of the loop's
// buffer.
func loopHTTPRequest(r *h1.Request, peer netip.Addr) *http.Request {
	target := string(r.Target)
	u, err := url.ParseRequestURI(target)
	if err != nil { // h1.ParseRequest took an origin-form target already
		u = &url.URL{Path: target}
	}
	h := make(http.Header, len(r.Headers))
	for _, f := range r.Headers {
		if reserved(f.Name) {
			continue
		}
		if name := textproto.CanonicalMIMEHeaderKey(string(f.Name)); name != "Host" {
			h[name] = append(h[name], string(f.Value))
		}
	}
	proto, minor := "HTTP/1.1", 1
	if r.HTTP10 {
		proto, minor = "HTTP/1.0", 0
	}
	return &http.Request{
		Method: string(r.Method), URL: u, RequestURI: target,
		Proto: proto, ProtoMajor: 1, ProtoMinor: minor,
		Header: h, Host: string(r.Host), ContentLength: r.ContentLength, Close: r.Close,
		RemoteAddr: netip.AddrPortFrom(peer, 0).String(),
	}
}

// answerHeader is the header of the backend's answer r as net/http's
// ReverseProxy passes it on, for a LoopMirror: hop-by-hop fields and
// Transfer-Encoding (net/http's framing) left out.
func answerHeader(r *h1.Response) http.Header {
	h := make(http.Header, len(r.Headers))
	named := hasConnection(r.Headers)
	for _, f := range r.Headers {
		if forward.HopOf(f.Name)&forward.Always != 0 || (named && connectionNamed(r.Headers, f.Name)) ||
			(len(f.Name) == 17 && h1.EqualFold(f.Name, "Transfer-Encoding")) {
			continue
		}
		name := textproto.CanonicalMIMEHeaderKey(string(f.Name))
		h[name] = append(h[name], string(f.Value))
	}
	return h
}

// loopClientIP is ClientIP on the loop path.
func (a *App) loopClientIP(r *h1.Request, peer netip.Addr) netip.Addr {
	if !forward.Trusted(peer, a.trusted) {
		return peer
	}
	var lines []string
	for _, h := range r.Headers {
		if forward.FieldOf(h.Name) == forward.For {
			lines = append(lines, string(h.Value))
		}
	}
	return clientIP(peer, lines, a.trusted)
}

// stickyCookieIn is StickyCookie over parsed headers: the value of the
// first well-formed cookie called name, or nil.
func stickyCookieIn(hs []h1.Header, name string) []byte {
	for _, h := range hs {
		if len(h.Name) == 6 && h1.EqualFold(h.Name, "Cookie") {
			if v, ok := stickyInLine(h.Value, name); ok {
				return v
			}
		}
	}
	return nil
}

// loopPreflight is isPreflight on the loop path.
func loopPreflight(r *h1.Request) bool {
	return preflight(string(r.Method), string(firstHeader(r.Headers, "Origin")), string(firstHeader(r.Headers, "Access-Control-Request-Method")))
}

// firstHeader is the value of the first field of hs called name (nil if
// none), as http.Header.Get.
func firstHeader(hs []h1.Header, name string) []byte {
	for _, h := range hs {
		if len(h.Name) == len(name) && h1.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return nil
}

// loopResendable is resendable for a parsed request.
func loopResendable(r *h1.Request) bool {
	keyed := false
	for _, h := range r.Headers {
		keyed = keyed || isIdempotencyKey(h.Name)
	}
	return resendable(unsafe.String(unsafe.SliceData(r.Method), len(r.Method)), keyed)
}

// loopCapable reports whether a loop can proxy the app's requests: every
// backend is http (a loop does not speak TLS) at an IP address or a host
// name (resolved, see resolve.go), nothing wraps the app's handler, and a
// mirror, if any, can say which requests it leaves alone (Sampler).
func loopCapable(a *App) bool {
	if _, ok := a.mirror.(Sampler); a.wrapped || (a.mirror != nil && !ok) {
		return false
	}
	for _, s := range a.sides {
		for _, b := range s.pool.backends() {
			if b.url.Scheme != "http" || !b.ip.IsValid() && b.host == "" {
				return false
			}
		}
	}
	return true
}
