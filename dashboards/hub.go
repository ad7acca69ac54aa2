package dashboards

import (
	"errors"
	"sync"
	"sync/atomic"
)

// message is one encoded frame.
type message struct {
	seq  uint64
	data []byte
}

// hub hands every frame to the open event streams. publish never waits:
// each stream has a bounded buffer, and a stream whose buffer is full
// misses the frame and is marked to resync.
type hub struct {
	buffer, maxClients int

	mu      sync.Mutex
	clients map[*client]struct{}
	replay  []message // the newest frames, oldest first, at most cap
	closed  bool
	done    chan struct{}
}

// client is one open event stream.
type client struct {
	ch chan message
	// lagged is set when a frame was dropped for it.
	lagged atomic.Bool
}

// Errors of subscribe.
var (
	errTooManyClients = errors.New("too many open dashboards")
	errClosed         = errors.New("the dashboard has stopped")
)

func newHub(buffer, maxClients, replay int) *hub {
	return &hub{
		buffer: buffer, maxClients: maxClients,
		clients: map[*client]struct{}{}, replay: make([]message, 0, replay), done: make(chan struct{}),
	}
}

func (h *hub) publish(m message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	if len(h.replay) == cap(h.replay) {
		copy(h.replay, h.replay[1:])
		h.replay = h.replay[:len(h.replay)-1]
	}
	h.replay = append(h.replay, m)
	for c := range h.clients {
		select {
		case c.ch <- m:
		default:
			c.lagged.Store(true)
		}
	}
}

// subscribe opens a stream. With resume, it returns the kept frames after
// seq after, or resync when some of them are no longer kept.
func (h *hub) subscribe(after uint64, resume bool) (c *client, backlog []message, resync bool, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, nil, false, errClosed
	}
	if len(h.clients) >= h.maxClients {
		return nil, nil, false, errTooManyClients
	}
	if resume {
		backlog, resync = h.since(after)
	}
	c = &client{ch: make(chan message, h.buffer)}
	h.clients[c] = struct{}{}
	return c, backlog, resync, nil
}

// since returns the kept frames after seq; resync is true when frames
// after seq are missing from them.
func (h *hub) since(seq uint64) (out []message, resync bool) {
	if len(h.replay) == 0 {
		return nil, false
	}
	newest := h.replay[len(h.replay)-1].seq
	if seq > newest {
		// A stream from before a restart: its numbers mean nothing here.
		return nil, true
	}
	if seq+1 < h.replay[0].seq {
		return nil, true
	}
	for _, m := range h.replay {
		if m.seq > seq {
			out = append(out, m)
		}
	}
	return out, false
}

func (h *hub) unsubscribe(c *client) {
	h.mu.Lock()
	delete(h.clients, c)
	h.mu.Unlock()
}

// count is the number of open streams.
func (h *hub) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

// close ends every stream and refuses new ones.
func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		close(h.done)
	}
}
