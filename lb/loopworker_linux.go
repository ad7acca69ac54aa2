//go:build linux

package lb

import (
	"net/netip"
	"slices"

	"github.com/migratekit/migrate/internal/evloop"
)

// Buffer sizes of a loop connection: a request or response head must fit
// in loopHeadBuf; loopOutBuf holds answer bytes on their way to a client.
const (
	loopHeadBuf = 16 << 10
	loopOutBuf  = 32 << 10
	loopMaxIdle = 512 // idle connections kept per backend and loop
)

// loopWorker is one event loop of a listener with its connections: the
// clients it accepted and its own idle backend connections.
type loopWorker struct {
	srv      *loopServer
	ev       *evloop.Loop
	clients  []*clientConn // index: clientConn.slot
	idle     map[*backend][]*upConn
	heads    bufPool // loopHeadBuf: client requests, backend answer heads
	outs     bufPool // loopOutBuf: answers to clients
	sweep    evloop.Timer
	draining bool
	table    *hostTable // the listener's apps when skip was made (serves)
	skip     []*App     // table's apps the loops do not serve
}

func newLoopWorker(s *loopServer, ev *evloop.Loop) *loopWorker {
	w := &loopWorker{srv: s, ev: ev, idle: make(map[*backend][]*upConn),
		heads: bufPool{size: loopHeadBuf}, outs: bufPool{size: loopOutBuf}}
	w.sweep.F = w.sweepIdle
	return w
}

// start begins accepting (on the loop).
func (w *loopWorker) start() {
	if err := w.ev.AddListener(w.srv.lfd, w.accept); err != nil {
		w.srv.log.Error("accepting on an event loop", "err", err)
		return
	}
	w.ev.Schedule(&w.sweep, w.ev.Now().Add(loopIdleSweep))
}

// accept takes a new client connection.
func (w *loopWorker) accept(fd int, peer netip.AddrPort) {
	if w.draining {
		evloopClose(fd)
		return
	}
	c := newClientConn(w, fd, peer)
	if err := w.ev.Add(fd, c); err != nil {
		w.srv.log.Error("accepting connection", "err", err)
		evloopClose(fd)
		return
	}
	c.slot = len(w.clients)
	w.clients = append(w.clients, c)
	c.waitHead()
}

// forget drops c from the loop's clients.
func (w *loopWorker) forget(c *clientConn) {
	i := c.slot
	if i < 0 || i >= len(w.clients) || w.clients[i] != c {
		return
	}
	last := len(w.clients) - 1
	w.clients[i] = w.clients[last]
	w.clients[i].slot = i
	w.clients[last] = nil
	w.clients = w.clients[:last]
	c.slot = -1
}

// drain stops accepting, closes the connections waiting for a request and
// marks the others to close after their answer.
func (w *loopWorker) drain() {
	w.draining = true
	w.ev.RemoveListener(w.srv.lfd)
	for i := len(w.clients) - 1; i >= 0; i-- {
		if i < len(w.clients) {
			w.clients[i].drain()
		}
	}
}

// cut closes every connection of the loop, ending the requests still
// running, and stops it.
func (w *loopWorker) cut() {
	w.draining = true
	for _, c := range slices.Clone(w.clients) {
		c.close()
	}
	for _, idle := range w.idle {
		for _, u := range idle {
			w.ev.Close(u.fd)
		}
	}
	clear(w.idle)
	w.ev.Stop()
}

// sweepIdle closes client connections past their deadline and backend
// connections idle for longer than their pool allows.
func (w *loopWorker) sweepIdle() {
	now := w.ev.Now()
	for i := len(w.clients) - 1; i >= 0; i-- {
		if i >= len(w.clients) {
			continue
		}
		if c := w.clients[i]; !c.deadline.IsZero() && now.After(c.deadline) {
			c.timedOut()
		}
	}
	for b, idle := range w.idle {
		gone := b.removed.Load() // from its pool (backends.go)
		keep := idle[:0]
		for _, u := range idle {
			if gone || now.Sub(u.idleSince) > u.s.idleTimeout {
				w.ev.Close(u.fd)
				continue
			}
			keep = append(keep, u)
		}
		clear(idle[len(keep):])
		if gone {
			delete(w.idle, b)
			continue
		}
		w.idle[b] = keep
	}
	w.ev.Schedule(&w.sweep, now.Add(loopIdleSweep))
}

// take gives a connection to b: the most recently idle one, else a new
// one (connecting).
func (w *loopWorker) take(s *side, b *backend) (*upConn, error) {
	for idle := w.idle[b]; len(idle) > 0; idle = w.idle[b] {
		u := idle[len(idle)-1]
		idle[len(idle)-1] = nil
		w.idle[b] = idle[:len(idle)-1]
		if !b.current(u.addr) { // its name has moved on
			w.ev.Close(u.fd)
			continue
		}
		u.reused = true
		u.in = w.heads.get()
		return u, nil
	}
	return w.dial(s, b)
}

// dial opens a connection to b.
func (w *loopWorker) dial(s *side, b *backend) (*upConn, error) {
	addr, err := b.dialAddr()
	if err != nil {
		return nil, dialError(b, err)
	}
	fd, connecting, err := evloop.Dial(addr)
	if err != nil {
		return nil, dialError(b, err)
	}
	u := &upConn{w: w, fd: fd, b: b, s: s, addr: addr, connecting: connecting, in: w.heads.get()}
	u.Writable = !connecting
	u.timer.F = u.timedOut
	if err := w.ev.Add(fd, u); err != nil {
		evloopClose(fd)
		return nil, dialError(b, err)
	}
	if connecting {
		w.ev.Schedule(&u.timer, w.ev.Now().Add(s.connectTimeout))
	}
	return u, nil
}

// release ends u's part in a request: idle again when it can serve
// another, else closed.
func (w *loopWorker) release(u *upConn, reusable bool) {
	u.c = nil
	w.ev.Cancel(&u.timer)
	if !reusable || u.Hup || w.draining || len(w.idle[u.b]) >= loopMaxIdle || !u.b.current(u.addr) || u.b.removed.Load() {
		w.ev.Close(u.fd)
		w.heads.put(&u.in)
		return
	}
	w.heads.put(&u.in) // empty: reusable means no bytes past the answer
	u.idleSince = w.ev.Now()
	w.idle[u.b] = append(w.idle[u.b], u)
}

// dropIdle takes a closed idle connection out of its pool.
func (w *loopWorker) dropIdle(u *upConn) {
	idle := w.idle[u.b]
	for i, v := range idle {
		if v == u {
			w.idle[u.b] = append(idle[:i], idle[i+1:]...)
			break
		}
	}
	w.ev.Close(u.fd)
}
