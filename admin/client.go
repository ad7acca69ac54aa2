package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/migratekit/migrate/state"
)

// Client talks to a running migrate's admin API. `migrate status` and
// `migrate cutover` are built on it.
type Client struct {
	// BaseURL is the admin API's address: "http://127.0.0.1:9090" or
	// "127.0.0.1:9090".
	BaseURL string
	// Token is sent as a bearer token when set.
	Token string
	// TokenEnv names the environment variable Token was read from; a 401
	// answer's error says to set it.
	TokenEnv string
	// HTTP is the client used; nil means one with a 10 s timeout.
	HTTP *http.Client
}

// APIError is an error answer of the admin API.
type APIError struct {
	Status int
	Msg    string
	// Hint says what to do about it, when the client knows: for a 401,
	// which environment variable the token was read from.
	Hint string
	raw  []byte // the answer's body
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("admin API: %d %s: %s", e.Status, http.StatusText(e.Status), e.Msg)
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	return msg
}

// apiError is the error of an answer with status and body data.
func (c *Client) apiError(status int, data []byte) error {
	var eb ErrorBody
	if json.Unmarshal(data, &eb) != nil || eb.Error == "" {
		eb.Error = strings.TrimSpace(string(data))
	}
	e := &APIError{Status: status, Msg: eb.Error, raw: data}
	if status == http.StatusUnauthorized && c.TokenEnv != "" {
		e.Hint = TokenHint(c.TokenEnv, c.Token != "")
	}
	return e
}

// TokenHint says, for a 401, which environment variable the token came
// from (env) and whether it was set.
func TokenHint(env string, set bool) string {
	if !set {
		return fmt.Sprintf("the admin token is read from $%s, which is empty here: export %s=<the token migrate serve was started with>", env, env)
	}
	return fmt.Sprintf("the admin token in $%s was refused: it must be the one migrate serve was started with", env)
}

// Apps returns the status of every app.
func (c *Client) Apps(ctx context.Context) ([]AppStatus, error) {
	var out []AppStatus
	return out, c.do(ctx, http.MethodGet, "/api/v1/apps", nil, &out)
}

// App returns the status of one app.
func (c *Client) App(ctx context.Context, app string) (AppStatus, error) {
	var out AppStatus
	return out, c.do(ctx, http.MethodGet, "/api/v1/apps/"+app, nil, &out)
}

// SetWeight sets an app's weight and returns its new status.
func (c *Client) SetWeight(ctx context.Context, app string, weight int, reason string) (AppStatus, error) {
	var out AppStatus
	return out, c.do(ctx, http.MethodPut, "/api/v1/apps/"+app+"/weight", WeightRequest{Weight: &weight, Reason: reason}, &out)
}

// Rollback sends every client of app back to old.
func (c *Client) Rollback(ctx context.Context, app, reason string) (AppStatus, error) {
	var out AppStatus
	return out, c.do(ctx, http.MethodPost, "/api/v1/apps/"+app+"/rollback", RollbackRequest{Reason: reason}, &out)
}

// StartPlan starts or resumes app's progressive plan, at its first step
// or at fromStep (1-based) when not 0, and returns its status.
func (c *Client) StartPlan(ctx context.Context, app string, fromStep int) (AppStatus, error) {
	var out AppStatus
	return out, c.do(ctx, http.MethodPost, "/api/v1/apps/"+app+"/plan", PlanRequest{FromStep: fromStep}, &out)
}

// PromotePlan moves app's running plan to its next step now (its last with
// full) and returns its status.
func (c *Client) PromotePlan(ctx context.Context, app string, full bool) (AppStatus, error) {
	var out AppStatus
	return out, c.do(ctx, http.MethodPost, "/api/v1/apps/"+app+"/plan/promote", PromoteRequest{Full: full}, &out)
}

func (c *Client) base() string {
	b := strings.TrimRight(c.BaseURL, "/")
	if !strings.Contains(b, "://") {
		b = "http://" + b
	}
	return b
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encoding request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base()+path, body)
	if err != nil {
		return fmt.Errorf("building request: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("reaching the admin API at %s (is migrate serve running?): %w", c.base(), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("reading admin API answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return c.apiError(resp.StatusCode, data)
	}
	if raw, ok := out.(*[]byte); ok {
		*raw = data
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decoding admin API answer: %w", err)
	}
	return nil
}

// IsNotFound reports whether err is the admin API's 404.
func IsNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

// Diffs returns app's diff report rendered in format (json, text, markdown,
// junit).
func (c *Client) Diffs(ctx context.Context, app, format string) ([]byte, error) {
	var raw []byte
	err := c.do(ctx, http.MethodGet, "/api/v1/apps/"+app+"/diffs?format="+url.QueryEscape(format), nil, &raw)
	return raw, err
}

// Events returns the recorded events of app (all apps when empty), oldest
// first, at most limit (0: the server's default).
func (c *Client) Events(ctx context.Context, app string, limit int) ([]state.Event, error) {
	v := url.Values{}
	if app != "" {
		v.Set("app", app)
	}
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	var out []state.Event
	return out, c.do(ctx, http.MethodGet, "/api/v1/events?"+v.Encode(), nil, &out)
}
