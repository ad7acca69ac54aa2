package lb

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/migratekit/migrate/internal/forward"
	"github.com/migratekit/migrate/internal/h1"
	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/telemetry"
)

// maxRetryBody is the largest request body buffered so that an idempotent
// request can be retried on another backend.
const maxRetryBody = 1 << 20

// side is one side (old or new) of an app: its pool, its reverse proxy and
// the transport to its backends. It is the proxy's http.RoundTripper: it
// picks the backend, counts requests in flight, feeds passive ejection and
// retries a failed connection once on another backend.
type side struct {
	app         *App
	index       int    // sideOld or sideNew
	name        string // telemetry.SideOld or telemetry.SideNew
	pool        *pool
	tel         *telemetry.Side
	proxy       *httputil.ReverseProxy
	transport   *http.Transport   // https backends, upgrades, health checks
	h1          *Upstream         // plain HTTP/1.1 to http backends
	base        http.RoundTripper // h1, or a stand-in in benchmarks
	log         *slog.Logger
	unavailable string // body of the 502 when the pool is down
	// Timeouts of the event-loop path (its transport is the loop itself).
	connectTimeout, headerTimeout, idleTimeout time.Duration

	// Header values shared by every request, never modified (capacity 1:
	// an append copies).
	debugValue []string // X-Migrate-Side
}

func newSide(a *App, index int, cfg manifest.Pool, timeouts manifest.Timeouts, deps sideDeps) (*side, error) {
	name := telemetry.SideOld
	if index == sideNew {
		name = telemetry.SideNew
	}
	tel := deps.metrics.Side(a.name, name)
	p, err := newPool(name, cfg, deps.clock, tel, a.log)
	if err != nil {
		return nil, fmt.Errorf("configuring %s pool: %w", name, err)
	}
	s := &side{
		app:         a,
		index:       index,
		name:        name,
		pool:        p,
		tel:         tel,
		transport:   newTransport(timeouts, p.hasHTTPS(), deps.resolver),
		log:         a.log.With("side", name),
		unavailable: name + " backend unavailable\n",

		connectTimeout: timeouts.Connect.Or(manifest.DefaultConnectTimeout),
		headerTimeout:  timeouts.ResponseHeader.Or(manifest.DefaultResponseHeaderTimeout),
		idleTimeout:    timeouts.Idle.Or(manifest.DefaultIdleTimeout),
		debugValue:     []string{name},
	}
	if c := deps.tls[PoolKey{App: a.name, Side: name}]; c != nil {
		s.transport.TLSClientConfig = c.Clone()
	}
	for _, b := range p.backends {
		b.setBase()
		b.setLoopTarget()
	}
	s.h1 = newH1Transport(timeouts, s.transport, deps.resolver)
	s.base = s.h1
	s.proxy = &httputil.ReverseProxy{
		Rewrite:      s.rewrite,
		Transport:    s,
		BufferPool:   deps.buffers,
		ErrorLog:     deps.errorLog,
		ErrorHandler: s.handleError,
	}
	s.proxy.ModifyResponse = s.modifyResponse
	return s, nil
}

// newTransport is the tuned transport of one side: many idle connections
// per backend (the proxy multiplexes all clients onto them), the manifest's
// timeouts, no compression (bodies pass through as the backend sent them)
// and no environment proxy.
func newTransport(t manifest.Timeouts, https bool, resolver *net.Resolver) *http.Transport {
	connect := t.Connect.Or(manifest.DefaultConnectTimeout)
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second, Resolver: resolver}).DialContext,
		MaxIdleConns:          0,
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       t.Idle.Or(manifest.DefaultIdleTimeout),
		ResponseHeaderTimeout: t.ResponseHeader.Or(manifest.DefaultResponseHeaderTimeout),
		TLSHandshakeTimeout:   connect,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		ForceAttemptHTTP2:     https,
		WriteBufferSize:       16 << 10,
		ReadBufferSize:        16 << 10,
	}
}

func (p *pool) hasHTTPS() bool {
	for _, b := range p.backends {
		if b.url.Scheme == "https" {
			return true
		}
	}
	return false
}

// rewrite applies the forwarding rules of package forward, as the loops
// do: hop-by-hop fields dropped (ReverseProxy has dropped its own list,
// and kept the Upgrade of a switch it carries), X-Forwarded-* set. The
// Host header stays the client's; the URL is set per attempt in RoundTrip.
func (s *side) rewrite(pr *httputil.ProxyRequest) {
	in, h := pr.In, pr.Out.Header
	dropReserved(h)
	forward.RequestHeader(h, h.Get("Upgrade"))
	peer := forward.PeerAddr(in.RemoteAddr)
	forward.SetXForwarded(h, in.Header, forward.Trusted(peer, s.app.trusted), peer, in.Host, in.TLS != nil)
	// The trailers of a chunked body pass on, as the loops pass them: the
	// server fills in.Trailer when the body ends, and Out's own is a copy
	// made before that (httputil.ReverseProxy loses their values so).
	pr.Out.Trailer = in.Trailer
}

// modifyResponse adapts the backend's answer for net/http's server:
// the debug header, and the framing of a close-delimited body.
func (s *side) modifyResponse(res *http.Response) error {
	if s.app.debug {
		res.Header["X-Migrate-Side"] = s.debugValue
	}
	if closeDelimited(res) {
		// "identity" makes net/http's server send the body as it
		// comes and close after it (with Connection: close) instead of
		// chunking it; the field itself is not sent.
		res.Header["Transfer-Encoding"] = identity
	}
	return nil
}

var identity = []string{"identity"}

// closeDelimited reports whether res, to an HTTP/1.x request, has a body
// that ends when the backend closes: on every path it goes to the client
// the same way, as it comes, and the client connection closes after it
// (the loops pass it on so).
func closeDelimited(res *http.Response) bool {
	return res.ContentLength < 0 && len(res.TransferEncoding) == 0 && res.Body != http.NoBody &&
		res.Request != nil && res.Request.ProtoMajor == 1 && res.Request.Method != http.MethodHead &&
		res.StatusCode >= 200 && res.StatusCode != http.StatusNoContent && res.StatusCode != http.StatusNotModified
}

// RoundTrip sends req to a backend of the side, retrying once on another
// backend when an idempotent request could not get a response.
func (s *side) RoundTrip(req *http.Request) (*http.Response, error) {
	b := s.pool.pick(nil)
	if b == nil {
		return nil, errNoBackend
	}
	replayable, err := readyBody(req)
	if err != nil {
		return nil, err
	}
	retry := s.retries(req.Method, replayable)
	orig := *req.URL // attempt points req.URL at its backend
	res, err := s.attempt(req, b)
	if err == nil || !retry || !retryable(req, err) {
		return res, err
	}
	next := s.pool.pick(b)
	if next == nil {
		return nil, err
	}
	again, rerr := rewound(req, &orig)
	if rerr != nil {
		return nil, err
	}
	s.tel.Retry()
	s.log.Debug("retrying on another backend", "failed", b.label, "backend", next.label, "err", err)
	return s.attempt(again, next)
}

// attempt sends req to b.
func (s *side) attempt(req *http.Request, b *backend) (*http.Response, error) {
	target(req.URL, b.url)
	clientTarget(req, b)
	b.inflight.Add(1)
	res, err := s.base.RoundTrip(req)
	if err != nil {
		b.inflight.Add(-1)
		if cb, ok := req.Body.(*clientBody); ok {
			err = cb.blame(err)
		}
		if req.Context().Err() == nil && !errors.Is(err, errClientBody) {
			s.pool.failed(b, err)
		}
		return nil, &backendError{backend: b.label, err: err}
	}
	s.pool.succeeded(b)
	res.Body = track(res.Body, b)
	return res, nil
}

// target points u at backend base: scheme and host replaced, base path
// prefixed and base query prepended (as ProxyRequest.SetURL does), user
// info dropped so an absolute-form request cannot smuggle credentials.
func target(u, base *url.URL) {
	u.Scheme, u.Host, u.User = base.Scheme, base.Host, nil
	if base.Path != "" && base.Path != "/" {
		u.Path, u.RawPath = joinURLPath(base, u)
	}
	switch {
	case base.RawQuery == "":
	case u.RawQuery == "":
		u.RawQuery = base.RawQuery
	default:
		u.RawQuery = base.RawQuery + "&" + u.RawQuery
	}
}

// clientTarget makes req's request line carry the client's own target, as
// the loops send it (backend.appendTarget), rather than the one
// URL.RequestURI re-escapes: for a target the loops take (h1.OriginForm),
// but not one starting "//", which http.Transport (the fallback) would send
// as an absolute URL from URL.Opaque. Those, absolute-form targets and
// "*" keep the URL's form.
func clientTarget(req *http.Request, b *backend) {
	raw := req.RequestURI
	if strings.HasPrefix(raw, "//") || !h1.OriginForm(raw) {
		return
	}
	req.URL.Opaque = string(b.appendTarget(nil, []byte(raw)))
	req.URL.RawQuery, req.URL.ForceQuery = "", false
}

func joinURLPath(a, b *url.URL) (path, rawpath string) {
	if a.RawPath == "" && b.RawPath == "" {
		return singleJoiningSlash(a.Path, b.Path), ""
	}
	apath, bpath := a.EscapedPath(), b.EscapedPath()
	aslash, bslash := strings.HasSuffix(apath, "/"), strings.HasPrefix(bpath, "/")
	switch {
	case aslash && bslash:
		return a.Path + b.Path[1:], apath + bpath[1:]
	case !aslash && !bslash:
		return a.Path + "/" + b.Path, apath + "/" + bpath
	}
	return a.Path + b.Path, apath + bpath
}

func singleJoiningSlash(a, b string) string {
	aslash, bslash := strings.HasSuffix(a, "/"), strings.HasPrefix(b, "/")
	switch {
	case aslash && bslash:
		return a + b[1:]
	case !aslash && !bslash:
		return a + "/" + b
	}
	return a + b
}

// resendable reports whether a request may be sent again on a new
// connection after a kept-alive one broke before any answer: one lb
// retries on another backend (idempotent), or one keyed (it carries a
// field of idempotencyKeys).
func resendable(method string, keyed bool) bool { return idempotent(method) || keyed }

// idempotencyKeys are the fields that mark a request as safe to send
// twice (the IETF draft's, and the older X- name), canonical.
var idempotencyKeys = [...]string{"Idempotency-Key", "X-Idempotency-Key"}

// isIdempotencyKey reports whether name is one of idempotencyKeys (ASCII
// case-insensitive).
func isIdempotencyKey(name []byte) bool {
	for _, k := range idempotencyKeys {
		if h1.EqualFold(name, k) {
			return true
		}
	}
	return false
}

// idempotent reports whether a request with this method may be sent twice
// (retried on another backend).
func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodDelete, http.MethodPut:
		return true
	}
	return false
}

// readyBody readies req's body before a backend connection is taken for
// it, as the loops do (and as nginx buffers bodies): a body of at most
// maxRetryBody bytes (by its Content-Length) is read whole, which also
// makes it replayable on another backend; of a larger one, or one of
// unknown length, the first maxRetryBody bytes are read, then the rest
// streams (clientBody.prefetch). A client that declares a body and stalls
// holds no backend connection; the client body timeout ends it. It
// reports whether the body can be sent again.
func readyBody(req *http.Request) (bool, error) {
	if req.Body == nil || req.Body == http.NoBody || req.GetBody != nil {
		return true, nil
	}
	if req.ContentLength > 0 && req.ContentLength <= maxRetryBody {
		return bufferBody(req)
	}
	body := newClientBody(req.Body, req.Body, req.ContentLength)
	if g := gateOf(req.Context()); g != nil {
		body.abort = g.abortBody
	}
	if err := body.prefetch(maxRetryBody); err != nil {
		return false, err
	}
	req.Body = body
	return false, nil
}

// bufferBody reads req's body of ContentLength bytes into memory, making
// it replayable.
func bufferBody(req *http.Request) (bool, error) {
	buf := make([]byte, req.ContentLength)
	if _, err := io.ReadFull(req.Body, buf); err != nil {
		return false, fmt.Errorf("reading request body: %w: %w", errClientBody, err)
	}
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
	req.Body, _ = req.GetBody()
	return true, nil
}

// retries reports whether a request whose backend failed before any
// answer may go to another backend of s, once, on every path: an
// idempotent one whose body is at hand again (replayable: none, or one
// read whole), when the pool has another backend.
func (s *side) retries(method string, replayable bool) bool {
	return replayable && idempotent(method) && len(s.pool.backends) > 1
}

// retryable reports whether a failed attempt may be repeated elsewhere: a
// connection that could not be made, or that broke before a response, but
// not a response that timed out (the backend may still be working on it)
// nor a request the client gave up on.
func retryable(req *http.Request, err error) bool {
	return req.Context().Err() == nil && retryableErr(err)
}

// retryableErr is retryable without the client's part, which the loops
// tell apart themselves (a client that leaves ends its request).
func retryableErr(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return !isTimeout(err)
}

// rewound is a shallow copy of req with a fresh body and orig, its URL
// before an attempt pointed it at a backend, for a retry.
func rewound(req *http.Request, orig *url.URL) (*http.Request, error) {
	again := new(http.Request)
	*again = *req
	u := *orig
	again.URL = &u
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		again.Body = body
	}
	return again, nil
}

// backendError names the backend a request failed on, for the logs.
type backendError struct {
	backend string
	err     error
}

func (e *backendError) Error() string { return "proxying to " + e.backend + ": " + e.err.Error() }
func (e *backendError) Unwrap() error { return e.err }

// track counts the response as in flight on b until its body is closed.
// An upgraded connection's body is also written to, so its wrapper keeps
// the io.Writer that httputil.ReverseProxy needs.
func track(body io.ReadCloser, b *backend) io.ReadCloser {
	if body == nil || body == http.NoBody {
		b.inflight.Add(-1)
		return body
	}
	if w, ok := body.(io.ReadWriteCloser); ok {
		t := &trackedConn{w: w}
		t.ReadCloser, t.b = w, b
		return t
	}
	return &trackedBody{ReadCloser: body, b: b}
}

type trackedBody struct {
	io.ReadCloser
	b    *backend
	done atomic.Bool
}

func (t *trackedBody) Close() error {
	err := t.ReadCloser.Close()
	if t.done.CompareAndSwap(false, true) {
		t.b.inflight.Add(-1)
	}
	return err
}

type trackedConn struct {
	trackedBody
	w io.Writer
}

func (t *trackedConn) Write(p []byte) (int, error) { return t.w.Write(p) }

// CloseWrite shuts the backend's connection for writing: ReverseProxy
// passes the client's end of stream on so (a half-close), as the loops'
// tunnel does; without it, it closed both connections at once.
func (t *trackedConn) CloseWrite() error {
	if cw, ok := t.w.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// closeIdle closes the idle connections to the side's backends.
func (s *side) closeIdle() {
	s.h1.CloseIdleConnections()
}
