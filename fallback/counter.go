package fallback

import (
	"hash/maphash"
	"net/netip"
	"sync"
	"time"

	"github.com/axiomhq/hyperloglog"
	"github.com/jonboulle/clockwork"
)

// Counting windows. Requests per minute slide by the second over the last
// 60 seconds. Distinct clients are kept in HyperLogLog sketches of 10
// minutes each, rotated: the estimate over the last hour is the union of
// the current sketch and the six before it, so it covers between 60 and 70
// minutes.
const (
	rateSlots     = 60
	clientSpan    = 10 * time.Minute
	clientSlots   = 7 // the current window and the six before it
	clientSeconds = int64(clientSpan / time.Second)
)

// Counter counts the arrivals of one app: requests over the last minute and
// distinct clients over the last hour. Client addresses are hashed with a
// per-process random seed into HyperLogLog sketches (dense, 16 KiB each,
// about 0.8% standard error) and never stored. Record is safe for
// concurrent use and does not allocate.
type Counter struct {
	clock clockwork.Clock
	seed  maphash.Seed

	mu       sync.Mutex
	secs     [rateSlots]uint32
	secAt    [rateSlots]int64 // the unix second each slot counts
	sketches [clientSlots]*hyperloglog.Sketch
	sketchAt [clientSlots]int64 // the 10-minute window each sketch holds
	scratch  *hyperloglog.Sketch
}

// NewCounter returns an empty counter on clock (nil: the real clock).
func NewCounter(clock clockwork.Clock) *Counter {
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	c := &Counter{clock: clock, seed: maphash.MakeSeed(), scratch: hyperloglog.NewNoSparse()}
	for i := range c.sketches {
		c.sketches[i] = hyperloglog.NewNoSparse()
		c.sketchAt[i] = -1
	}
	for i := range c.secAt {
		c.secAt[i] = -1
	}
	return c
}

// Record counts one request from client (an invalid address counts as one
// unknown client).
func (c *Counter) Record(client netip.Addr) {
	a := client.As16()
	h := maphash.Bytes(c.seed, a[:])
	sec := c.clock.Now().Unix()
	win := sec / clientSeconds
	c.mu.Lock()
	i := sec % rateSlots
	if c.secAt[i] != sec {
		c.secAt[i], c.secs[i] = sec, 0
	}
	c.secs[i]++
	j := win % clientSlots
	if c.sketchAt[j] != win {
		c.sketches[j].Reset()
		c.sketchAt[j] = win
	}
	c.sketches[j].InsertHash(h)
	c.mu.Unlock()
}

// PerMinute returns the requests of the last 60 seconds (the current one
// included).
func (c *Counter) PerMinute() float64 { return c.perMinuteAt(c.clock.Now()) }

func (c *Counter) perMinuteAt(now time.Time) float64 {
	sec := now.Unix()
	var n uint64
	c.mu.Lock()
	for i, at := range c.secAt {
		if at > sec-rateSlots && at <= sec {
			n += uint64(c.secs[i])
		}
	}
	c.mu.Unlock()
	return float64(n)
}

// Clients estimates the distinct clients of the last hour.
func (c *Counter) Clients() uint64 { return c.clientsAt(c.clock.Now()) }

func (c *Counter) clientsAt(now time.Time) uint64 {
	win := now.Unix() / clientSeconds
	c.mu.Lock()
	defer c.mu.Unlock()
	c.scratch.Reset()
	for i, at := range c.sketchAt {
		if at > win-clientSlots && at <= win {
			// Sketches of one precision always merge.
			_ = c.scratch.Merge(c.sketches[i])
		}
	}
	return c.scratch.Estimate()
}
