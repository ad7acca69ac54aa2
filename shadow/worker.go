package shadow

import (
	"context"
	"net/http"
	"net/url"

	"github.com/migratekit/migrate/internal/forward"
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
	forward.RequestHeader(h, "") // as lb forwards the served request
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
// does for the served request (forward.SetXForwarded), and no Go default
// User-Agent (as httputil.ReverseProxy sends none).
func (m *Mirror) forwarded(h http.Header, p *pair) {
	in := &p.cp.Request
	peer := forward.PeerAddr(p.remoteAddr)
	forward.SetXForwarded(h, in.Header, forward.Trusted(peer, m.trusted), peer, in.Host, p.tls)
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = []string{""}
	}
}
