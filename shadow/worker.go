package shadow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/migratekit/migrate/compare"
	"github.com/migratekit/migrate/manifest"
)

// drainLimit is how much of a response past max_body is read (and thrown
// away) so that its connection can be reused; beyond it the connection is
// closed.
const drainLimit = 256 << 10

// work is one worker: it sends queued mirrors and compares the pairs the
// request path completed, until ctx is done.
func (m *Mirror) work(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case p := <-m.done:
			m.finish(ctx, p)
		case j := <-m.jobs:
			m.sendJob(ctx, j)
		}
	}
}

// sendJob sends one mirror and records its half of the pair.
func (m *Mirror) sendJob(ctx context.Context, j job) {
	p := j.p
	to := m.candidate
	if j.half == halfSecondary {
		to = m.secondary
	}
	res, sb, stream := m.send(ctx, p, to)
	p.bufs[j.half] = sb
	switch j.half {
	case halfCandidate:
		p.cp.Candidate = res
	case halfSecondary:
		if res.Err == nil {
			p.cp.Secondary = &res
		}
	}
	if stream {
		p.stream.Store(true)
	}
	if ctx.Err() != nil {
		p.shutdown.Store(true)
	}
	if p.last() {
		m.finish(ctx, p)
	}
}

// send mirrors the pair's request to one backend of to, with the mirror's
// own deadline, and captures the answer up to max_body.
func (m *Mirror) send(ctx context.Context, p *pair, to *targets) (res compare.Response, sb *shared, stream bool) {
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	req := m.outbound(ctx, p, to.pick())
	start := m.clock.Now()
	hr, err := m.transport.RoundTrip(req)
	if err != nil {
		return failed(ctx, err), nil, false
	}
	defer hr.Body.Close()
	if isEventStream(hr.Header) {
		return compare.Response{Status: hr.StatusCode, Header: hr.Header}, nil, true
	}
	sb = m.bufs.get()
	if hr.ContentLength > 0 {
		sb.buf.Grow(int(min(hr.ContentLength, m.maxBody)) + bytes.MinRead)
	}
	truncated, err := m.readAnswer(sb, hr.Body)
	if err != nil {
		sb.release()
		return failed(ctx, err), nil, false
	}
	return compare.Response{
		Status:    hr.StatusCode,
		Header:    hr.Header,
		Body:      sb.bytes(),
		Truncated: truncated,
		Latency:   m.clock.Since(start),
	}, sb, false
}

// readAnswer reads up to max_body bytes of body into sb and reports
// whether there was more (read on up to drainLimit and thrown away).
func (m *Mirror) readAnswer(sb *shared, body io.Reader) (truncated bool, err error) {
	if _, err := sb.buf.ReadFrom(io.LimitReader(body, m.maxBody)); err != nil {
		return false, err
	}
	n, err := io.CopyN(io.Discard, body, drainLimit)
	if err == io.EOF {
		err = nil
	}
	return n > 0, err
}

// failed is the response of a side that gave none.
func failed(ctx context.Context, err error) compare.Response {
	var ne net.Error
	timeout := errors.Is(ctx.Err(), context.DeadlineExceeded) ||
		errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
	return compare.Response{Err: err, Timeout: timeout}
}

// outbound builds the request to one backend: its own header map and body
// reader, the client's Host, X-Forwarded-* as the proxy sets them, and the
// shadow mark.
func (m *Mirror) outbound(ctx context.Context, p *pair, base *url.URL) *http.Request {
	in := &p.cp.Request
	u := &url.URL{Path: in.Path, RawQuery: in.RawQuery}
	target(u, base)
	h := in.Header.Clone()
	removeHopByHop(h)
	m.forwarded(h, p)
	h[Header] = []string{"1"}
	req := &http.Request{
		Method:     in.Method,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		Host:       in.Host,
	}
	if p.body != nil {
		req.Body = p.body.reader()
		req.ContentLength = int64(p.body.buf.Len())
	}
	return req.WithContext(ctx)
}

// forwarded sets X-Forwarded-For, -Host and -Proto as the load balancer
// does for the served request: the client's values are kept only from a
// trusted peer.
func (m *Mirror) forwarded(h http.Header, p *pair) {
	if !p.trusted {
		delete(h, "X-Forwarded-For")
		delete(h, "X-Forwarded-Host")
		delete(h, "X-Forwarded-Proto")
	}
	delete(h, "Forwarded")
	if ip, _, err := net.SplitHostPort(p.remoteAddr); err == nil {
		if prior := h["X-Forwarded-For"]; len(prior) > 0 {
			ip = strings.Join(prior, ", ") + ", " + ip
		}
		h["X-Forwarded-For"] = []string{ip}
	}
	if len(h["X-Forwarded-Host"]) == 0 {
		h["X-Forwarded-Host"] = []string{p.cp.Request.Host}
	}
	if len(h["X-Forwarded-Proto"]) == 0 {
		proto := "http"
		if p.tls {
			proto = "https"
		}
		h["X-Forwarded-Proto"] = []string{proto}
	}
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = []string{""} // not Go's default, as the proxy does
	}
}

// target points u at backend base, as the load balancer does: scheme and
// host replaced, base path prefixed, base query prepended.
func target(u, base *url.URL) {
	u.Scheme, u.Host = base.Scheme, base.Host
	if bp := strings.TrimSuffix(base.Path, "/"); bp != "" {
		u.Path = bp + "/" + strings.TrimPrefix(u.Path, "/")
	}
	switch {
	case base.RawQuery == "":
	case u.RawQuery == "":
		u.RawQuery = base.RawQuery
	default:
		u.RawQuery = base.RawQuery + "&" + u.RawQuery
	}
}

// hopByHop are the per-connection headers a proxy does not forward.
var hopByHop = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

func removeHopByHop(h http.Header) {
	for _, v := range h["Connection"] {
		for f := range strings.SplitSeq(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				delete(h, http.CanonicalHeaderKey(f))
			}
		}
	}
	for _, k := range hopByHop {
		delete(h, k)
	}
}

// newTransport is the mirror's own transport, apart from the load
// balancer's: idle connections for every worker, the app's connect and
// idle timeouts, no compression (bodies are compared as the backends sent
// them), no environment proxy. The deadline is the mirror's context.
func newTransport(t manifest.Timeouts, workers int, dests ...*targets) *http.Transport {
	connect := t.Connect.Or(defaultConnect)
	https := false
	for _, d := range dests {
		https = https || d.https()
	}
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost:   workers,
		IdleConnTimeout:       t.Idle.Or(defaultIdle),
		TLSHandshakeTimeout:   connect,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		ForceAttemptHTTP2:     https,
		WriteBufferSize:       16 << 10,
		ReadBufferSize:        16 << 10,
	}
}

// targets are the backends of one destination, taken round robin.
type targets struct {
	urls []*url.URL
	next atomic.Uint64
}

func newTargets(raw []string) (*targets, error) {
	if len(raw) == 0 {
		return nil, errors.New("no backends")
	}
	t := &targets{}
	for _, r := range raw {
		u, err := url.Parse(strings.TrimSpace(r))
		if err != nil {
			return nil, fmt.Errorf("parsing backend %q: %w", r, err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("backend %q is not an http:// or https:// URL", r)
		}
		t.urls = append(t.urls, u)
	}
	return t, nil
}

func (t *targets) pick() *url.URL {
	return t.urls[(t.next.Add(1)-1)%uint64(len(t.urls))]
}

func (t *targets) https() bool {
	if t == nil {
		return false
	}
	for _, u := range t.urls {
		if u.Scheme == "https" {
			return true
		}
	}
	return false
}
