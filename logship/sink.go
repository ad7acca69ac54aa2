package logship

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/migratekit/migrate/telemetry"
)

// SinkOptions configure NewSink. The zero value retries with the default
// backoff on the real clock and has no dead-letter file (a rejection is
// then an error).
type SinkOptions struct {
	// DeadLetter receives the events a receiver refuses for good.
	DeadLetter *DeadLetter
	// BaseBackoff bounds the first retry's wait (default
	// DefaultBaseBackoff); MaxBackoff caps the bound as it doubles
	// (default 30s). Waits are drawn with full jitter below the bound.
	BaseBackoff, MaxBackoff time.Duration
	// Clock times the waits; nil is the real clock.
	Clock clockwork.Clock
	// Jitter draws a wait in [0, ceil); nil is a uniform draw.
	Jitter func(ceil time.Duration) time.Duration
	// Logger logs retries and dead letters; nil discards.
	Logger *slog.Logger
	// Metrics records batches, retries and dead letters; nil records
	// nothing.
	Metrics *telemetry.LogSink
}

// retrySink is the Sink of NewSink.
type retrySink struct {
	d    Deliverer
	opts SinkOptions
}

// NewSink returns a Sink that delivers batches through d: it retries what
// d reports as temporary (with exponential backoff and full jitter,
// waiting at least the receiver's Retry-After), sends again only the
// events a *PartialError names for a retry, splits a batch in halves on
// a *TooLargeError, and writes the events d reports as rejected to
// opts.DeadLetter. Send returns nil once every event is accepted or
// dead-lettered, ctx's error when ctx ends first (the batch is then not
// acknowledged: the source sends it again), and an error when the
// dead-letter file cannot be written. Close closes d when it is an
// io.Closer, and the dead-letter file.
func NewSink(d Deliverer, opts SinkOptions) Sink {
	if opts.BaseBackoff <= 0 {
		opts.BaseBackoff = DefaultBaseBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	if opts.Clock == nil {
		opts.Clock = clockwork.NewRealClock()
	}
	if opts.Jitter == nil {
		opts.Jitter = retryJitter
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &retrySink{d: d, opts: opts}
}

// sinkTally counts what happened to a batch's events.
type sinkTally struct {
	delivered, dead int
}

// Send implements Sink.
func (s *retrySink) Send(ctx context.Context, batch []Event) error {
	if len(batch) == 0 {
		return nil
	}
	start := s.opts.Clock.Now()
	var t sinkTally
	if err := s.deliver(ctx, batch, &t); err != nil {
		return err
	}
	s.opts.Metrics.Batch(t.delivered, t.dead, s.opts.Clock.Since(start))
	return nil
}

// deliver sends evs until every one is accepted or dead-lettered.
func (s *retrySink) deliver(ctx context.Context, evs []Event, t *sinkTally) error {
	for attempt := 0; ; attempt++ {
		err := s.d.Deliver(ctx, evs)
		if err == nil {
			t.delivered += len(evs)
			return nil
		}
		var (
			rej  *RejectedError
			part *PartialError
			big  *TooLargeError
		)
		switch {
		case errors.As(err, &rej):
			return s.rejected(evs, rej, t)
		case errors.As(err, &big):
			return s.split(ctx, evs, big, t)
		case errors.As(err, &part):
			rest, perr := s.partial(evs, part, t)
			if perr != nil || len(rest) == 0 {
				return perr
			}
			evs = rest
		}
		if err := s.wait(ctx, attempt, err); err != nil {
			return err
		}
	}
}

// wait logs and counts a failed attempt and waits before the next one.
func (s *retrySink) wait(ctx context.Context, attempt int, cause error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	after, status := retryAfterOf(cause)
	d := retryBackoff(attempt, after, s.opts.BaseBackoff, s.opts.MaxBackoff, s.opts.Jitter)
	reason := retryReason(cause)
	s.opts.Metrics.Retry(reason)
	s.opts.Logger.Warn("log sink: retrying", "attempt", attempt+1, "reason", reason,
		"status", status, "wait", d, "err", cause)
	return retrySleep(ctx, s.opts.Clock, d)
}

// retryAfterOf returns the Retry-After and status an error carries.
func retryAfterOf(err error) (time.Duration, int) {
	var part *PartialError
	var re *RetryableError
	switch {
	case errors.As(err, &part):
		return part.After, part.Status
	case errors.As(err, &re):
		return re.After, re.Status
	}
	return 0, 0
}

// rejected dead-letters the events rej names; the others were accepted.
func (s *retrySink) rejected(evs []Event, rej *RejectedError, t *sinkTally) error {
	idx := rej.Index
	if idx == nil {
		idx = make([]int, len(evs))
		for i := range idx {
			idx[i] = i
		}
	}
	if err := s.deadLetter(evs, idx, []string{rej.Reason}); err != nil {
		return err
	}
	t.dead += len(idx)
	t.delivered += len(evs) - len(idx)
	return nil
}

// partial dead-letters part's rejected events and returns those to send
// again; the others were accepted.
func (s *retrySink) partial(evs []Event, part *PartialError, t *sinkTally) ([]Event, error) {
	if len(part.Reasons) != len(part.Rejected) {
		return nil, fmt.Errorf("delivering log batch: partial answer with %d reasons for %d rejected events",
			len(part.Reasons), len(part.Rejected))
	}
	for _, i := range part.Retry {
		if i < 0 || i >= len(evs) {
			return nil, fmt.Errorf("delivering log batch: retry index %d out of a batch of %d", i, len(evs))
		}
	}
	if err := s.deadLetter(evs, part.Rejected, part.Reasons); err != nil {
		return nil, err
	}
	t.dead += len(part.Rejected)
	t.delivered += len(evs) - len(part.Rejected) - len(part.Retry)
	return pickEvents(evs, part.Retry), nil
}

// split sends each half of a batch the receiver found too large; a
// single event is dead-lettered.
func (s *retrySink) split(ctx context.Context, evs []Event, big *TooLargeError, t *sinkTally) error {
	if len(evs) == 1 {
		if err := s.deadLetter(evs, []int{0}, []string{"too large: " + big.Reason}); err != nil {
			return err
		}
		t.dead++
		return nil
	}
	s.opts.Metrics.Retry(telemetry.SinkRetryTooLarge)
	s.opts.Logger.Info("log sink: batch too large, splitting", "events", len(evs))
	h := len(evs) / 2
	if err := s.deliver(ctx, evs[:h], t); err != nil {
		return err
	}
	return s.deliver(ctx, evs[h:], t)
}

// deadLetter writes the events of evs at idx to the dead-letter file.
func (s *retrySink) deadLetter(evs []Event, idx []int, reasons []string) error {
	if len(idx) == 0 {
		return nil
	}
	for _, i := range idx {
		if i < 0 || i >= len(evs) {
			return fmt.Errorf("delivering log batch: rejected index %d out of a batch of %d", i, len(evs))
		}
	}
	if s.opts.DeadLetter == nil {
		return fmt.Errorf("delivering log batch: %d event(s) rejected (%s) and no dead-letter file", len(idx), reasons[0])
	}
	if err := s.opts.DeadLetter.Write(s.opts.Clock.Now(), pickEvents(evs, idx), reasons); err != nil {
		return fmt.Errorf("dead-lettering log events: %w", err)
	}
	s.opts.Logger.Warn("log sink: events rejected, written to the dead-letter file",
		"events", len(idx), "reason", reasons[0], "path", s.opts.DeadLetter.Path())
	return nil
}

// pickEvents returns the events of evs at idx, in a new slice.
func pickEvents(evs []Event, idx []int) []Event {
	out := make([]Event, 0, len(idx))
	for _, i := range idx {
		out = append(out, evs[i])
	}
	return out
}

// Close implements Sink.
func (s *retrySink) Close() error {
	var errs []error
	if c, ok := s.d.(io.Closer); ok {
		errs = append(errs, c.Close())
	}
	if s.opts.DeadLetter != nil {
		errs = append(errs, s.opts.DeadLetter.Close())
	}
	return errors.Join(errs...)
}
