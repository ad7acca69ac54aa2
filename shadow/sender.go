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

	"github.com/jonboulle/clockwork"

	"github.com/migratekit/migrate/compare"
	"github.com/migratekit/migrate/lb"
	"github.com/migratekit/migrate/manifest"
)

// drainLimit is how much of a response past max_body is read (and thrown
// away) so that its connection can be reused; beyond it the connection is
// closed.
const drainLimit = 256 << 10

// Sender sends requests to the backends of one destination, round robin,
// each with its own deadline, and captures the answers up to a limit. It is
// how a Mirror reaches the candidate side (and the secondary), and how a
// replay reaches both sides. It is safe for concurrent use.
//
// A backend that cannot be reached is not dialed for every request: each
// backend address has a circuit breaker that opens after
// SenderOptions.BreakerFailures consecutive failed connection attempts.
// While it is open the round robin passes that backend over, for a backoff
// of 1s that doubles after each failed probe up to 30s (less up to a fifth
// at random, on the Sender's clock); then one request goes to it as a
// probe, and an answer or any successful connection closes the breaker.
// When every backend is backing off, Send returns at once with Err
// ErrBreakerOpen, without dialing.
type Sender struct {
	targets   *targets
	transport *http.Transport // https backends
	upstream  *lb.Upstream    // plain HTTP/1.1, the load balancer's
	timeout   time.Duration
	maxBody   int64
	clock     clockwork.Clock
	bufs      *bufferPool
	// dial makes the transport's connections; dialContext wraps it to
	// tell the breakers (tests count the attempts here).
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// SenderOptions configure a Sender. Zero values take the defaults of the
// shadow section.
type SenderOptions struct {
	// Timeouts are the app's connect and idle timeouts.
	Timeouts manifest.Timeouts
	// Timeout is each request's deadline (shadow.timeout); default
	// [manifest.DefaultShadowTimeout].
	Timeout time.Duration
	// MaxBody is how much of an answer is captured (shadow.max_body);
	// default [manifest.DefaultShadowMaxBody].
	MaxBody int64
	// Conns is how many idle connections are kept per backend; default
	// [manifest.DefaultShadowWorkers].
	Conns int
	// Clock times the answers and the breakers' backoffs; nil: the real
	// clock.
	Clock clockwork.Clock
	// BreakerFailures is how many consecutive failed connection attempts
	// to a backend open its circuit breaker (see Sender); default 5,
	// negative: never.
	BreakerFailures int
}

// NewSender returns a Sender to backends (http:// or https:// base URLs)
// with its own transport.
func NewSender(backends []string, opts SenderOptions) (*Sender, error) {
	return newSender(backends, opts, &bufferPool{})
}

func newSender(backends []string, opts SenderOptions, bufs *bufferPool) (*Sender, error) {
	s := &Sender{timeout: opts.Timeout, maxBody: opts.MaxBody, clock: opts.Clock, bufs: bufs}
	if s.timeout <= 0 {
		s.timeout = manifest.DefaultShadowTimeout
	}
	if s.maxBody <= 0 {
		s.maxBody = int64(manifest.DefaultShadowMaxBody)
	}
	if s.clock == nil {
		s.clock = clockwork.NewRealClock()
	}
	var err error
	if s.targets, err = newTargets(backends, opts.BreakerFailures, s.clock); err != nil {
		return nil, err
	}
	connect := opts.Timeouts.Connect.Or(manifest.DefaultConnectTimeout)
	s.dial = (&net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}).DialContext
	s.transport = newTransport(opts.Timeouts, orDefault(opts.Conns, manifest.DefaultShadowWorkers), s.targets.https())
	s.transport.DialContext = s.dialContext
	s.upstream = lb.NewUpstream(opts.Timeouts, s.dialContext, orDefault(opts.Conns, manifest.DefaultShadowWorkers), s.transport)
	return s, nil
}

// dialContext dials addr and tells its breaker how it went.
func (s *Sender) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := s.dial(ctx, network, addr)
	s.targets.byAddr[addr].dialed(err)
	return c, err
}

// Answer is one captured answer of a Sender.
type Answer struct {
	compare.Response
	// Stream says the answer is an event stream (SSE): only its status and
	// headers are kept, and it is not to be compared.
	Stream bool

	sb *shared
}

// Release hands the answer's body buffer back for reuse; Body must not be
// used after. Not calling it only costs an allocation.
func (a *Answer) Release() {
	a.sb.release()
	a.sb, a.Body = nil, nil
}

// Send sends req to the next backend and captures its answer. req.URL holds
// the path and query only (the backend's scheme, host and base path are
// added); req.Host and req.Header are sent as they are, and req's context
// is ignored: the request runs under ctx with the Sender's deadline. A side
// that gives no answer is an Answer with Err set (and Timeout when the
// deadline passed), never an error.
func (s *Sender) Send(ctx context.Context, req *http.Request) Answer {
	res, sb, stream := s.send(ctx, req)
	return Answer{Response: res, Stream: stream, sb: sb}
}

// backingOff reports that every backend's breaker is open: a send now
// would fail with ErrBreakerOpen.
func (s *Sender) backingOff() bool {
	for _, b := range s.targets.breakers {
		if !b.blocked() {
			return false
		}
	}
	return true
}

// CloseIdleConnections closes the Sender's idle connections.
func (s *Sender) CloseIdleConnections() { s.upstream.CloseIdleConnections() }

// send is Send, with the buffer that holds the captured body.
func (s *Sender) send(ctx context.Context, req *http.Request) (res compare.Response, sb *shared, stream bool) {
	base, br, probe := s.targets.pick()
	if base == nil {
		return compare.Response{Err: ErrBreakerOpen}, nil, false
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	target(req.URL, base)
	req = req.WithContext(ctx)
	start := s.clock.Now()
	hr, err := s.upstream.RoundTrip(req)
	br.probed(probe, err == nil)
	if err != nil {
		return failed(ctx, err), nil, false
	}
	defer hr.Body.Close()
	if isEventStream(hr.Header) {
		return compare.Response{Status: hr.StatusCode, Header: hr.Header, Latency: s.clock.Since(start)}, nil, true
	}
	sb = s.bufs.get()
	if hr.ContentLength > 0 {
		sb.buf.Grow(int(min(hr.ContentLength, s.maxBody)) + bytes.MinRead)
	}
	truncated, err := s.readAnswer(sb, hr.Body)
	if err != nil {
		sb.release()
		return failed(ctx, err), nil, false
	}
	return compare.Response{
		Status:    hr.StatusCode,
		Header:    hr.Header,
		Body:      sb.bytes(),
		Truncated: truncated,
		Latency:   s.clock.Since(start),
	}, sb, false
}

// readAnswer reads up to max_body bytes of body into sb and reports
// whether there was more (read on up to drainLimit and thrown away).
func (s *Sender) readAnswer(sb *shared, body io.Reader) (truncated bool, err error) {
	if _, err := sb.buf.ReadFrom(io.LimitReader(body, s.maxBody)); err != nil {
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

// target points u at backend base, as the load balancer does: scheme and
// host replaced, base path prefixed, base query prepended.
func target(u, base *url.URL) {
	u.Scheme, u.Host = base.Scheme, base.Host
	if bp := strings.TrimSuffix(base.Path, "/"); bp != "" {
		u.Path = bp + "/" + strings.TrimPrefix(u.Path, "/")
		if u.RawPath != "" {
			u.RawPath = strings.TrimSuffix(base.EscapedPath(), "/") + "/" + strings.TrimPrefix(u.RawPath, "/")
		}
	}
	switch {
	case base.RawQuery == "":
	case u.RawQuery == "":
		u.RawQuery = base.RawQuery
	default:
		u.RawQuery = base.RawQuery + "&" + u.RawQuery
	}
}

// newTransport is a Sender's own transport, apart from the load
// balancer's: idle connections for every worker, the app's connect and idle
// timeouts, no compression (bodies are compared as the backends sent them),
// no environment proxy. The deadline is the request's context; the
// Sender sets DialContext.
func newTransport(t manifest.Timeouts, conns int, https bool) *http.Transport {
	connect := t.Connect.Or(manifest.DefaultConnectTimeout)
	return &http.Transport{
		Proxy:                 nil,
		MaxIdleConnsPerHost:   conns,
		IdleConnTimeout:       t.Idle.Or(manifest.DefaultIdleTimeout),
		TLSHandshakeTimeout:   connect,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		ForceAttemptHTTP2:     https,
		WriteBufferSize:       16 << 10,
		ReadBufferSize:        16 << 10,
	}
}

// targets are the backends of one destination, taken round robin, each
// with the breaker of its address (backends at one address share it).
type targets struct {
	urls     []*url.URL
	breakers []*breaker          // of urls[i]; nil when breakers are off
	byAddr   map[string]*breaker // by the address the transport dials
	next     atomic.Uint64
}

func newTargets(raw []string, failures int, clock clockwork.Clock) (*targets, error) {
	if len(raw) == 0 {
		return nil, errors.New("no backends")
	}
	t := &targets{byAddr: make(map[string]*breaker, len(raw))}
	for _, r := range raw {
		u, err := url.Parse(strings.TrimSpace(r))
		if err != nil {
			return nil, fmt.Errorf("parsing backend %q: %w", r, err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("backend %q is not an http:// or https:// URL", r)
		}
		t.urls = append(t.urls, u)
		key := breakerKey(u.Hostname(), u.Port(), u.Scheme)
		b, ok := t.byAddr[key]
		if !ok {
			b = newBreaker(failures, clock)
			t.byAddr[key] = b
		}
		t.breakers = append(t.breakers, b)
	}
	return t, nil
}

// pick returns the next backend whose breaker lets a request through, its
// breaker and the probe number if the request is that breaker's probe; a
// nil URL when every backend is backing off.
func (t *targets) pick() (base *url.URL, b *breaker, probe uint64) {
	n := uint64(len(t.urls))
	first := t.next.Add(1) - 1
	for i := range n {
		k := (first + i) % n
		if ok, probe := t.breakers[k].allow(); ok {
			return t.urls[k], t.breakers[k], probe
		}
	}
	return nil, nil, 0
}

func (t *targets) https() bool {
	for _, u := range t.urls {
		if u.Scheme == "https" {
			return true
		}
	}
	return false
}
