package fallback

import (
	"sync"
	"time"
)

// retireTracker remembers since when the arrival rate has stayed under the
// retire threshold.
type retireTracker struct {
	below float64 // requests per minute

	mu    sync.Mutex
	since time.Time // zero while at or above the threshold
}

// observe records the rate seen at now and returns since when it has been
// under the threshold (zero while it is not). The rate must be under the
// threshold at every observation for since to stay: the first observation
// at or above it clears since.
func (t *retireTracker) observe(now time.Time, perMinute float64) time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case perMinute >= t.below:
		t.since = time.Time{}
	case t.since.IsZero():
		t.since = now
	}
	return t.since
}
