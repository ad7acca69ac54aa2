package logship

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/migratekit/migrate/telemetry"
)

// PartialError extends the Deliverer contract of event.go: it is an
// answer that accepted some events of a batch, refused some for good and
// asks for others to be sent again, each by its index in the batch (an
// Elasticsearch bulk answer whose items have mixed statuses). The events
// it names in neither list were accepted. The Sink dead-letters Rejected
// and sends again only Retry. IsRetryable reports true for it; Retry may
// be empty, and then nothing is left to send.
type PartialError struct {
	// Rejected lists the events refused for good, Reasons the receiver's
	// reason for each (same length).
	Rejected []int
	Reasons  []string
	// Retry lists the events to send again.
	Retry []int
	// Status is the status that asked for the retry (429, 503), After
	// the receiver's Retry-After.
	Status int
	After  time.Duration
}

func (e *PartialError) Error() string {
	return fmt.Sprintf("partly delivered: %d event(s) rejected, %d to retry", len(e.Rejected), len(e.Retry))
}

// TooLargeError extends the Deliverer contract of event.go: the receiver
// refused the request as too large (413). The Sink splits the batch in
// halves and sends each; a single event that is still too large is
// dead-lettered.
type TooLargeError struct {
	Reason string
}

func (e *TooLargeError) Error() string { return "batch too large: " + e.Reason }

// DefaultBaseBackoff is the first retry's upper bound.
const DefaultBaseBackoff = 100 * time.Millisecond

// retryBackoff returns how long to wait before retry number attempt (0 for
// the first): full jitter, a uniform draw below min(max, base·2^attempt),
// and never less than the receiver's Retry-After (after), which is
// honoured even beyond max.
func retryBackoff(attempt int, after, base, max time.Duration, jitter func(time.Duration) time.Duration) time.Duration {
	ceil := base
	for i := 0; i < attempt && ceil < max; i++ {
		ceil *= 2
	}
	ceil = min(ceil, max)
	d := time.Duration(0)
	if ceil > 0 {
		d = jitter(ceil)
	}
	return retryMaxDuration(d, after)
}

func retryMaxDuration(a, b time.Duration) time.Duration {
	if a > b {
		return a
	}
	return b
}

// retryJitter draws uniformly in [0, ceil).
func retryJitter(ceil time.Duration) time.Duration {
	return rand.N(ceil)
}

// retrySleep waits d on clock, or returns ctx's error when it ends first.
func retrySleep(ctx context.Context, clock clockwork.Clock, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t := clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.Chan():
		return nil
	}
}

// parseRetryAfter reads a Retry-After header, delta-seconds or an
// HTTP-date, as a wait from now; 0 when absent, malformed or past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, int64(24*time.Hour/time.Second))) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil || !t.After(now) {
		return 0
	}
	return min(t.Sub(now), 24*time.Hour)
}

// retryReason is the metrics reason of a failed attempt.
func retryReason(err error) string {
	var part *PartialError
	var big *TooLargeError
	var re *RetryableError
	switch {
	case errors.As(err, &part):
		return telemetry.SinkRetryPartial
	case errors.As(err, &big):
		return telemetry.SinkRetryTooLarge
	case errors.As(err, &re):
		return retryStatusReason(re.Status)
	}
	return telemetry.SinkRetryOther
}

func retryStatusReason(status int) string {
	switch {
	case status == 0:
		return telemetry.SinkRetryNetwork
	case status == http.StatusTooManyRequests:
		return telemetry.SinkRetryRateLimited
	case status == http.StatusUnauthorized, status == http.StatusForbidden, status == http.StatusNotFound:
		return telemetry.SinkRetryAuth
	case status >= 500, status == http.StatusRequestTimeout:
		return telemetry.SinkRetryUnavailable
	}
	return telemetry.SinkRetryOther
}
