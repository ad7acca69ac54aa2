//go:build linux

package lb

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/migratekit/migrate/internal/evloop"
)

// The event-loop data path (Linux).
//
// A plain-HTTP listener with an app that can be reached from a loop
// (App.loopCapable: http backends, their names resolved by resolve.go) is
// served by event loops as nginx serves: one epoll loop per P on a locked
// OS thread, non-blocking sockets, no goroutine per connection and nothing
// allocated per request. A Go server with a goroutine per connection on
// Go's netpoller (fasthttp's server and client, once lb's second path)
// cost 1.3 to 1.5 times nginx's CPU per request (BENCHMARKS.md, issue 2);
// the loops cost what nginx costs.
//
// A loop serves the ordinary requests: HTTP/1.1 with one Host, HTTP/1.0
// with one or none (the backend's URL names its host then, as net/http's
// transport does), origin-form target, a Content-Length body, a chunked one
// (loopchunked_linux.go) or none, "Expect: 100-continue" included (see
// h1.ParseRequest), for a host an app the loops can serve claims, and
// upgrades (websocket), which it tunnels after the backend's 101
// (looptunnel_linux.go). It answers itself, as net/http's router and app
// would (loopown_linux.go), a host no app claims (421) and a CORS
// preflight. Any other request (an upgrade with a body or on HTTP/1.0,
// CONNECT, an app with an https backend, a
// malformed head, a 421 or preflight with a body)
// hands its connection, with the bytes read so far, to the listener's
// net/http server behind the gate (httpgate.go), which serves it from then on:
// one behaviour for every request, and the parser of the loop never has
// to judge a doubtful head (the gate answers it by the request rules).
//
// A client connection goes through the phases of connState, one handler
// each (clientConn.step): head, body, send, answer, flush, then head
// again; tunnel after a switch of protocols; linger and closed at its end.
//
// On a loop, the split, failover, balancing, passive ejection, retries on
// another backend, X-Forwarded-*, hop-by-hop removal, debug headers,
// cookie minting and telemetry are those of net/http's path (the tests of
// proxying behaviour run on both, through forEachPath and everyPath). A
// loop notices a client that leaves before its answer
// (counted as canceled), as net/http's path does.

// loopServer serves one listener on event loops.
type loopServer struct {
	p       *Proxy
	l       *listener
	rt      *router
	lfd     int // the listening socket, shared by the loops
	loops   []*loopWorker
	handOff func(net.Conn) // takes the connections the loops do not serve
	log     *slog.Logger
	wg      sync.WaitGroup // the loops' Run
	closeLn sync.Once
}

// newLoopServer readies n loops on the bound listener l; handOff takes
// the connections they do not serve, with the bytes read of them.
func (p *Proxy) newLoopServer(l *listener, n int, handOff func(net.Conn)) (*loopServer, error) {
	lfd, err := evloop.ListenerFD(l.ln)
	if err != nil {
		return nil, fmt.Errorf("serving %s on event loops: %w", l.addr, err)
	}
	s := &loopServer{p: p, l: l, rt: l.router, lfd: lfd, handOff: handOff, log: p.log.With("listen", l.addr)}
	for range n {
		ev, err := evloop.NewLoop(s.log)
		if err != nil {
			s.closeLoops()
			return nil, fmt.Errorf("serving %s on event loops: %w", l.addr, err)
		}
		s.loops = append(s.loops, newLoopWorker(s, ev))
	}
	return s, nil
}

func (s *loopServer) closeLoops() {
	for _, w := range s.loops {
		w.ev.Stop()
		go w.ev.Run() // closes its epoll instance
	}
	evloopClose(s.lfd)
}

// serve runs the loops until stop; it returns when every loop has
// returned.
func (s *loopServer) serve() error {
	for _, w := range s.loops {
		s.wg.Go(func() {
			if err := w.ev.Run(); err != nil {
				s.log.Error("event loop failed", "err", err)
			}
		})
		w.ev.Post(w.start)
	}
	s.wg.Wait()
	s.closeListener()
	return nil
}

// drain stops accepting, closes idle connections and makes busy ones close
// after their answer.
func (s *loopServer) drain(ctx context.Context) {
	var removed sync.WaitGroup
	for _, w := range s.loops {
		removed.Add(1)
		w.ev.Post(func() {
			w.drain()
			removed.Done()
		})
	}
	done := make(chan struct{})
	go func() { removed.Wait(); close(done) }()
	select { // no loop accepts any more: the socket can go
	case <-done:
		s.closeListener()
	case <-ctx.Done(): // a loop failed; stop closes the socket
	}
}

// closeListener closes the listening socket (once).
func (s *loopServer) closeListener() {
	s.closeLn.Do(func() {
		evloopClose(s.lfd)
		s.l.ln.Close()
	})
}

// stop closes every connection of the loops (cutting what is left) and
// ends them; serve returns.
func (s *loopServer) stop() {
	for _, w := range s.loops {
		w.ev.Post(w.cut)
	}
}

// serves reports whether the loops serve the requests of app a, one of
// table's (loopCapable): the worker keeps the list of table's apps they
// do not serve until the table changes (a reload).
func (w *loopWorker) serves(table *hostTable, a *App) bool {
	if table != w.table {
		w.table, w.skip = table, nil
		table.all(func(a *App) bool {
			if !loopCapable(a) {
				w.skip = append(w.skip, a)
			}
			return true
		})
	}
	return len(w.skip) == 0 || !slices.Contains(w.skip, a)
}

// loopsFor is the number of loops of a proxy: one per P. A loop waiting in
// epoll_wait holds its P, so the proxy raises GOMAXPROCS by one to keep a
// P for the rest of the program (without it, Go's sysmon takes the P of a
// waiting loop every 20 µs, which costs 13% more CPU per request).
// (A second proxy in the process finds GOMAXPROCS raised already: the
// loops are never more than the CPUs.)
func loopsFor(log *slog.Logger) int {
	procs := runtime.GOMAXPROCS(0)
	n := max(1, min(procs, runtime.NumCPU()))
	if procs < n+1 {
		runtime.GOMAXPROCS(n + 1)
	}
	log.Info("serving plain HTTP on event loops", "loops", n, "gomaxprocs", max(procs, n+1))
	return n
}

// loopIdleSweep is how often a loop closes connections past their idle
// or read deadlines.
const loopIdleSweep = time.Second

// loopSupported: the event-loop path exists on this system.
const loopSupported = true

func evloopClose(fd int) { _ = unix.Close(fd) }
