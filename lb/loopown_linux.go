//go:build linux

package lb

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/migratekit/migrate/internal/h1"
)

// The answers a loop gives on its own, with no backend and no request of
// a side: the router's refusals (admit: CONNECT, a host no app claims)
// and the CORS preflights of an app with a policy, with the answers and
// counters of the net/http path (router.refuse, corsPolicy.serve).

// ownable reports whether the loop may answer r itself: a request with a
// body goes to net/http, which reads and drops up to 256 KiB of it to keep
// the connection (the loop would close it).
func ownable(r *h1.Request) bool {
	return r.ContentLength == 0 && !r.Chunked
}

// answerOwn answers the request in c.req itself: the router's refusal
// (a nil: code and body), else a's answer to a preflight.
func (c *clientConn) answerOwn(a *App, code int, body string) bool {
	switch {
	case !ownable(&c.req):
		c.handOff()
	case a == nil:
		c.refuse(code, body)
	default:
		c.preflight(a)
	}
	return true
}

// refuse answers the request in c.req, which the router's rules refuse,
// with code and body, and counts it.
func (c *clientConn) refuse(code int, body string) {
	c.w.srv.rt.refused.Request(code)
	c.own(func(dst []byte) []byte { return appendLoopError(dst, nil, code, body, "", c.connField()) })
}

// preflight answers the CORS preflight in c.req by a's policy: 204, or
// 403 for an origin it does not allow (counted on the client's side).
func (c *clientConn) preflight(a *App) {
	r := &c.req
	var requested []string
	for _, h := range r.Headers {
		if h1.EqualFold(h.Name, "Access-Control-Request-Headers") {
			requested = append(requested, string(h.Value))
		}
	}
	origin := string(firstHeader(r.Headers, "Origin"))
	var fields []string // name, value, name, value...
	set := func(k, v string) { fields = append(fields, k, v) }
	if !a.cors.answer(origin, strings.Join(requested, ", "), set) {
		a.loopSideOf(r, c.peer).tel.ProxyError(reasonCORS)
		c.own(func(dst []byte) []byte {
			return appendCORS(dst, http.StatusForbidden, fields, corsForbidden, c.connField())
		})
		return
	}
	c.own(func(dst []byte) []byte { return appendCORS(dst, http.StatusNoContent, fields, "", c.connField()) })
}

// appendCORS appends the answer to a preflight: status, the policy's
// fields, and the plain-text body of a 403 (plainError's fields).
func appendCORS(dst []byte, code int, fields []string, body, conn string) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst = append(append(append(dst, ' '), http.StatusText(code)...), "\r\n"...)
	for i := 0; i < len(fields); i += 2 {
		dst = append(append(append(append(dst, fields[i]...), ": "...), fields[i+1]...), "\r\n"...)
	}
	if code != http.StatusNoContent {
		dst = append(dst, "Content-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nContent-Length: "...)
		dst = append(strconv.AppendInt(dst, int64(len(body)), 10), "\r\n"...)
	}
	return append(appendConnection(dst, conn), body...)
}

// own queues the answer made by appendTo for the request in c.req, which
// no side serves, and readies the connection for the next request.
func (c *clientConn) own(appendTo func([]byte) []byte) {
	c.closeAfter = c.closeAfter || c.req.Close || c.w.draining
	c.releaseHead()
	c.in.Consume(c.req.HeadLen)
	if c.out.B == nil {
		c.out = c.w.outs.get()
	}
	c.out.Room(len(c.out.B))
	buf := appendTo(c.out.Free()[:0])
	if len(buf) > len(c.out.Free()) {
		c.close() // cannot happen: a head is shorter than out
		return
	}
	c.version(buf)
	c.out.W += len(buf)
	c.waitHead()
}
