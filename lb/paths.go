package lb

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// Where the data paths meet (see the package doc's "Data paths"). The core
// (serve.go, lb.go, ...) serves each listener through a pathServer and
// names neither path; the event loops (loop*.go) and net/http's path
// (http*.go) use the core and never each other. This file chooses a
// listener's path and joins the two where the loops hand a connection
// over: it is the only file that names both (TestLayout checks it).

// dataPath is the data path of plain-HTTP listeners (tests choose it).
type dataPath int

const (
	pathAuto    dataPath = iota // event loops where they can, else net/http
	pathNetHTTP                 // net/http only
	numPaths                    // how many there are (tests run on each)
)

func (p dataPath) String() string {
	switch p {
	case pathAuto:
		return "loops"
	case pathNetHTTP:
		return "nethttp"
	}
	return fmt.Sprintf("path%d", int(p))
}

// testHooks are the tests' handles on the data paths (Options.test).
type testHooks struct {
	path         dataPath      // force a data path
	resolveEvery time.Duration // how often backend names are resolved
	headRead     func()        // called on a loop after it reads bytes of a request head
	handedOff    func()        // called when a loop hands a connection to net/http
}

// paths is what the junction keeps per proxy.
type paths struct {
	test   testHooks
	nloops int      // loops per listener, set at the first loop listener
	idle   []func() // close the idle backend connections of net/http's path
}

// attach gives app a its handler on net/http's path, which every app has
// (the loops hand it what they do not serve), wrapped by wrap when set
// (Options.Middleware). It returns what closes the handler's idle
// backend connections.
func (p *Proxy) attach(a *App, wrap func(http.Handler) http.Handler, deps sideDeps) (closeIdle func()) {
	h := newHTTPApp(a, deps)
	a.handler = h
	if wrap != nil {
		a.handler, a.wrapped = wrap(h), true
	}
	return h.closeIdle
}

// closeIdle closes idle connections to every backend (the loops close
// theirs as they stop).
func (p *Proxy) closeIdle() {
	for _, f := range p.paths.idle {
		f()
	}
}

// servedByLoops reports whether event loops front listener l: a plain
// listener with an app they can serve (loopCapable), on a system that
// has them; requests for its other apps hand their connection to net/http.
func (p *Proxy) servedByLoops(l *listener) bool {
	return loopSupported && p.paths.test.path == pathAuto && l.tls == nil && !l.router.all(func(a *App) bool { return !loopCapable(a) })
}

// pathServer returns the server of listener l on its path: event loops
// with net/http behind them for what they hand over, or net/http alone
// (TLS, no app the loops can serve, a system without loops, or loops
// that failed to start).
func (p *Proxy) pathServer(l *listener, reqCtx context.Context) pathServer {
	if p.servedByLoops(l) {
		if p.paths.nloops == 0 {
			p.paths.nloops = loopsFor(p.log)
		}
		hand := newHandoffListener(l.ln.Addr())
		ls, err := p.newLoopServer(l, p.paths.nloops, hand.push)
		if err == nil {
			return &handedOver{loops: ls, std: p.newHTTPServer(l, reqCtx, hand, nil), hand: hand}
		}
		hand.Close()
		p.log.Warn("serving with net/http instead of event loops", "listen", l.addr, "err", err)
	}
	return p.newHTTPServer(l, reqCtx, l.ln, l.tlsCfg)
}

// handedOver serves a listener on event loops, with the net/http server
// of the connections they hand over (hand).
type handedOver struct {
	loops pathServer
	std   pathServer
	hand  *handoffListener
}

func (h *handedOver) serve() error {
	errc := make(chan error, 1)
	go func() { errc <- h.std.serve() }()
	err := h.loops.serve()
	return errors.Join(err, <-errc)
}

// drain drains the loops, then the connections they handed over.
func (h *handedOver) drain(ctx context.Context) {
	h.loops.drain(ctx)
	h.std.drain(ctx)
}

func (h *handedOver) stop() {
	h.loops.stop()
	h.hand.Close()
	h.std.stop() // what is left on net/http is cut too
}

// handoffListener is the net.Listener of the net/http server that serves
// the connections the loops hand over.
type handoffListener struct {
	addr   net.Addr
	mu     sync.Mutex
	queue  []net.Conn
	ready  chan struct{} // capacity 1: the queue has connections
	done   chan struct{}
	closed bool
}

func newHandoffListener(addr net.Addr) *handoffListener {
	return &handoffListener{addr: addr, ready: make(chan struct{}, 1), done: make(chan struct{})}
}

// push queues c for Accept; it never blocks (it runs on a loop). After
// Close, c is closed.
func (h *handoffListener) push(c net.Conn) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		c.Close()
		return
	}
	h.queue = append(h.queue, c)
	h.mu.Unlock()
	select {
	case h.ready <- struct{}{}:
	default:
	}
}

func (h *handoffListener) Accept() (net.Conn, error) {
	for {
		h.mu.Lock()
		if len(h.queue) > 0 {
			c := h.queue[0]
			h.queue[0] = nil
			h.queue = h.queue[1:]
			more := len(h.queue) > 0
			h.mu.Unlock()
			if more {
				select {
				case h.ready <- struct{}{}:
				default:
				}
			}
			return c, nil
		}
		closed := h.closed
		h.mu.Unlock()
		if closed {
			return nil, net.ErrClosed
		}
		select {
		case <-h.ready:
		case <-h.done:
		}
	}
}

func (h *handoffListener) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	h.closed = true
	for _, c := range h.queue {
		c.Close()
	}
	h.queue = nil
	close(h.done)
	return nil
}

func (h *handoffListener) Addr() net.Addr { return h.addr }
