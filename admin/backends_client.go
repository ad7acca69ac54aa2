package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Backends returns the state of app's backends, old side first.
func (c *Client) Backends(ctx context.Context, app string) ([]Backend, error) {
	var out []Backend
	return out, c.do(ctx, http.MethodGet, backendsPath(app), nil, &out)
}

// AddBackend adds the backend at rawURL to side of app and returns its
// state (pending until its first passing check).
func (c *Client) AddBackend(ctx context.Context, app, side, rawURL, reason string) (Backend, error) {
	var out Backend
	return out, c.do(ctx, http.MethodPost, backendsPath(app), BackendRequest{Side: side, URL: rawURL, Reason: reason}, &out)
}

// DrainTimeout bounds DrainBackend's wait for the server when ctx has no
// deadline and the Client no HTTP client of its own: the server ends a
// drain at the manifest's drain.
const DrainTimeout = 10 * time.Minute

// DrainBackend stops app's backend at rawURL getting new requests and
// waits, on the server, for those in flight (bounded by the manifest's
// drain). When that time runs out, the result says how many are still in
// flight and the error is the API's 504.
func (c *Client) DrainBackend(ctx context.Context, app, rawURL, reason string) (DrainResult, error) {
	lc := *c
	if lc.HTTP == nil {
		lc.HTTP = &http.Client{}
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, DrainTimeout)
			defer cancel()
		}
	}
	var res DrainResult
	status, data, err := lc.send(ctx, http.MethodPost, backendsPath(app)+"/drain", BackendRequest{URL: rawURL, Reason: reason})
	switch {
	case err != nil:
		return res, err
	case status == http.StatusGatewayTimeout:
		_ = json.Unmarshal(data, &res)
		return res, c.apiError(status, data)
	case status/100 != 2:
		return res, c.apiError(status, data)
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return res, fmt.Errorf("decoding admin API answer: %w", err)
	}
	return res, nil
}

// RemoveBackend removes app's drained backend at rawURL and returns its
// last state.
func (c *Client) RemoveBackend(ctx context.Context, app, rawURL, reason string) (Backend, error) {
	v := url.Values{"url": {rawURL}}
	if reason != "" {
		v.Set("reason", reason)
	}
	var out Backend
	return out, c.do(ctx, http.MethodDelete, backendsPath(app)+"?"+v.Encode(), nil, &out)
}

func backendsPath(app string) string {
	return "/api/v1/apps/" + url.PathEscape(app) + "/backends"
}
