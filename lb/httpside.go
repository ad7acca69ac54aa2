package lb

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/migratekit/migrate/internal/forward"
	"github.com/migratekit/migrate/internal/h1"
)

// httpSide is a side on net/http's path: httputil.ReverseProxy over the
// side's own transports. It is the proxy's http.RoundTripper: it picks the
// backend, counts requests in flight, feeds passive ejection and retries a
// failed connection once on another backend.
type httpSide struct {
	*side
	proxy     *httputil.ReverseProxy
	transport *http.Transport   // https backends, upgrades
	h1        *Upstream         // plain HTTP/1.1 to http backends
	base      http.RoundTripper // h1, or a stand-in in benchmarks
}

func newHTTPSide(s *side, deps sideDeps) *httpSide {
	h := &httpSide{side: s, transport: s.newTransport(deps.resolver)}
	h.h1 = newH1Transport(s.timeouts, h.transport, deps.resolver)
	h.base = h.h1
	h.proxy = &httputil.ReverseProxy{
		Rewrite:      h.rewrite,
		Transport:    h,
		BufferPool:   deps.buffers,
		ErrorLog:     deps.errorLog,
		ErrorHandler: h.handleError,
	}
	h.proxy.ModifyResponse = h.modifyResponse
	return h
}

// rewrite applies the forwarding rules of package forward, as the loops
// do: hop-by-hop fields dropped (ReverseProxy has dropped its own list,
// and kept the Upgrade of a switch it carries), X-Forwarded-* set. The
// Host header stays the client's; the URL is set per attempt in RoundTrip.
func (s *httpSide) rewrite(pr *httputil.ProxyRequest) {
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
func (s *httpSide) modifyResponse(res *http.Response) error {
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
func (s *httpSide) RoundTrip(req *http.Request) (*http.Response, error) {
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
func (s *httpSide) attempt(req *http.Request, b *backend) (*http.Response, error) {
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
// or one that is but for bytes outside ASCII (percent-encoded), but not
// one starting "//", which http.Transport (the fallback) would send as an
// absolute URL from URL.Opaque. Those, absolute-form targets and "*" keep
// the URL's form.
func clientTarget(req *http.Request, b *backend) {
	raw := req.RequestURI
	if strings.HasPrefix(raw, "//") {
		return
	}
	if !h1.OriginForm(raw) {
		// Bytes outside ASCII are percent-encoded, the rest kept as sent
		// (URL.RequestURI would escape a '!' or a '*' too, and change
		// the URI: RFC 3986 2.2).
		if raw = asciiTarget(raw); !h1.OriginForm(raw) {
			return
		}
	}
	req.URL.Opaque = string(b.appendTarget(nil, []byte(raw)))
	req.URL.RawQuery, req.URL.ForceQuery = "", false
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

// retryable reports whether a failed attempt may be repeated elsewhere: a
// connection that could not be made, or that broke before a response, but
// not a response that timed out (the backend may still be working on it)
// nor a request the client gave up on.
func retryable(req *http.Request, err error) bool {
	return req.Context().Err() == nil && retryableErr(err)
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
func (s *httpSide) closeIdle() {
	s.h1.CloseIdleConnections()
}

// asciiTarget is target with its bytes outside ASCII percent-encoded.
func asciiTarget(s string) string {
	n := 0
	for i := range len(s) {
		if s[i] >= 0x80 {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+2*n)
	for i := range len(s) {
		if c := s[i]; c >= 0x80 {
			b = append(b, '%', hex[c>>4], hex[c&15])
		} else {
			b = append(b, c)
		}
	}
	return string(b)
}
