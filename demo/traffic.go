package demo

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Bounds of Traffic's settings: the clients' addresses come from two /24s
// (clientAddr), and a rate over MaxRate would make the tick interval zero
// long before a machine could send it.
const (
	MaxClients = 512
	MaxRate    = 100_000
)

// Traffic drives the proxy like a crowd of clients: each client has its own
// address (sent as X-Forwarded-For, the generator being a trusted proxy), and
// the requests mix product reads with checkouts.
type Traffic struct {
	// URL is the proxy's base URL.
	URL string
	// Clients is the number of distinct clients (default 200, at most
	// MaxClients).
	Clients int
	// Rate is the total requests per second (default 200, at most
	// MaxRate).
	Rate int
	// HTTP is the client used (default: a pooled client with a 5 s timeout).
	HTTP *http.Client

	mu    sync.Mutex
	sides map[int]string // client -> the side that last served it
	moved int            // clients that went from new back to old while the weight only rose
	sent  int
	fails int
}

// TrafficStats are what the generator saw.
type TrafficStats struct {
	Sent      int // requests sent
	Failed    int // transport errors (not HTTP error statuses)
	MovedBack int // clients served by new and then by old while the weight only rose
}

// Run sends requests until ctx ends. It is bounded: one request per tick of
// 1/Rate, one at a time per worker, and it stops with ctx.
func (t *Traffic) Run(ctx context.Context) {
	t.init()
	defer t.HTTP.CloseIdleConnections()
	tick := time.NewTicker(time.Second / time.Duration(t.Rate))
	defer tick.Stop()
	work := make(chan int)
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				t.one(ctx, c)
			}
		}()
	}
	defer wg.Wait()
	defer close(work)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			select {
			case work <- rand.IntN(t.Clients):
			default: // every worker busy: skip this tick rather than queue
			}
		}
	}
}

func (t *Traffic) init() {
	if t.Clients <= 0 {
		t.Clients = 200
	}
	t.Clients = min(t.Clients, MaxClients)
	if t.Rate <= 0 {
		t.Rate = 200
	}
	t.Rate = min(t.Rate, MaxRate)
	if t.HTTP == nil {
		t.HTTP = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	}
	t.sides = make(map[int]string)
}

func (t *Traffic) one(ctx context.Context, client int) {
	method, path, body := "GET", fmt.Sprintf("/api/products/%d", 1+client%4), ""
	switch n := rand.IntN(20); {
	case n < 3:
		path = "/api/products"
	case n < 5:
		path = "/api/status"
	case n < 7:
		path = "/api/search?q=tea"
	case n < 10:
		path = fmt.Sprintf("/api/cart/%d", client)
	case n == 10:
		method, path, body = "POST", "/api/checkout", `{"product":1}`
	}
	req, err := http.NewRequestWithContext(ctx, method, t.URL+path, strings.NewReader(body))
	if err != nil {
		return
	}
	req.Header.Set("X-Forwarded-For", clientAddr(client))
	resp, err := t.HTTP.Do(req)
	if ctx.Err() != nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sent++
	if err != nil {
		t.fails++
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	side := resp.Header.Get("X-Migrate-Side")
	if t.sides[client] == "new" && side == "old" {
		t.moved++
	}
	t.sides[client] = side
}

// Stats returns what the generator saw so far.
func (t *Traffic) Stats() TrafficStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return TrafficStats{Sent: t.sent, Failed: t.fails, MovedBack: t.moved}
}

// clientAddr gives client n an address from the documentation ranges; it
// only ever travels in a header.
func clientAddr(n int) string {
	if n < 256 {
		return fmt.Sprintf("198.51.100.%d", n)
	}
	return fmt.Sprintf("203.0.113.%d", n-256)
}
