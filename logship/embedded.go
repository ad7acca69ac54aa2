package logship

// The embedded sink: batches go to the admin API of the `migrate serve`
// that fronts the app, which keeps recent lines of both sides and derives
// their per-side rates.
//
// One attempt is one POST /api/v1/apps/{app}/logs?side=old|new with the
// batch as gzip NDJSON (one AppendEvent object a line) and the admin
// bearer token. The answers:
//
//	2xx                every event stored (or already there)
//	400                some lines refused for good; the body's "rejected"
//	                   lists them by index (none listed: the whole batch)
//	413                the batch is too large: the Sink splits it
//	429, 503, 5xx      try the whole batch again, after Retry-After
//	401, 403, 404      a configuration to fix (token, app): retryable, so
//	                   nothing is dropped while it is fixed

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// EmbeddedPath is the admin API path an embedded sink posts to; {app} is
// the app's name.
const EmbeddedPath = "/api/v1/apps/{app}/logs"

// EmbeddedRejection is one line refused by the receiver.
type EmbeddedRejection struct {
	Index int    `json:"index"`
	Error string `json:"error"`
}

// EmbeddedAnswer is the JSON body of the receiver's answers.
type EmbeddedAnswer struct {
	// Accepted counts the events stored or already present.
	Accepted int `json:"accepted"`
	// Error explains a refusal.
	Error string `json:"error,omitempty"`
	// Rejected lists the lines refused for good, by index in the batch.
	Rejected []EmbeddedRejection `json:"rejected,omitempty"`
}

// EmbeddedOption configures NewEmbeddedDeliverer.
type EmbeddedOption func(*embeddedDeliverer)

// WithAdmin takes the manifest's admin settings: the admin API's listen
// address (used when the sink has no admin URL) and admin.token_env, the
// environment variable that holds the bearer token.
func WithAdmin(listen, tokenEnv string) EmbeddedOption {
	return func(d *embeddedDeliverer) {
		if listen != "" {
			d.listen = listen
		}
		if tokenEnv != "" {
			d.token, d.tokenEnv = os.Getenv(tokenEnv), tokenEnv
		}
	}
}

// WithToken sets the bearer token, overriding WithAdmin's.
func WithToken(token string) EmbeddedOption {
	return func(d *embeddedDeliverer) { d.token, d.tokenEnv = token, "" }
}

// WithHTTPClient sets the HTTP client (default: a client of its own).
func WithHTTPClient(c *http.Client) EmbeddedOption {
	return func(d *embeddedDeliverer) { d.client = c }
}

type embeddedDeliverer struct {
	listen   string
	token    string
	tokenEnv string // where token came from, named when it is refused
	url      string
	client   *http.Client
	timeout  time.Duration
	own      bool // client is ours: Close closes its idle connections
}

// NewEmbeddedDeliverer returns the Deliverer of the embedded sink of app's
// side: it posts to cfg.Admin, else to http:// and the admin listen
// address (WithAdmin; default 127.0.0.1:9090), with the token of
// WithAdmin (default from MIGRATE_ADMIN_TOKEN) or WithToken. Each attempt
// is bounded by cfg.Timeout (default DefaultSinkTimeout). Close releases its idle
// connections.
func NewEmbeddedDeliverer(cfg SinkConfig, app, side string, opts ...EmbeddedOption) (Deliverer, error) {
	if side != "old" && side != "new" {
		return nil, fmt.Errorf("creating embedded sink: side %q is not old or new", side)
	}
	if app == "" {
		return nil, errors.New("creating embedded sink: no app name")
	}
	d := &embeddedDeliverer{listen: "127.0.0.1:9090", token: os.Getenv("MIGRATE_ADMIN_TOKEN"), tokenEnv: "MIGRATE_ADMIN_TOKEN", timeout: cfg.Timeout}
	if d.timeout <= 0 {
		d.timeout = DefaultSinkTimeout
	}
	for _, o := range opts {
		o(d)
	}
	base := cfg.Admin
	if base == "" {
		base = "http://" + d.listen
	}
	u, err := url.Parse(strings.TrimSuffix(base, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("creating embedded sink: admin URL %q is not http(s)://host:port", base)
	}
	u = u.JoinPath(strings.Replace(EmbeddedPath, "{app}", url.PathEscape(app), 1))
	u.RawQuery = url.Values{"side": {side}}.Encode()
	d.url = u.String()
	if d.client == nil {
		d.client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		d.own = true
	}
	return d, nil
}

// Deliver implements Deliverer.
func (d *embeddedDeliverer) Deliver(ctx context.Context, batch []Event) error {
	if len(batch) == 0 {
		return nil
	}
	body, err := encodeEmbedded(batch)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("building embedded sink request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Content-Encoding", "gzip")
	if d.token != "" {
		req.Header.Set("Authorization", "Bearer "+d.token)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return &RetryableError{Err: fmt.Errorf("posting logs to %s: %w", d.url, err)}
	}
	defer resp.Body.Close()
	err = embeddedResult(resp, len(batch))
	var re *RetryableError
	if resp.StatusCode == http.StatusUnauthorized && d.tokenEnv != "" && errors.As(err, &re) {
		re.Err = fmt.Errorf("%w; %s", re.Err, d.tokenHint())
	}
	return err
}

// tokenHint says which variable the refused token came from.
func (d *embeddedDeliverer) tokenHint() string {
	if d.token == "" {
		return fmt.Sprintf("the admin token is read from $%s, which is empty here: export %s=<the token migrate serve was started with>", d.tokenEnv, d.tokenEnv)
	}
	return fmt.Sprintf("the admin token in $%s was refused: it must be the one migrate serve was started with", d.tokenEnv)
}

// Close releases the idle connections of its own client.
func (d *embeddedDeliverer) Close() error {
	if d.own {
		d.client.CloseIdleConnections()
	}
	return nil
}

// encodeEmbedded returns batch as gzip NDJSON.
func encodeEmbedded(batch []Event) ([]byte, error) {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed) // as the other deliverers: a third of the default level's cost
	line := make([]byte, 0, 1024)
	for i := range batch {
		line = append(AppendEvent(line[:0], &batch[i]), '\n')
		if _, err := zw.Write(line); err != nil {
			return nil, fmt.Errorf("compressing logs: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compressing logs: %w", err)
	}
	return buf.Bytes(), nil
}

// embeddedResult maps the receiver's answer onto the Deliverer contract.
func embeddedResult(resp *http.Response, n int) error {
	var ans EmbeddedAnswer
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	_ = json.Unmarshal(raw, &ans)
	if ans.Error == "" {
		ans.Error = strings.TrimSpace(string(raw))
	}
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusBadRequest:
		return embeddedRejected(ans, n)
	case code == http.StatusRequestEntityTooLarge:
		return &TooLargeError{Reason: ans.Error}
	default:
		return &RetryableError{Status: code, After: embeddedRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
			Err: fmt.Errorf("embedded sink: %s", ans.Error)}
	}
}

// embeddedRejected is the RejectedError of a 400 answer.
func embeddedRejected(ans EmbeddedAnswer, n int) error {
	if len(ans.Rejected) == 0 {
		return &RejectedError{Reason: ans.Error}
	}
	rej := &RejectedError{Index: make([]int, 0, len(ans.Rejected))}
	var reasons []string
	for _, r := range ans.Rejected {
		if r.Index < 0 || r.Index >= n {
			return &RejectedError{Reason: fmt.Sprintf("%s (answer names line %d of %d)", ans.Error, r.Index, n)}
		}
		rej.Index = append(rej.Index, r.Index)
		if len(reasons) < 3 {
			reasons = append(reasons, fmt.Sprintf("line %d: %s", r.Index, r.Error))
		}
	}
	rej.Reason = strings.Join(reasons, "; ")
	return rej
}

// embeddedRetryAfter reads a Retry-After header: seconds or an HTTP date;
// 0 when absent or unreadable.
func embeddedRetryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
