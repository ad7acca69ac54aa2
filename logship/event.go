package logship

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Event is one shipped line with its labels: what a source hands to a sink.
type Event struct {
	// ID identifies the line for good: the hex of a hash of its file's
	// fingerprint and its offset, so a sink (or whoever reads it) drops
	// the duplicates a restart may send again.
	ID string
	// Time is the event time read from the line, else when it was read.
	Time time.Time
	// App, Side (old or new), Host and File label where the line came
	// from.
	App, Side, Host, File string
	// Offset is where the line starts in its file and End where the next
	// one starts (after the newline). A source checkpoints End once every
	// event up to it is delivered.
	Offset, End int64
	// Record is the parsed line; it owns its memory (see Record.Clone).
	// Record.ParseError labels a line shipped raw.
	Record Record
	// Split is set on the parts of a line longer than the source's
	// max_line, Unterminated on a last line shipped without its newline
	// after the flush timeout.
	Split, Unterminated bool
}

// A Sink delivers batches of events. Send returns nil once every event
// of batch is delivered or, when the receiver rejected it for good,
// written to the dead-letter file; only then may the source checkpoint
// past it. It retries temporary failures itself (backoff with jitter,
// honouring Retry-After) until ctx ends, and then returns ctx's error with
// the batch not acknowledged. Send is called by one goroutine at a time.
type Sink interface {
	Send(ctx context.Context, batch []Event) error
	Close() error
}

// A Deliverer makes one attempt at delivering a batch over one protocol
// (Loki, Elasticsearch, OTLP, the embedded store). It returns nil when
// the receiver accepted every event, a *RejectedError when it refused
// some for good (the rest were accepted), a *RetryableError when the whole
// batch may be tried again, and any other error (a network error) is
// retryable too. Retrying, backoff and dead letters are the job of the
// Sink that wraps it.
type Deliverer interface {
	Deliver(ctx context.Context, batch []Event) error
}

// RetryableError is a temporary failure of a whole batch.
type RetryableError struct {
	// Status is the HTTP status, 0 when there was no answer.
	Status int
	// After is the receiver's Retry-After; 0 when it gave none.
	After time.Duration
	Err   error
}

func (e *RetryableError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("retryable: status %d: %v", e.Status, e.Err)
	}
	return fmt.Sprintf("retryable: %v", e.Err)
}

func (e *RetryableError) Unwrap() error { return e.Err }

// RejectedError is a refusal for good of some events of a batch (a 400,
// or per-item errors of a bulk answer).
type RejectedError struct {
	// Index lists the rejected events by their index in the batch; nil
	// means every event.
	Index []int
	// Reason is the receiver's explanation, for the dead-letter file.
	Reason string
}

func (e *RejectedError) Error() string {
	if e.Index == nil {
		return "rejected: " + e.Reason
	}
	return fmt.Sprintf("rejected %d event(s): %s", len(e.Index), e.Reason)
}

// IsRetryable reports whether err, from a Deliverer, allows another try.
func IsRetryable(err error) bool {
	var rej *RejectedError
	return err != nil && !errors.As(err, &rej)
}
