package logship

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/jonboulle/clockwork"
)

// HTTPOptions configure the deliverers that post to an HTTP receiver
// (Loki, Elasticsearch, OTLP).
type HTTPOptions struct {
	// URL is the receiver's base URL; the protocol's path is appended.
	URL string
	// Headers are set on every request (an API key). Content-Type and
	// Content-Encoding are the deliverer's.
	Headers map[string]string
	// Client sends the requests; nil is a client of its own with Timeout.
	Client *http.Client
	// Timeout bounds one request of the default client; default 10s.
	Timeout time.Duration
	// Clock turns a Retry-After date into a wait; nil is the real clock.
	Clock clockwork.Clock
}

// sinkGzipLevel is the compression of request bodies: the fastest level,
// since gzip is most of the CPU a batch costs (see BENCHMARKS.md) and
// log lines still shrink several times at it.
const sinkGzipLevel = gzip.BestSpeed

func newSinkGzip() *gzip.Writer {
	zw, _ := gzip.NewWriterLevel(io.Discard, sinkGzipLevel) // the level is valid
	return zw
}

// maxAnswer bounds how much of an answer is read: an Elasticsearch bulk
// answer holds one item per event.
const maxAnswer = 32 << 20

// httpPoster posts gzipped bodies to one URL. It is used by one goroutine
// at a time (Sink.Send's).
type httpPoster struct {
	url     string
	headers http.Header
	client  *http.Client
	own     bool // client is ours: Close closes its idle connections
	clock   clockwork.Clock
	gz      *gzip.Writer
}

// httpAnswer is what a receiver answered.
type httpAnswer struct {
	status int
	header http.Header
	body   []byte
}

func newHTTPPoster(kind, path string, opts HTTPOptions) (*httpPoster, error) {
	u, err := url.Parse(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("creating %s sink: url %q: %w", kind, opts.URL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("creating %s sink: url %q: want http:// or https:// and a host", kind, opts.URL)
	}
	p := &httpPoster{
		url:     strings.TrimSuffix(opts.URL, "/") + path,
		headers: make(http.Header),
		client:  opts.Client,
		clock:   opts.Clock,
		gz:      newSinkGzip(),
	}
	for k, v := range opts.Headers {
		p.headers.Set(k, v)
	}
	if p.client == nil {
		t := opts.Timeout
		if t <= 0 {
			t = DefaultSinkTimeout
		}
		p.client = &http.Client{Timeout: t, Transport: http.DefaultTransport.(*http.Transport).Clone()}
		p.own = true
	}
	if p.clock == nil {
		p.clock = clockwork.NewRealClock()
	}
	return p, nil
}

// post sends body gzipped with contentType and returns the answer. An
// error is a *RetryableError: no answer came.
func (p *httpPoster) post(ctx context.Context, body []byte, contentType string, header http.Header) (*httpAnswer, error) {
	var zbuf bytes.Buffer // a new one per request: the transport may read it after Do returns
	zbuf.Grow(len(body)/4 + 64)
	p.gz.Reset(&zbuf)
	if _, err := p.gz.Write(body); err != nil {
		return nil, fmt.Errorf("compressing request: %w", err)
	}
	if err := p.gz.Close(); err != nil {
		return nil, fmt.Errorf("compressing request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, &zbuf)
	if err != nil {
		return nil, fmt.Errorf("creating request: %w", err)
	}
	for k, v := range p.headers {
		req.Header[k] = v
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, &RetryableError{Err: fmt.Errorf("posting to %s: %w", p.url, err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, &RetryableError{Status: resp.StatusCode, Err: fmt.Errorf("reading answer of %s: %w", p.url, err)}
	}
	return &httpAnswer{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// retryAfter returns the answer's Retry-After as a wait.
func (p *httpPoster) retryAfter(a *httpAnswer) time.Duration {
	return parseRetryAfter(a.header.Get("Retry-After"), p.clock.Now())
}

// classify turns a non-2xx answer into the Deliverer contract's error:
// 413 is too large; the statuses retryable accepts, and 401, 403 and 404
// (a key or URL to fix, not data to drop: the shipper waits for the fix)
// are retryable with the answer's Retry-After; any other is a rejection
// of the whole batch. A 2xx answer gives nil.
func (p *httpPoster) classify(kind string, a *httpAnswer, retryable func(int) bool) error {
	switch s := a.status; {
	case s >= 200 && s < 300:
		return nil
	case s == http.StatusRequestEntityTooLarge:
		return &TooLargeError{Reason: fmt.Sprintf("%s: status %d: %s", kind, s, snippet(a.body))}
	case retryable(s), s == http.StatusUnauthorized, s == http.StatusForbidden, s == http.StatusNotFound:
		return &RetryableError{Status: s, After: p.retryAfter(a),
			Err: fmt.Errorf("%s at %s: %s", kind, p.url, snippet(a.body))}
	default:
		return &RejectedError{Reason: fmt.Sprintf("%s: status %d: %s", kind, s, snippet(a.body))}
	}
}

// snippet returns the start of an answer's body, for an error.
func snippet(body []byte) string {
	const max = 512
	s := strings.TrimSpace(string(body[:min(len(body), max)]))
	if len(body) > max {
		s += "…"
	}
	if s == "" {
		return "(empty answer)"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// Close closes the idle connections of the poster's own client.
func (p *httpPoster) Close() error {
	if p.own {
		p.client.CloseIdleConnections()
	}
	return nil
}
