package lb

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/migratekit/migrate/telemetry"
)

// httpApp is an app on net/http's path: its http.Handler, with the
// sides' reverse proxies.
type httpApp struct {
	*App
	sides [2]*httpSide
}

func newHTTPApp(a *App, deps sideDeps) *httpApp {
	h := &httpApp{App: a}
	for i, s := range a.sides {
		h.sides[i] = newHTTPSide(s, deps)
	}
	return h
}

func (a *httpApp) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.serveHTTP(w, r) }

// closeIdle closes the idle connections to the app's backends.
func (a *httpApp) closeIdle() {
	for _, s := range a.sides {
		s.closeIdle()
	}
}

// serveHTTP answers CORS preflights, picks the side of the client and
// proxies the request to it.
func (a *httpApp) serveHTTP(w http.ResponseWriter, r *http.Request) {
	dropReserved(r.Header) // not for the mirror either
	if v := r.Header.Get("Upgrade"); v != "" && !upgradeAllowed(a.upgrades, v) {
		refuseUpgrade(r.Header)
	}
	if a.cors != nil && isPreflight(r) {
		a.cors.serve(w, r, a.sides[a.sideOf(r)].tel)
		return
	}
	if !r.ProtoAtLeast(1, 1) {
		w = noInterim{w}
	}
	a.serveSide(w, r, a.pick(w, r))
}

// noInterim is the answer to an HTTP/1.0 client on net/http's path: a
// backend's interim answers (103 Early Hints) are not passed on, as the
// loops do not pass them (RFC 9110 15.2: no 1xx to an HTTP/1.0 client).
type noInterim struct{ http.ResponseWriter }

func (w noInterim) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w noInterim) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// pick is choose on net/http's path: the side of the client, a sticky
// cookie minted for it set on w.
func (a *httpApp) pick(w http.ResponseWriter, r *http.Request) *httpSide {
	i, minted := choose(a.App, func() (string, bool) { return StickyCookie(r, a.cookie) }, func() int { return a.ipPoint(r) }, true)
	if minted != "" {
		w.Header().Add("Set-Cookie", a.setCookie(minted, r.TLS != nil))
	}
	return a.sides[i]
}

// sideOf is the side of the client without minting a cookie (a client
// with no cookie counts as old).
func (a *httpApp) sideOf(r *http.Request) int {
	i, _ := choose(a.App, func() (string, bool) { return StickyCookie(r, a.cookie) }, func() int { return a.ipPoint(r) }, false)
	return i
}

// serveSide proxies r to s, or to the other side when s is down and
// failover is on, and records the answer on the side that served it.
func (a *httpApp) serveSide(w http.ResponseWriter, r *http.Request, s *httpSide) {
	start := time.Now()
	to := a.serving(s.side)
	if to == nil {
		s.tel.ProxyError(reasonUnavailable)
		s.writeError(w, http.StatusBadGateway, s.unavailable)
		s.tel.Request(http.StatusBadGateway, time.Since(start))
		return
	}
	serving := a.sides[to.index]
	if a.mirror != nil {
		a.mirror.Serve(w, r, serving.name, &sideServe{a: a, s: serving, start: start})
		return
	}
	a.proxy(w, r, serving, start)
}

// proxy proxies r to s and records the answer.
func (a *httpApp) proxy(w http.ResponseWriter, r *http.Request, s *httpSide, start time.Time) {
	rec := recorders.Get().(*recorder)
	rec.ResponseWriter, rec.code = w, 0
	defer a.finish(rec, s, start)
	s.proxy.ServeHTTP(rec, r)
}

// finish records the request; it is deferred so that an aborted response
// (http.ErrAbortHandler) is counted too.
func (a *httpApp) finish(rec *recorder, s *httpSide, start time.Time) {
	s.tel.Request(rec.status(), time.Since(start))
	if v := recover(); v != nil {
		// An answer cut short (ReverseProxy aborts when the backend's body
		// fails): what came of it goes out before the connection closes,
		// as the loops pass it on, so that the client sees it cut.
		if v == http.ErrAbortHandler && rec.code != 0 {
			_ = http.NewResponseController(rec.ResponseWriter).Flush()
		}
		rec.ResponseWriter = nil
		recorders.Put(rec)
		panic(v)
	}
	rec.ResponseWriter = nil
	recorders.Put(rec)
}

// recorders recycles the recorders of every app.
var recorders = sync.Pool{New: func() any { return new(recorder) }}

// recorder remembers the status code of a response.
type recorder struct {
	http.ResponseWriter
	code int
}

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the server's writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Flush implements http.Flusher.
func (r *recorder) Flush() { _ = http.NewResponseController(r.ResponseWriter).Flush() }

// FlushError is what http.ResponseController calls to flush.
func (r *recorder) FlushError() error { return http.NewResponseController(r.ResponseWriter).Flush() }

// Hijack records a protocol switch (websocket), which writes its 101
// status on the raw connection.
func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(r.ResponseWriter).Hijack()
	if err == nil && r.code == 0 {
		r.code = http.StatusSwitchingProtocols
	}
	if g, ok := c.(*gateConn); ok {
		g.tunnel() // what follows the switch passes unjudged
	}
	return c, brw, err
}

func (r *recorder) status() int {
	if r.code == 0 {
		return http.StatusOK
	}
	return r.code
}

func (a *httpApp) ipPoint(r *http.Request) int {
	if ip := ClientIP(r, a.trusted); ip.IsValid() {
		return ipPoint(ip)
	}
	return StickyPoint(r.RemoteAddr)
}

// sideServe is the handler a Mirror calls: it proxies to one side,
// timing the request from when the app received it, mirror work included.
type sideServe struct {
	a     *httpApp
	s     *httpSide
	start time.Time
}

func (h *sideServe) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.a.proxy(w, r, h.s, h.start)
}

// isPreflight reports whether r is a CORS preflight request.
func isPreflight(r *http.Request) bool {
	return preflight(r.Method, r.Header.Get("Origin"), r.Header.Get("Access-Control-Request-Method"))
}

// serve answers a preflight: 204 with the policy, or 403 (counted on tel)
// for an origin that is not allowed. The backends never see it.
func (p *corsPolicy) serve(w http.ResponseWriter, r *http.Request, tel *telemetry.Side) {
	h := w.Header()
	requested := strings.Join(r.Header.Values("Access-Control-Request-Headers"), ", ")
	if !p.answer(r.Header.Get("Origin"), requested, h.Set) {
		tel.ProxyError(reasonCORS)
		plainError(w, http.StatusForbidden, corsForbidden)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
