package lb

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/migratekit/migrate/telemetry"
)

// ErrWeightRange is returned for a weight outside 0..100.
var ErrWeightRange = errors.New("weight must be between 0 and 100")

const (
	sideOld = 0
	sideNew = 1
)

// App is one application served by the proxy: its old and new pools and
// the weighted sticky split between them.
type App struct {
	name     string
	weight   atomic.Int32
	cookie   string // sticky cookie name; "" means sticky by client IP
	trusted  []netip.Prefix
	debug    bool
	failover bool
	cors     *corsPolicy
	sides    [2]*side
	mirror   Mirror       // nil: requests are only proxied
	handler  http.Handler // serveHTTP, wrapped by Options.Middleware
	wrapped  bool         // handler has a middleware
	loopOK   bool         // an event loop can proxy its requests (loopCapable)
	upgrades []string     // the protocols a client may switch to (Upgrade)

	metrics *telemetry.Metrics
	refused *telemetry.Refused // its listener's (a stalled body's 408)
	recs    *sync.Pool         // of *recorder, shared by the proxy
	log     *slog.Logger
}

// Name returns the app's name in the manifest.
func (a *App) Name() string { return a.name }

// Weight returns the share (0-100) of clients sent to the new side.
func (a *App) Weight() int { return int(a.weight.Load()) }

// SetWeight sets the share (0-100) of clients sent to the new side. The next
// request sees it.
func (a *App) SetWeight(w int) error {
	if w < 0 || w > 100 {
		return fmt.Errorf("setting weight of %s to %d: %w", a.name, w, ErrWeightRange)
	}
	a.weight.Store(int32(w))
	a.metrics.SetWeight(a.name, w)
	a.log.Info("weight set", "weight", w)
	return nil
}

// Backends returns the state of every backend, old side first.
func (a *App) Backends() []BackendStatus {
	return append(a.sides[sideOld].pool.status(), a.sides[sideNew].pool.status()...)
}

// serveHTTP answers CORS preflights, picks the side of the client and
// proxies the request to it.
func (a *App) serveHTTP(w http.ResponseWriter, r *http.Request) {
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

// choose is the split of every path (see sticky.go): the side (sideOld
// or sideNew) of a client at the app's weight, and the value of a sticky
// cookie minted for it ("" if none). With a sticky cookie, the client's
// point is that of its cookie's value (cookie; false: it sent no valid
// one), else that of a new value when mint says so, else PointScale (the
// old side); without one, ip (the point of its address).
func choose[T string | []byte](a *App, cookie func() (T, bool), ip func() int, mint bool) (index int, minted string) {
	wt := int(a.weight.Load())
	switch wt {
	case 0:
		return sideOld, ""
	case 100:
		return sideNew, ""
	}
	point := PointScale
	if a.cookie == "" {
		point = ip()
	} else if v, ok := cookie(); ok {
		point = stickyPoint(v)
	} else if mint {
		minted = rand.Text()
		point = stickyPoint(minted)
	}
	if point < wt*(PointScale/100) {
		return sideNew, minted
	}
	return sideOld, minted
}

// pick is choose on net/http's path: the side of the client, a sticky
// cookie minted for it set on w.
func (a *App) pick(w http.ResponseWriter, r *http.Request) *side {
	i, minted := choose(a, func() (string, bool) { return StickyCookie(r, a.cookie) }, func() int { return a.ipPoint(r) }, true)
	if minted != "" {
		w.Header().Add("Set-Cookie", a.setCookie(minted, r.TLS != nil))
	}
	return a.sides[i]
}

// sideOf is the side of the client without minting a cookie (a client
// with no cookie counts as old).
func (a *App) sideOf(r *http.Request) int {
	i, _ := choose(a, func() (string, bool) { return StickyCookie(r, a.cookie) }, func() int { return a.ipPoint(r) }, false)
	return i
}

func (a *App) ipPoint(r *http.Request) int {
	if ip := ClientIP(r, a.trusted); ip.IsValid() {
		return ipPoint(ip)
	}
	return StickyPoint(r.RemoteAddr)
}

func (a *App) setCookie(v string, secure bool) string {
	c := a.cookie + "=" + v + "; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax"
	if secure {
		c += "; Secure"
	}
	return c
}

// serveSide proxies r to s, or to the other side when s is down and
// failover is on, and records the answer on the side that served it.
func (a *App) serveSide(w http.ResponseWriter, r *http.Request, s *side) {
	start := time.Now()
	serving := a.serving(s)
	if serving == nil {
		s.tel.ProxyError(reasonUnavailable)
		s.writeError(w, http.StatusBadGateway, s.unavailable)
		s.tel.Request(http.StatusBadGateway, time.Since(start))
		return
	}
	if a.mirror != nil {
		a.mirror.Serve(w, r, serving.name, &sideServe{a: a, s: serving, start: start})
		return
	}
	a.proxy(w, r, serving, start)
}

// serving returns the side that serves a client split to s: s while its
// pool is up, else the other side if failover is on and it is up (counted
// as a failover on s), else nil.
func (a *App) serving(s *side) *side {
	serving := a.servingSide(s)
	if serving != nil && serving != s {
		s.tel.Failover()
	}
	return serving
}

// servingSide is serving without counting a failover. With failover on,
// a side whose only backend left is failing (kept in rotation, the last
// of its pool, but suspect) hands its clients to a healthy other side
// until its backoff is over; without one, it keeps them.
func (a *App) servingSide(s *side) *side {
	other := a.sides[1-s.index]
	switch {
	case !a.failover:
	case s.pool.healthy():
		return s
	case other.pool.healthy():
		return other
	}
	if s.pool.up() {
		return s
	}
	if a.failover && other.pool.up() {
		return other
	}
	return nil
}

// proxy proxies r to s and records the answer.
func (a *App) proxy(w http.ResponseWriter, r *http.Request, s *side, start time.Time) {
	rec := a.recs.Get().(*recorder)
	rec.ResponseWriter, rec.code = w, 0
	defer a.finish(rec, s, start)
	s.proxy.ServeHTTP(rec, r)
}

// finish records the request; it is deferred so that an aborted response
// (http.ErrAbortHandler) is counted too.
func (a *App) finish(rec *recorder, s *side, start time.Time) {
	s.tel.Request(rec.status(), time.Since(start))
	if v := recover(); v != nil {
		// An answer cut short (ReverseProxy aborts when the backend's body
		// fails): what came of it goes out before the connection closes,
		// as the loops pass it on, so that the client sees it cut.
		if v == http.ErrAbortHandler && rec.code != 0 {
			_ = http.NewResponseController(rec.ResponseWriter).Flush()
		}
		rec.ResponseWriter = nil
		a.recs.Put(rec)
		panic(v)
	}
	rec.ResponseWriter = nil
	a.recs.Put(rec)
}

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
