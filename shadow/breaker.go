package shadow

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
)

// Circuit breaker settings: after defaultBreakerFailures consecutive failed
// connection attempts to a backend, a Sender stops sending to it for a
// backoff that starts at minBackoff and doubles after each failed probe up
// to maxBackoff, less up to a fifth of it at random (so that the Senders of
// several apps do not probe in step).
const (
	defaultBreakerFailures = 5
	minBackoff             = time.Second
	maxBackoff             = 30 * time.Second
)

// ErrBreakerOpen is the Err of an Answer that was not sent: every backend
// of the destination refused connections (or could not be reached) several
// times in a row and is backing off. No connection was attempted.
var ErrBreakerOpen = errors.New("backends unreachable, backing off")

// breaker stops sending to one backend address after consecutive failed
// connection attempts. Closed, it costs an atomic load per request. Open,
// it turns requests away until its backoff is over, then lets one through
// as a probe: any successful connection or answer closes it, a failed
// connection opens it again for twice as long. A nil breaker never opens.
type breaker struct {
	threshold int32
	clock     clockwork.Clock
	open      atomic.Bool  // false: closed, requests go through
	failures  atomic.Int32 // consecutive failed connection attempts while closed

	mu      sync.Mutex
	until   time.Time     // end of the backoff
	backoff time.Duration // the backoff before jitter
	probe   uint64        // the probe in flight; 0: none
	probes  uint64        // the last probe number given out
}

func newBreaker(threshold int, clock clockwork.Clock) *breaker {
	if threshold < 0 {
		return nil
	}
	return &breaker{threshold: int32(orDefault(threshold, defaultBreakerFailures)), clock: clock}
}

// allow reports whether a request may go now, and the probe number when
// that request is the breaker's probe (0 otherwise).
func (b *breaker) allow() (ok bool, probe uint64) {
	if b == nil || !b.open.Load() {
		return true, 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.open.Load() {
		return true, 0
	}
	if b.probe != 0 || b.clock.Now().Before(b.until) {
		return false, 0
	}
	b.probes++
	b.probe = b.probes
	return true, b.probe
}

// blocked reports that allow would turn a request away now.
func (b *breaker) blocked() bool {
	if b == nil || !b.open.Load() {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.open.Load() && (b.probe != 0 || b.clock.Now().Before(b.until))
}

// dialed records a connection attempt: err nil is a success, a canceled
// attempt tells nothing, anything else is a failure.
func (b *breaker) dialed(err error) {
	switch {
	case b == nil || errors.Is(err, context.Canceled):
	case err == nil:
		b.succeeded()
	default:
		b.failed()
	}
}

// succeeded closes the breaker: the backend can be reached.
func (b *breaker) succeeded() {
	if !b.open.Load() {
		if b.failures.Load() != 0 {
			b.failures.Store(0)
		}
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.close()
}

// failed counts a failed connection attempt: the last one allowed while
// closed opens the breaker, that of a probe opens it again for longer.
// Attempts that were under way when it opened do not count.
func (b *breaker) failed() {
	if !b.open.Load() {
		if b.failures.Add(1) < b.threshold {
			return
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		if !b.open.Load() {
			b.trip(minBackoff)
		}
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.probe != 0 {
		b.trip(min(2*b.backoff, maxBackoff))
	}
}

// probed ends probe p: an answer closes the breaker; without one and
// without a verdict on a connection, the next request probes again.
func (b *breaker) probed(p uint64, answered bool) {
	if b == nil || p == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.probe != p:
		// A connection attempt decided already.
	case answered:
		b.close()
	default:
		b.probe = 0
	}
}

// trip opens the breaker for a jittered backoff d; b.mu is held.
func (b *breaker) trip(d time.Duration) {
	b.backoff = d
	b.until = b.clock.Now().Add(d - rand.N(d/5))
	b.probe = 0
	b.open.Store(true)
}

// close lets every request through again; b.mu is held.
func (b *breaker) close() {
	b.failures.Store(0)
	b.probe = 0
	b.open.Store(false)
}

// breakerKey is the address a transport dials for backend u, as
// net/http.Transport spells it: host and port, the scheme's port by default.
func breakerKey(host, port, scheme string) string {
	if port == "" {
		port = "80"
		if scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(host, port)
}
