package lb

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"sync"
	"time"

	"github.com/migratekit/migrate/internal/h1"
	"github.com/migratekit/migrate/manifest"
)

// Upstream is a plain HTTP/1.1 client transport for http:// backends:
// the goroutine serving the request writes it and reads the answer on a
// pooled connection itself. net/http's Transport hands every request to two
// goroutines per connection (a write loop and a read loop) through
// channels, which on a busy proxy costs as much CPU as the proxying. What it
// does not handle (https, upgrades, Expect: 100-continue) goes to fallback.
type Upstream struct {
	dial           func(ctx context.Context, network, addr string) (net.Conn, error)
	responseHeader time.Duration
	idleTimeout    time.Duration
	maxIdlePerHost int
	fallback       http.RoundTripper
	mu             sync.Mutex
	idle           map[string][]*h1Conn
	closed         bool
}

type h1Conn struct {
	c    net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
	key  string
	used time.Time
}

func (t *Upstream) handles(req *http.Request) bool {
	if req.URL.Scheme != "http" || req.Header.Get("Expect") != "" {
		return false
	}
	if _, ok := req.Header["Upgrade"]; ok {
		return false
	}
	return true
}

// RoundTrip implements http.RoundTripper.
func (t *Upstream) RoundTrip(req *http.Request) (*http.Response, error) {
	if !t.handles(req) {
		return t.fallback.RoundTrip(req)
	}
	for attempt := 0; ; attempt++ {
		pc, reused, err := t.get(req.Context(), req.URL.Host)
		if err != nil {
			closeBody(req)
			return nil, err
		}
		resp, sent, err := t.exchange(req, pc)
		if err == nil {
			return resp, nil
		}
		pc.c.Close()
		// A kept-alive connection the backend closed meanwhile: send again
		// on a new one, when nothing of the answer came and the body can
		// be sent again.
		if reused && attempt == 0 && !sent && requestResendable(req) && rewindable(req) {
			if req.GetBody != nil {
				if req.Body, err = req.GetBody(); err != nil {
					return nil, err
				}
			}
			continue
		}
		closeBody(req)
		return nil, err
	}
}

// requestResendable is resendable for a request of net/http's.
func requestResendable(req *http.Request) bool {
	keyed := false
	for _, k := range idempotencyKeys {
		_, ok := req.Header[k]
		keyed = keyed || ok
	}
	return resendable(req.Method, keyed)
}

func rewindable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// exchange writes req on pc and reads the answer's head. sent says whether
// any byte of an answer arrived (then it is not safe to send again). The
// body is written while the answer is read, as http.Transport does: a
// backend may answer before it has read the whole body, and that answer
// must reach the client (the connection is then not reused).
func (t *Upstream) exchange(req *http.Request, pc *h1Conn) (*http.Response, bool, error) {
	ctx := req.Context()
	cut := func() { pc.c.SetDeadline(time.Unix(1, 0)) }
	stop := context.AfterFunc(ctx, cut)
	w, err := t.send(req, pc, cut)
	if err != nil {
		stop()
		return nil, false, ctxErr(ctx, err)
	}
	resp, doubtful, sent, err := t.readAnswer(req, pc)
	if err != nil {
		stop()
		if w != nil {
			err = w.abandon(pc, err)
		}
		return nil, sent, ctxErr(ctx, err)
	}
	keep := !resp.Close && !req.Close && !doubtful
	if resp.Body == http.NoBody || req.Method == http.MethodHead {
		stop()
		wrote := w.wrote(pc) // first: it ends a write still going
		t.done(pc, keep && ctx.Err() == nil && wrote)
		return resp, true, nil
	}
	rc := resp.Body
	if chunked(resp) {
		rc = &chunkReader{br: pc.br, res: resp} // net/http's has not read yet
	}
	resp.Body = &h1Body{rc: rc, t: t, pc: pc, keep: keep, stop: stop, w: w}
	return resp, true, nil
}

// send writes req's head, and its body on a goroutine of its own (w; nil
// when there is none). The answer's head must come within responseHeader
// of the request's end. Deadlines are set before the cancellation hook
// fires, or re-checked after, so that a later deadline never overrides the
// cut of a cancelled request.
func (t *Upstream) send(req *http.Request, pc *h1Conn, cut func()) (*bodyWriter, error) {
	if err := writeHead(pc.bw, req); err != nil {
		return nil, err
	}
	if bodyLess(req) {
		closeBody(req)
		t.awaitAnswer(req, pc, cut)
		return nil, pc.bw.Flush()
	}
	w := &bodyWriter{done: make(chan struct{})}
	if a, ok := req.Body.(interface{ abortRead() }); ok {
		w.abort = a.abortRead
	}
	go w.run(t, req, pc, cut)
	return w, nil
}

// awaitAnswer starts the responseHeader timeout, once the request is out.
func (t *Upstream) awaitAnswer(req *http.Request, pc *h1Conn, cut func()) {
	if t.responseHeader <= 0 {
		return
	}
	pc.c.SetReadDeadline(time.Now().Add(t.responseHeader))
	if req.Context().Err() != nil {
		cut()
	}
}

// readAnswer reads the head of the final answer, passing interim ones on;
// doubtful says the connection must not serve another request after it
// (framingDoubtful, or a head it could not judge).
func (t *Upstream) readAnswer(req *http.Request, pc *h1Conn) (resp *http.Response, doubtful, sent bool, err error) {
	ctx := req.Context()
	for {
		if _, err := pc.br.Peek(1); err != nil {
			return nil, false, false, err
		}
		doubtful = peekDoubtful(pc.br)
		resp, err := http.ReadResponse(pc.br, req)
		if err != nil {
			return nil, false, true, err
		}
		// Informational answers (103 Early Hints) precede the real one.
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			if t.responseHeader > 0 {
				pc.c.SetReadDeadline(time.Time{})
				if ctx.Err() != nil {
					pc.c.SetDeadline(time.Unix(1, 0))
				}
			}
			return resp, doubtful, true, nil
		}
		if err := got1xx(ctx, resp); err != nil {
			return nil, false, true, err
		}
	}
}

// peekDoubtful judges the answer head at the start of br by the loops'
// parser (h1.ParseResponse, without consuming it: http.ReadResponse reads
// it next, and deletes the Content-Length of a chunked answer): whether
// its framing is doubtful, or it cannot be judged (longer than br's
// buffer, malformed, cut short).
func peekDoubtful(br *bufio.Reader) bool {
	var h h1.Response
	for n := br.Buffered(); ; n = br.Buffered() + 1 {
		p, err := br.Peek(n)
		switch perr := h1.ParseResponse(p, &h); {
		case perr == nil:
			return framingDoubtful(&h)
		case !errors.Is(perr, h1.ErrIncomplete), err != nil:
			return true
		}
	}
}

// bodyWriter writes a request body to the backend while its answer is
// read.
type bodyWriter struct {
	done  chan struct{}
	err   error  // of the write, once done is closed
	abort func() // ends a read of the client's body in progress; nil: none
}

// run writes the body and flushes it; a client body that fails cuts the
// connection, so that the read of the answer ends too (the backend waits
// for the rest of the body).
func (w *bodyWriter) run(t *Upstream, req *http.Request, pc *h1Conn, cut func()) {
	defer close(w.done)
	w.err = writeBody(pc.bw, req)
	if w.err == nil {
		w.err = pc.bw.Flush()
	}
	if w.err != nil {
		if errors.As(w.err, new(bodyReadError)) {
			cut() // the backend would wait for the rest of the body
		}
		return
	}
	t.awaitAnswer(req, pc, cut)
}

// wrote reports whether the whole body went out (w nil: there was none).
// A body still going out when the answer has ended will not be whole: the
// connection is closed, which ends its write, and the client's body is
// abandoned (abortBody).
func (w *bodyWriter) wrote(pc *h1Conn) bool {
	if w == nil {
		return true
	}
	select {
	case <-w.done:
		return w.err == nil
	default:
	}
	w.stop(pc)
	return false
}

// stop ends the write: the connection closes, and the client's body is
// not read on.
func (w *bodyWriter) stop(pc *h1Conn) {
	pc.c.Close()
	if w.abort != nil {
		w.abort()
	}
}

// abandon ends the write after an exchange that failed with err, and
// returns the error to report: the client body's, when it failed.
func (w *bodyWriter) abandon(pc *h1Conn, err error) error {
	select {
	case <-w.done:
	default: // its failure from now on is the stop's, not the body's
		w.stop(pc)
		<-w.done
		return err
	}
	var be bodyReadError
	if errors.As(w.err, &be) {
		return be.error // the client's (clientBody.blame tells it)
	}
	return err
}

// got1xx hands an interim answer to the request's client trace, as
// http.Transport does: httputil.ReverseProxy passes it on to its client
// (103 Early Hints), as the loops do.
func got1xx(ctx context.Context, resp *http.Response) error {
	if trace := httptrace.ContextClientTrace(ctx); trace != nil && trace.Got1xxResponse != nil {
		return trace.Got1xxResponse(resp.StatusCode, textproto.MIMEHeader(resp.Header))
	}
	return nil
}

func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return err
}

// h1Body gives the connection back once the answer was read to its end,
// and closes it when the answer is abandoned.
type h1Body struct {
	rc   io.ReadCloser
	t    *Upstream
	pc   *h1Conn
	keep bool
	stop func() bool
	w    *bodyWriter // of the request's body; nil: none
	once sync.Once
	eof  bool
}

func (b *h1Body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.eof = true
		b.release()
	}
	return n, err
}

func (b *h1Body) Close() error {
	b.release()
	return nil
}

func (b *h1Body) release() {
	b.once.Do(func() {
		cancelled := !b.stop()   // the context already fired: the deadline is set
		wrote := b.w.wrote(b.pc) // first: it ends a write still going
		b.t.done(b.pc, b.keep && b.eof && !cancelled && wrote)
	})
}

// get returns an idle connection to addr, or dials one.
func (t *Upstream) get(ctx context.Context, addr string) (*h1Conn, bool, error) {
	now := time.Now()
	t.mu.Lock()
	conns := t.idle[addr]
	for len(conns) > 0 {
		pc := conns[len(conns)-1]
		conns = conns[:len(conns)-1]
		if t.idleTimeout > 0 && now.Sub(pc.used) > t.idleTimeout {
			pc.c.Close()
			continue
		}
		t.idle[addr] = conns
		t.mu.Unlock()
		return pc, true, nil
	}
	t.idle[addr] = conns
	t.mu.Unlock()
	c, err := t.dial(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	return &h1Conn{c: c, br: bufio.NewReaderSize(c, 16<<10), bw: bufio.NewWriterSize(c, 16<<10), key: addr}, false, nil
}

// done puts pc back in the pool, or closes it.
func (t *Upstream) done(pc *h1Conn, keep bool) {
	if keep && pc.br.Buffered() == 0 {
		pc.used = time.Now()
		t.mu.Lock()
		if len(t.idle[pc.key]) < t.maxIdlePerHost {
			t.idle[pc.key] = append(t.idle[pc.key], pc)
			t.mu.Unlock()
			return
		}
		t.mu.Unlock()
	}
	pc.c.Close()
}

// CloseIdleConnections closes the pooled connections.
func (t *Upstream) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = map[string][]*h1Conn{}
	t.mu.Unlock()
	for _, conns := range idle {
		for _, pc := range conns {
			pc.c.Close()
		}
	}
	if c, ok := t.fallback.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// newH1Transport is the upstream transport of a side: Upstream for
// http:// backends, fallback for the rest.
func newH1Transport(t manifest.Timeouts, fallback http.RoundTripper, resolver *net.Resolver) *Upstream {
	dial := (&net.Dialer{Timeout: t.Connect.Or(manifest.DefaultConnectTimeout), KeepAlive: 30 * time.Second, Resolver: resolver}).DialContext
	return NewUpstream(t, dial, 1024, fallback)
}

// NewUpstream returns the load balancer's upstream transport: plain
// HTTP/1.1 on pooled connections, run by the calling goroutine, for http://
// backends (at most maxIdle idle connections per backend), and fallback for
// https backends, upgrades and Expect: 100-continue. dial makes its
// connections (nil: a net.Dialer with t's connect timeout). It has
// RoundTrip and CloseIdleConnections; the shadow mirror uses it too.
func NewUpstream(t manifest.Timeouts, dial func(ctx context.Context, network, addr string) (net.Conn, error), maxIdle int, fallback http.RoundTripper) *Upstream {
	if dial == nil {
		dial = (&net.Dialer{Timeout: t.Connect.Or(manifest.DefaultConnectTimeout), KeepAlive: 30 * time.Second}).DialContext
	}
	return &Upstream{
		dial:           dial,
		responseHeader: t.ResponseHeader.Or(manifest.DefaultResponseHeaderTimeout),
		idleTimeout:    t.Idle.Or(manifest.DefaultIdleTimeout),
		maxIdlePerHost: maxIdle,
		fallback:       fallback,
		idle:           map[string][]*h1Conn{},
	}
}
