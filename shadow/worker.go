package shadow

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
)

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

// sendJob sends one mirror and records its half of the pair; the
// candidate's answer counts as its side's mirrored answer.
func (m *Mirror) sendJob(ctx context.Context, j job) {
	p := j.p
	to := p.f.to
	if j.half == halfSecondary {
		to = p.f.secondary
	}
	res, sb, stream := to.send(ctx, m.outbound(p))
	p.bufs[j.half] = sb
	switch j.half {
	case halfCandidate:
		p.cp.Candidate = res
		m.mirroredAnswer(ctx, p.f, res)
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

// outbound builds the request to send: its own header map and body reader,
// the client's Host, X-Forwarded-* as the proxy sets them, and the shadow
// mark. The Sender points it at a backend.
func (m *Mirror) outbound(p *pair) *http.Request {
	in := &p.cp.Request
	u := &url.URL{Path: in.Path, RawQuery: in.RawQuery}
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
	return req
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
