package rollback

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
)

// Webhook sends events to a Slack-compatible incoming webhook (the
// manifest's notify.webhook), off the caller's path: Notify queues, Run
// posts. Each event is one POST of
//
//	{"text": "<one line a human reads>", "migrate": <the Event>}
//
// retried on 5xx, 408, 429 and transport errors with exponential backoff
// and jitter (or after the server's Retry-After), never on another status.
// Its methods are safe for concurrent use.
type Webhook struct {
	url        string
	http       *http.Client
	log        *slog.Logger
	clock      clockwork.Clock
	timeout    time.Duration
	attempts   int
	backoff    time.Duration
	maxBackoff time.Duration
	rand       func() float64
	onDone     func(Event, error)
	ownHTTP    bool // http is the notifier's own, closed by Run

	queue   chan Event
	started atomic.Bool
	sent    atomic.Uint64
	failed  atomic.Uint64
	dropped atomic.Uint64
}

// WebhookOptions are a Webhook's dependencies and limits; zero fields get
// the defaults.
type WebhookOptions struct {
	// HTTP is the client posts go through; nil: a client of its own.
	HTTP *http.Client
	// Logger receives failures and drops; nil: discarded.
	Logger *slog.Logger
	// Clock times the waits between attempts; nil: the real clock. (The
	// timeout of an attempt bounds network I/O and runs on real time.)
	Clock clockwork.Clock
	// Timeout bounds each attempt; default 5s.
	Timeout time.Duration
	// Attempts is how many times an event is tried, the first included;
	// default 5.
	Attempts int
	// Backoff is the wait before the first retry, doubled at each retry
	// up to MaxBackoff; defaults 1s and 30s. Each wait is drawn between
	// half of it and all of it (jitter). A Retry-After from the server
	// replaces it, up to MaxRetryAfter.
	Backoff, MaxBackoff time.Duration
	// Queue is how many events may wait to be sent; default 64. Beyond
	// it, Notify drops.
	Queue int
	// Rand returns a number in [0, 1) for the jitter; nil: math/rand/v2.
	Rand func() float64
	// OnDone, when set, is called from Run after each event was sent
	// (nil error) or given up.
	OnDone func(ev Event, err error)
}

// MaxRetryAfter caps the wait a server's Retry-After asks for, so that one
// event cannot hold the queue for long.
const MaxRetryAfter = 2 * time.Minute

// maxWebhookAnswer bounds what is read of the receiver's answer.
const maxWebhookAnswer = 64 << 10

// WebhookStats counts a Webhook's events.
type WebhookStats struct {
	Sent    uint64 // delivered (2xx)
	Failed  uint64 // given up: a status not retried, or every attempt failed
	Dropped uint64 // not sent: the queue was full, or still queued at shutdown
}

// NewWebhook prepares a notifier posting to rawURL. It sends nothing until
// Run.
func NewWebhook(rawURL string, opts WebhookOptions) (*Webhook, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("parsing webhook url: want an http or https URL, got %q", redactURL(rawURL))
	}
	w := &Webhook{
		url:        rawURL,
		http:       opts.HTTP,
		log:        opts.Logger,
		clock:      opts.Clock,
		timeout:    orDefault(opts.Timeout, 5*time.Second),
		attempts:   max(opts.Attempts, 0),
		backoff:    orDefault(opts.Backoff, time.Second),
		maxBackoff: orDefault(opts.MaxBackoff, 30*time.Second),
		rand:       opts.Rand,
		onDone:     opts.OnDone,
		queue:      make(chan Event, orDefault(opts.Queue, 64)),
	}
	if w.attempts == 0 {
		w.attempts = 5
	}
	if w.http == nil {
		w.http = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		w.ownHTTP = true
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if w.clock == nil {
		w.clock = clockwork.NewRealClock()
	}
	if w.rand == nil {
		w.rand = rand.Float64
	}
	return w, nil
}

func orDefault[T time.Duration | int](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// redactURL hides the path and query of a webhook URL, which carry its
// secret (Slack's /services/T000/B000/XXXX).
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(unparsable)"
	}
	return u.Scheme + "://" + u.Host + "/..."
}

// Notify queues ev without waiting. When the queue is full the event is
// dropped, counted and logged, and Notify returns false.
func (w *Webhook) Notify(ev Event) bool {
	select {
	case w.queue <- ev:
		return true
	default:
		w.dropped.Add(1)
		w.log.Warn("webhook queue full: notification dropped", "app", ev.App, "kind", ev.Kind)
		return false
	}
}

// Stats returns the counts so far.
func (w *Webhook) Stats() WebhookStats {
	return WebhookStats{Sent: w.sent.Load(), Failed: w.failed.Load(), Dropped: w.dropped.Load()}
}

// Run sends the queued events, one at a time, until ctx is done; then it
// drops (and counts) what is still queued and returns nil. Run may be
// called once.
func (w *Webhook) Run(ctx context.Context) error {
	if !w.started.CompareAndSwap(false, true) {
		return errors.New("running webhook notifier: already running")
	}
	defer w.closeIdle()
	for {
		select {
		case <-ctx.Done():
			w.drop()
			return nil
		case ev := <-w.queue:
			if ctx.Err() != nil { // both were ready
				w.dropAtShutdown(ev)
				continue
			}
			w.finish(ev, w.deliver(ctx, ev))
		}
	}
}

// drop empties the queue at shutdown.
func (w *Webhook) drop() {
	for range len(w.queue) {
		w.dropAtShutdown(<-w.queue)
	}
}

func (w *Webhook) dropAtShutdown(ev Event) {
	w.dropped.Add(1)
	w.log.Warn("webhook notification dropped at shutdown", "app", ev.App, "kind", ev.Kind)
}

// closeIdle closes the idle connections of the client the notifier made.
func (w *Webhook) closeIdle() {
	if w.ownHTTP {
		w.http.CloseIdleConnections()
	}
}

// finish counts and logs the outcome of one event.
func (w *Webhook) finish(ev Event, err error) {
	if err != nil {
		w.failed.Add(1)
		w.log.Warn("webhook notification failed", "app", ev.App, "kind", ev.Kind, "err", err)
	} else {
		w.sent.Add(1)
	}
	if w.onDone != nil {
		w.onDone(ev, err)
	}
}

// deliver posts ev, retrying what may heal, until it is sent, a status
// says not to retry, the attempts run out or ctx is done.
func (w *Webhook) deliver(ctx context.Context, ev Event) error {
	body, err := json.Marshal(webhookPayload{Text: eventText(ev), Migrate: ev})
	if err != nil {
		return fmt.Errorf("encoding notification: %w", err)
	}
	for attempt := 1; ; attempt++ {
		err := w.post(ctx, body)
		var r *retryable
		if err == nil || !errors.As(err, &r) || attempt >= w.attempts {
			return err
		}
		wait := w.backoffFor(attempt)
		if r.after > 0 {
			wait = min(r.after, MaxRetryAfter)
		}
		w.log.Debug("webhook attempt failed, retrying", "app", ev.App, "attempt", attempt, "wait", wait, "err", err)
		if !w.sleep(ctx, wait) {
			return fmt.Errorf("retrying notification: %w", ctx.Err())
		}
	}
}

// retryable is a failed attempt that a later one may get through; after is
// the server's Retry-After, 0 when none.
type retryable struct {
	err   error
	after time.Duration
}

func (r *retryable) Error() string { return r.err.Error() }
func (r *retryable) Unwrap() error { return r.err }

// post makes one attempt. Errors worth retrying are *retryable.
func (w *Webhook) post(ctx context.Context, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("building webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.http.Do(req)
	if err != nil {
		// The error names the URL, whose path is the webhook's secret.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return &retryable{err: fmt.Errorf("posting to %s: %w", redactURL(w.url), err)}
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxWebhookAnswer))
	switch code := resp.StatusCode; {
	case code/100 == 2:
		return nil
	case code/100 == 5 || code == http.StatusTooManyRequests || code == http.StatusRequestTimeout:
		err := fmt.Errorf("posting to %s: HTTP %d: %s", redactURL(w.url), code, snippet(answer))
		return &retryable{err: err, after: retryAfter(resp.Header.Get("Retry-After"), w.clock.Now())}
	default:
		return fmt.Errorf("posting to %s: HTTP %d (not retried): %s", redactURL(w.url), code, snippet(answer))
	}
}

// retryAfter reads a Retry-After header: seconds or an HTTP date; 0 when
// absent or unreadable.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(h); err == nil {
		return max(time.Duration(s)*time.Second, 0)
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// backoffFor is the wait after the attempt-th failure: Backoff doubled
// attempt-1 times, capped at MaxBackoff, drawn in its upper half.
func (w *Webhook) backoffFor(attempt int) time.Duration {
	d := w.backoff
	for i := 1; i < attempt && d < w.maxBackoff; i++ {
		d *= 2
	}
	d = min(d, w.maxBackoff)
	return d/2 + time.Duration(w.rand()*float64(d/2))
}

// sleep waits d on the clock; false when ctx is done first.
func (w *Webhook) sleep(ctx context.Context, d time.Duration) bool {
	t := w.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.Chan():
		return true
	}
}

// webhookPayload is what is posted: Slack reads text and ignores the rest;
// other receivers read the event under migrate.
type webhookPayload struct {
	Text    string `json:"text"`
	Migrate Event  `json:"migrate"`
}

// eventText is the event in one line, escaped for Slack's mrkdwn.
func eventText(ev Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "migrate: %s of %s by %s, weight %d%% → %d%%", ev.Kind, ev.App, ev.Actor, ev.WeightBefore, ev.WeightAfter)
	if ev.Reason != "" {
		b.WriteString(": " + ev.Reason)
	}
	if ev.DryRun {
		b.WriteString(" (dry run: nothing was changed)")
	}
	return slackEscape.Replace(b.String())
}

// slackEscape escapes the three characters Slack's text reserves.
var slackEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
