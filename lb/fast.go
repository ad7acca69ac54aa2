package lb

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/migratekit/migrate/internal/h1"
)

// The fasthttp data path: no listener is served by it any more. Its
// requests go to the loops and net/http, where the request rules apply
// (rules.go, gate.go): the rules and findings of issue 14 were only fixed
// there, and this file goes in issue 15.
//
// A plain-HTTP listener whose apps all qualify (no mirror, no middleware:
// see App.fastCapable) and that event loops do not serve (loop_linux.go;
// they hand it the connections of the requests they do not take) is
// served by fasthttp's server, and its requests go
// to the backends through fasthttp's HostClient, over TLS to https
// backends. net/http's server and httputil.ReverseProxy cost about twice
// nginx's CPU per request, fasthttp about 1.3 times (BENCHMARKS.md, issue
// 2). The rest keeps net/http: TLS listeners (HTTP/2) and listeners with a
// mirrored or wrapped app; and on a fasthttp listener, upgrades
// (websockets) go through net/http's handler on the hijacked connection.
// The behaviour is the same on both paths, except that fasthttp does not
// notice a client that leaves while its request is proxied (the request
// runs to its end and the answer is dropped), that an empty query ("/?")
// reaches the backend without its "?", and that https backends are spoken
// to in HTTP/1.1 (net/http may use HTTP/2).

// fastServer is the fasthttp server of listener l.
func (p *Proxy) fastServer(l *listener, reqCtx context.Context) *fasthttp.Server {
	l.router.slow = fasthttpadaptor.NewFastHTTPHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.router.ServeHTTP(&flushingWriter{ResponseWriter: w}, r.WithContext(reqCtx))
	}))
	return &fasthttp.Server{
		Handler:                       l.router.serveFast,
		NoDefaultServerHeader:         true,
		NoDefaultDate:                 true,
		NoDefaultContentType:          true,
		DisablePreParseMultipartForm:  true,
		DisableHeaderNamesNormalizing: false,
		ReadBufferSize:                fastReadBuffer,
		WriteBufferSize:               fastWriteBuffer,
		ReadTimeout:                   30 * time.Second, // the head; see HeaderReceived
		IdleTimeout:                   2 * time.Minute,
		// Bodies up to maxRetryBody are read before the handler runs
		// (and can be sent again on a retry); larger ones stream.
		MaxRequestBodySize: maxRetryBody,
		StreamRequestBody:  true,
		CloseOnShutdown:    true,
		HeaderReceived: func(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
			if h.ContentLength() != 0 {
				// A body may take long to upload: the 30 s are for the head.
				return fasthttp.RequestConfig{ReadTimeout: 24 * time.Hour}
			}
			return fasthttp.RequestConfig{}
		},
		Logger: fastLogger{p.errorLog},
	}
}

// flushingWriter flushes an answer on the slow path once it passes
// slowFlushAfter bytes: fasthttpadaptor holds an answer that is never
// flushed in memory whole (httputil.ReverseProxy flushes only answers of
// unknown length, and a backend refusing an upgrade may send a large one
// of known length). Unwrap keeps http.ResponseController (Hijack) working.
type flushingWriter struct {
	http.ResponseWriter
	n int
}

const slowFlushAfter = 64 << 10

func (f *flushingWriter) Write(p []byte) (int, error) {
	n, err := f.ResponseWriter.Write(p)
	if f.n += n; f.n > slowFlushAfter && err == nil {
		f.Flush()
	}
	return n, err
}

func (f *flushingWriter) Flush() {
	if fl, ok := f.ResponseWriter.(http.Flusher); ok {
		fl.Flush()
	}
}

func (f *flushingWriter) Unwrap() http.ResponseWriter { return f.ResponseWriter }

type fastLogger struct {
	l interface{ Printf(string, ...any) }
}

func (f fastLogger) Printf(format string, args ...any) { f.l.Printf(format, args...) }

// fastCapable reports whether the app can be served by the fasthttp path.
func (a *App) fastCapable() bool {
	return a.mirror == nil && !a.wrapped
}

// serveFast is the fasthttp handler of a listener: the router of ServeHTTP.
func (rt *router) serveFast(ctx *fasthttp.RequestCtx) {
	if len(ctx.Request.Header.Peek("Upgrade")) > 0 {
		rt.slow(ctx)
		return
	}
	rt.inflight.enter()
	defer rt.inflight.leave()
	if ctx.IsConnect() {
		fastError(ctx, http.StatusMethodNotAllowed, "method not allowed\n")
		return
	}
	host := ctx.Host()
	a := rt.route(unsafe.String(unsafe.SliceData(host), len(host)))
	if a == nil {
		fastError(ctx, http.StatusMisdirectedRequest, "misdirected request: no app is served for this host\n")
		return
	}
	a.serveFast(ctx)
}

// serveFast is serveHTTP on the fasthttp path.
func (a *App) serveFast(ctx *fasthttp.RequestCtx) {
	if a.cors != nil && fastPreflight(ctx) {
		a.corsFast(ctx)
		return
	}
	start := time.Now()
	s, minted := a.pickFast(ctx)
	serving := a.serving(s)
	if serving == nil {
		s.tel.ProxyError(reasonUnavailable)
		s.fastError(ctx, http.StatusBadGateway, s.unavailable)
		s.tel.Request(http.StatusBadGateway, time.Since(start))
		return
	}
	serving.proxyFast(ctx, start, minted)
}

// pickFast is pick on the fasthttp path: the side of the client, and the
// Set-Cookie value of a sticky cookie minted for it ("" if none).
func (a *App) pickFast(ctx *fasthttp.RequestCtx) (*side, string) {
	wt := int(a.weight.Load())
	switch wt {
	case 0:
		return a.sides[sideOld], ""
	case 100:
		return a.sides[sideNew], ""
	}
	var point int
	var minted string
	if a.cookie == "" {
		point = a.fastIPPoint(ctx)
	} else if v := ctx.Request.Header.Cookie(a.cookie); validSticky(v) {
		point = bytesPoint(v)
	} else {
		key := rand.Text()
		minted = a.setCookie(key, false)
		point = StickyPoint(key)
	}
	if point < wt*(PointScale/100) {
		return a.sides[sideNew], minted
	}
	return a.sides[sideOld], minted
}

// fastSideOf is sideOf on the fasthttp path.
func (a *App) fastSideOf(ctx *fasthttp.RequestCtx) int {
	wt := int(a.weight.Load())
	point := PointScale
	if a.cookie == "" {
		point = a.fastIPPoint(ctx)
	} else if v := ctx.Request.Header.Cookie(a.cookie); validSticky(v) {
		point = bytesPoint(v)
	}
	if point < wt*(PointScale/100) {
		return sideNew
	}
	return sideOld
}

func (a *App) fastIPPoint(ctx *fasthttp.RequestCtx) int {
	if ip := a.fastClientIP(ctx); ip.IsValid() {
		return ipPoint(ip)
	}
	return StickyPoint(ctx.RemoteAddr().String())
}

// fastClientIP is ClientIP on the fasthttp path.
func (a *App) fastClientIP(ctx *fasthttp.RequestCtx) netip.Addr {
	peer := peerAddr(ctx)
	if len(a.trusted) == 0 || !peer.IsValid() || !isTrusted(peer, a.trusted) {
		return peer
	}
	return walkXFF(headerLines(&ctx.Request.Header, "X-Forwarded-For"), peer, a.trusted)
}

func peerAddr(ctx *fasthttp.RequestCtx) netip.Addr {
	if ta, ok := ctx.RemoteAddr().(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	return remoteIP(ctx.RemoteAddr().String())
}

func headerLines(h *fasthttp.RequestHeader, key string) []string {
	all := h.PeekAll(key)
	if len(all) == 0 {
		return nil
	}
	out := make([]string, len(all))
	for i, v := range all {
		out[i] = string(v)
	}
	return out
}

func fastPreflight(ctx *fasthttp.RequestCtx) bool {
	return ctx.IsOptions() &&
		len(ctx.Request.Header.Peek("Origin")) > 0 &&
		len(ctx.Request.Header.Peek("Access-Control-Request-Method")) > 0
}

// corsFast answers a preflight on the fasthttp path (see corsPolicy.serve).
func (a *App) corsFast(ctx *fasthttp.RequestCtx) {
	tel := a.sides[a.fastSideOf(ctx)].tel
	requested := bytes.Join(ctx.Request.Header.PeekAll("Access-Control-Request-Headers"), []byte(", "))
	h := &ctx.Response.Header
	if !a.cors.answer(string(ctx.Request.Header.Peek("Origin")), string(requested), h.Set) {
		tel.ProxyError(reasonCORS)
		fastError(ctx, http.StatusForbidden, corsForbidden)
		return
	}
	ctx.SetStatusCode(http.StatusNoContent)
}

// Hop-by-hop headers a proxy removes (RFC 9110 7.6.1), as bits; fasthttp
// keeps Transfer-Encoding apart. hopExpect, hopForwarded and hopTrailer are
// only dropped from requests (hopRequest): an answer's Trailer field
// announces the trailer section, which is passed on with its body.
const (
	hopConnection = 1 << iota
	hopKeepAlive
	hopProxyConnection
	hopProxyAuthenticate
	hopProxyAuthorization
	hopTE
	hopTrailer
	hopUpgrade
	hopExpect
	hopForwarded
)

var hopNames = [...]string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Upgrade", "Expect", "Forwarded"}

// hopAlways are the hop-by-hop headers dropped both ways, hopRequest those
// dropped from requests.
const (
	hopAlways  = hopConnection | hopKeepAlive | hopProxyConnection | hopProxyAuthenticate | hopProxyAuthorization | hopTE | hopUpgrade
	hopRequest = hopAlways | hopExpect | hopForwarded | hopTrailer
)

// hopBit is the bit of header name among hopNames (ASCII case-insensitive),
// or 0.
func hopBit(name []byte) int {
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

// dropHop deletes the hop-by-hop headers of mask among all (and the
// headers a Connection header names) in one pass over the headers: most
// requests have none, and a Del per name costs a scan each.
func dropHop(all iter.Seq2[[]byte, []byte], peek func(string) []byte, del func(string), mask int) {
	found := 0
	for k := range all {
		found |= hopBit(k)
	}
	if found&hopConnection != 0 {
		dropConnectionHeaders(peek("Connection"), del)
	}
	found &= mask
	for i, name := range hopNames {
		if found&(1<<i) != 0 {
			del(name)
		}
	}
}

// proxyFast proxies the request of ctx to a backend of s and records the
// answer when its body has been sent.
func (s *side) proxyFast(ctx *fasthttp.RequestCtx, start time.Time, minted string) {
	req := &ctx.Request
	s.prepareFast(ctx)
	b := s.pool.pick(nil)
	if b == nil {
		s.fastFail(ctx, errNoBackend, start, minted)
		return
	}
	retry := len(s.pool.backends) > 1 && idempotent(string(req.Header.Method()))
	if retry && req.IsBodyStream() {
		var err error
		if retry, err = bufferFastBody(req); err != nil {
			s.fastFail(ctx, err, start, minted)
			return
		}
	}
	var body *clientBody
	if req.IsBodyStream() { // streamed: its read errors are the client's
		body = newClientBody(req.BodyStream(), nil, int64(req.Header.ContentLength()))
		req.SetBodyStream(body, req.Header.ContentLength())
	}
	res := fasthttp.AcquireResponse()
	res.Header.SetNoDefaultContentType(true)
	err := s.attemptFast(req, res, b, body)
	if err != nil && retry && retryableErr(err) {
		if next := s.pool.pick(b); next != nil {
			s.tel.Retry()
			s.log.Debug("retrying on another backend", "failed", b.label, "backend", next.label, "err", err)
			b = next
			err = s.attemptFast(req, res, b, body)
		}
	}
	if err != nil {
		fasthttp.ReleaseResponse(res)
		s.fastFail(ctx, err, start, minted)
		return
	}
	if res.StatusCode() == http.StatusSwitchingProtocols {
		// Upgrades go to net/http (serveFast): a switch nobody asked
		// for leaves nothing to pass on, as on the other paths.
		fasthttp.ReleaseResponse(res)
		b.inflight.Add(-1)
		s.fastFail(ctx, &backendError{backend: b.label, err: errUnaskedSwitch}, start, minted)
		return
	}
	out := &ctx.Response
	res.Header.CopyTo(&out.Header)
	out.Header.SetProtocol(http11) // the client's connection, whatever the backend speaks
	out.Header.ResetConnectionClose()
	dropHop(out.Header.All(), out.Header.Peek, out.Header.Del, hopAlways)
	if s.app.debug {
		out.Header.Set("X-Migrate-Side", s.name)
	}
	if minted != "" {
		out.Header.Add("Set-Cookie", minted)
	}
	status := res.StatusCode()
	if !res.IsBodyStream() {
		s.fastDone(res, b, status, start)
		return
	}
	out.SetBodyStream(&fastBody{res: res, out: &out.Header, s: s, b: b, status: status, start: start}, res.Header.ContentLength())
}

var (
	http11           = []byte("HTTP/1.1")
	errUnaskedSwitch = errors.New("101 Switching Protocols to a request that asked for no upgrade")
)

// dropConnectionHeaders deletes the headers a Connection header value
// names (they are for this hop only).
func dropConnectionHeaders(value []byte, del func(string)) {
	if len(value) == 0 {
		return
	}
	for name := range strings.SplitSeq(string(value), ",") {
		if name = strings.TrimSpace(name); name != "" && !strings.EqualFold(name, "close") && !strings.EqualFold(name, "keep-alive") {
			del(name)
		}
	}
}

// prepareFast turns the client's request into the backend's: hop-by-hop
// headers dropped, X-Forwarded-* set (see rewrite), the client's Host kept.
func (s *side) prepareFast(ctx *fasthttp.RequestCtx) {
	h := &ctx.Request.Header
	h.ResetConnectionClose()         // the client's choice, not the backend connection's
	h.SetNoDefaultContentType(true)  // a body without a type is sent without one
	ctx.Request.UseHostHeader = true // as sent: the URI's host is lower-cased
	// Expect: the body is read (or streams) already. Forwarded: dropped as
	// httputil.ReverseProxy does with Rewrite.
	teTrailers := asksTrailers(h.Peek("TE"))
	dropHop(h.All(), h.Peek, h.Del, hopRequest)
	if teTrailers {
		h.Set("Te", "trailers")
	}
	if u := ctx.Request.URI(); len(u.Username()) > 0 || len(u.Password()) > 0 {
		u.SetUsername("") // never credentials from an absolute-form URI
		u.SetPassword("")
	}
	peer := peerAddr(ctx)
	trusted := len(s.app.trusted) > 0 && peer.IsValid() && isTrusted(peer, s.app.trusted)
	var buf [64]byte
	xff := peer.AppendTo(buf[:0])
	if trusted {
		if prior := h.PeekAll("X-Forwarded-For"); len(prior) > 0 {
			xff = append(bytes.Join(prior, []byte(", ")), ", "...)
			xff = peer.AppendTo(xff)
		}
	}
	h.SetBytesV("X-Forwarded-For", xff)
	if !trusted || len(h.Peek("X-Forwarded-Proto")) == 0 {
		h.Set("X-Forwarded-Proto", "http")
	}
	if !trusted || len(h.Peek("X-Forwarded-Host")) == 0 {
		h.SetBytesV("X-Forwarded-Host", ctx.Host())
	}
}

// bufferFastBody reads a streamed request body of at most maxRetryBody
// into memory, so that the request can be sent again; it reports whether
// it can.
func bufferFastBody(req *fasthttp.Request) (bool, error) {
	n := req.Header.ContentLength()
	if n < 0 || n > maxRetryBody {
		return false, nil
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(req.BodyStream(), buf); err != nil {
		return false, fmt.Errorf("reading request body: %w: %w", errClientBody, err)
	}
	req.SetBodyRaw(buf)
	return true, nil
}

// attemptFast sends req to b, answer in res; body is req's streamed body,
// if any.
func (s *side) attemptFast(req *fasthttp.Request, res *fasthttp.Response, b *backend, body *clientBody) error {
	if b.fastPath != "" || b.fastQuery != "" {
		req.SetRequestURIBytes(b.fastURI(req.RequestURI()))
	}
	if u := req.URI(); string(u.Scheme()) != b.url.Scheme {
		u.SetScheme(b.url.Scheme) // fasthttp sends https only to a TLS client
	}
	b.inflight.Add(1)
	if err := b.fast.Do(req, res); err != nil {
		b.inflight.Add(-1)
		if err = body.blame(err); !errors.Is(err, errClientBody) {
			s.pool.failed(b, err)
		}
		return &backendError{backend: b.label, err: err}
	}
	s.pool.succeeded(b)
	return nil
}

// fastURI is the request URI uri on backend b: its path prefixed by the
// backend's and its query after the backend's, as target does.
func (b *backend) fastURI(uri []byte) []byte {
	path, query, hasQuery := bytes.Cut(uri, []byte("?"))
	out := make([]byte, 0, len(b.fastPath)+len(uri)+len(b.fastQuery)+2)
	if b.fastPath != "" {
		out = append(out, strings.TrimSuffix(b.fastPath, "/")...)
		if len(path) == 0 || path[0] != '/' {
			out = append(out, '/')
		}
	}
	out = append(out, path...)
	switch {
	case b.fastQuery != "" && hasQuery && len(query) > 0:
		out = append(append(append(append(out, '?'), b.fastQuery...), '&'), query...)
	case b.fastQuery != "":
		out = append(append(out, '?'), b.fastQuery...)
	case hasQuery:
		out = append(append(out, '?'), query...)
	}
	return out
}

// fastFail answers a request the proxy could not proxy.
func (s *side) fastFail(ctx *fasthttp.RequestCtx, err error, start time.Time, minted string) {
	reason, code, body := s.classifyErr(err, false)
	s.tel.ProxyError(reason)
	s.log.Warn("proxying request failed", "method", string(ctx.Method()), "path", string(ctx.Path()), "reason", reason, "status", code, "err", err)
	ctx.Response.Reset()
	if minted != "" {
		ctx.Response.Header.Add("Set-Cookie", minted)
	}
	s.fastError(ctx, code, body)
	s.tel.Request(code, time.Since(start))
}

func (s *side) fastError(ctx *fasthttp.RequestCtx, code int, body string) {
	if s.app.debug {
		ctx.Response.Header.Set("X-Migrate-Side", s.name)
	}
	fastError(ctx, code, body)
}

// fastError is plainError on the fasthttp path.
func fastError(ctx *fasthttp.RequestCtx, code int, body string) {
	ctx.SetStatusCode(code)
	ctx.Response.Header.Set("Content-Type", "text/plain; charset=utf-8")
	ctx.Response.Header.Set("X-Content-Type-Options", "nosniff")
	ctx.Response.SetBodyString(body)
}

// fastDone records a proxied request whose answer has been sent.
func (s *side) fastDone(res *fasthttp.Response, b *backend, status int, start time.Time) {
	fasthttp.ReleaseResponse(res)
	b.inflight.Add(-1)
	s.tel.Request(status, time.Since(start))
}

// fastBody streams a backend's answer body to the client; when fasthttp
// closes it (all sent, or the client gone) the backend connection goes
// back to its pool and the request is recorded.
type fastBody struct {
	res    *fasthttp.Response
	out    *fasthttp.ResponseHeader // the client's answer, for the trailers
	s      *side
	b      *backend
	status int
	start  time.Time
}

func (f *fastBody) Read(p []byte) (int, error) {
	n, err := f.res.BodyStream().Read(p)
	if err == io.EOF {
		f.passTrailers()
	}
	return n, err
}

// passTrailers gives the client's answer the trailer section the backend
// sent after its last chunk, which fasthttp writes after the body it
// streams. A field the backend did not announce is announced now: the head
// is gone, and only the trailer section carries it.
func (f *fastBody) passTrailers() {
	from := &f.res.Header
	for k := range from.Trailers() {
		vals := from.PeekAll(string(k))
		if len(vals) == 0 {
			continue
		}
		if !slices.ContainsFunc(f.out.PeekTrailerKeys(), func(a []byte) bool { return bytes.Equal(a, k) }) {
			if err := f.out.AddTrailerBytes(k); err != nil {
				f.s.log.Debug("trailer not passed on", "name", string(k), "err", err)
				continue
			}
		}
		for _, v := range vals {
			f.out.AddBytesKV(k, v)
		}
	}
}

func (f *fastBody) Close() error { return f.CloseWithError(nil) }

// CloseWithError closes the backend's body; fasthttp passes the error that
// ended the copy, if any.
func (f *fastBody) CloseWithError(err error) error {
	res := f.res
	if res == nil {
		return nil
	}
	var cerr error
	if err != nil {
		if rc, ok := res.BodyStream().(interface{ CloseWithError(error) error }); ok {
			cerr = rc.CloseWithError(err)
		} else {
			cerr = res.CloseBodyStream()
		}
	} else {
		cerr = res.CloseBodyStream()
	}
	f.res = nil
	f.s.fastDone(res, f.b, f.status, f.start)
	if errors.Is(cerr, io.EOF) {
		cerr = nil
	}
	return cerr
}
