package admin

// Live backends: GET, POST and DELETE /api/v1/apps/{app}/backends and POST
// .../backends/drain change an app's backends while it serves, as
// HAProxy's runtime API does (add server, set server state drain, del
// server). The changes are carried out by a Backends (serve's, on the
// proxy of this instance, or one that shares them through the state
// store).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/migratekit/migrate/lb"
	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/state"
)

// Backends carries out the live backend changes of the API for app, on
// behalf of actor (state.ActorAPI) and for reason. Its errors wrap lb's
// (lb.ErrUnknownBackend, ErrBackendExists, ErrUnknownSide,
// ErrLastBackend, ErrNotDrained), ErrBadBackend, or the state store's
// (state.ErrStoreDown, state.ErrPending).
type Backends interface {
	// List is the state of app's backends, old side first.
	List(ctx context.Context, app string) ([]Backend, error)
	// Add adds the backend at url to side ("old" or "new"); it is sent
	// requests once it passes its first check.
	Add(ctx context.Context, app, side, url, actor, reason string) error
	// Drain sends the backend at url no new request and waits for those in
	// flight until ctx is done; waited is how many were in flight when it
	// began.
	Drain(ctx context.Context, app, url, actor, reason string) (waited int64, err error)
	// Remove removes the drained backend at url.
	Remove(ctx context.Context, app, url, actor, reason string) error
}

// ErrBadBackend is a backend that cannot be added as given: not an http or
// https URL, another scheme than its pool's, a name with no address.
var ErrBadBackend = errors.New("unusable backend")

// BackendRequest is the body of POST /api/v1/apps/{app}/backends (Side
// and URL) and of POST .../backends/drain (URL).
type BackendRequest struct {
	Side   string `json:"side,omitempty"`
	URL    string `json:"url"`
	Reason string `json:"reason,omitempty"`
}

// DrainResult is the answer of POST /api/v1/apps/{app}/backends/drain: 200
// once the backend has no request in flight, 504 (with Error) when the
// drain's time (the manifest's drain) ran out first.
type DrainResult struct {
	App  string `json:"app"`
	Side string `json:"side,omitempty"`
	URL  string `json:"url"`
	// Waited is how many requests were in flight when the drain began.
	Waited int64 `json:"waited"`
	// InFlight is how many are still in flight (0 after a drain that
	// completed).
	InFlight int64  `json:"in_flight"`
	Error    string `json:"error,omitempty"`
}

func (s *Server) backendRoutes() {
	s.mux.Handle("GET /api/v1/apps/{app}/backends", s.read(http.HandlerFunc(s.getBackends)))
	s.mux.Handle("POST /api/v1/apps/{app}/backends", s.write(http.HandlerFunc(s.postBackend)))
	s.mux.Handle("POST /api/v1/apps/{app}/backends/drain", s.write(http.HandlerFunc(s.postDrain)))
	s.mux.Handle("DELETE /api/v1/apps/{app}/backends", s.write(http.HandlerFunc(s.deleteBackend)))
	s.mux.Handle("POST /api/v1/apps/{app}/backends/reset", s.write(http.HandlerFunc(s.postReset)))
}

func (s *Server) getBackends(w http.ResponseWriter, r *http.Request) {
	a := s.app(w, r)
	if a == nil {
		return
	}
	list, err := s.listBackends(r.Context(), a)
	if err != nil {
		s.backendError(w, r, "listing backends", err)
		return
	}
	writeJSON(w, http.StatusOK, list)
}

// listBackends is a's backends by Options.Backends, else as the proxy has
// them.
func (s *Server) listBackends(ctx context.Context, a *lb.App) ([]Backend, error) {
	if s.opts.Backends != nil {
		return s.opts.Backends.List(ctx, a.Name())
	}
	return BackendsOf(a), nil
}

// BackendsOf is the state of a's backends in the proxy, old side first.
func BackendsOf(a *lb.App) []Backend {
	out := []Backend{}
	for _, b := range a.Backends() {
		out = append(out, Backend{Side: b.Side, URL: b.URL, Healthy: b.Healthy, InFlight: b.InFlight, Pending: b.Pending, Draining: b.Draining})
	}
	return out
}

func (s *Server) postBackend(w http.ResponseWriter, r *http.Request) {
	a, req, ok := s.backendWrite(w, r)
	if !ok {
		return
	}
	if err := CheckBackendURL(req.URL); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if req.Side != SideOld && req.Side != SideNew {
		writeError(w, http.StatusBadRequest, fmt.Sprintf(`"side" is %q: use "old" or "new"`, req.Side))
		return
	}
	if err := s.checkScheme(r.Context(), a, req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	err := s.opts.Backends.Add(r.Context(), a.Name(), req.Side, req.URL, state.ActorAPI, req.Reason)
	code, err := pendingOK(http.StatusCreated, err)
	if err != nil {
		s.backendError(w, r, "adding backend "+req.URL, err)
		return
	}
	s.log.Info("backend added", "app", a.Name(), "side", req.Side, "url", req.URL, "reason", req.Reason, "remote", r.RemoteAddr)
	b, _ := s.backendAt(r.Context(), a, req.URL)
	if b.URL == "" {
		b = Backend{Side: req.Side, URL: req.URL, Pending: true}
	}
	writeJSON(w, code, b)
}

func (s *Server) postDrain(w http.ResponseWriter, r *http.Request) {
	a, req, ok := s.backendWrite(w, r)
	if !ok {
		return
	}
	if req.Side != "" {
		writeError(w, http.StatusBadRequest, `a drain takes "url" (and "reason"), not "side"`)
		return
	}
	if req.URL == "" {
		writeError(w, http.StatusBadRequest, `body needs "url", the backend to drain`)
		return
	}
	ctx, cancel := s.drainContext(r.Context())
	defer cancel()
	waited, err := s.opts.Backends.Drain(ctx, a.Name(), req.URL, state.ActorAPI, req.Reason)
	code, err := pendingOK(http.StatusOK, err)
	res := DrainResult{App: a.Name(), URL: req.URL, Waited: waited}
	if b, found := s.backendAt(r.Context(), a, req.URL); found {
		res.Side, res.InFlight = b.Side, b.InFlight
	}
	switch {
	case r.Context().Err() != nil:
		s.log.Info("backend drain left by its client; the backend stays out of rotation", "app", a.Name(), "url", req.URL, "remote", r.RemoteAddr)
		return
	case err != nil && s.stopping():
		res.Error = fmt.Sprintf("draining backend %s: the admin API is shutting down: %d requests were still in flight; it gets no new requests", req.URL, res.InFlight)
		writeJSON(w, http.StatusServiceUnavailable, res)
		return
	case err != nil && ctx.Err() != nil:
		res.Error = fmt.Sprintf("draining backend %s: %d requests still in flight after %s (the manifest's drain); it gets no new requests: drain it again to wait more", req.URL, res.InFlight, s.drainTime())
		s.log.Warn("backend drain timed out", "app", a.Name(), "url", req.URL, "in_flight", res.InFlight, "remote", r.RemoteAddr)
		writeJSON(w, http.StatusGatewayTimeout, res)
		return
	case err != nil:
		s.backendError(w, r, "draining backend "+req.URL, err)
		return
	}
	res.InFlight = 0
	s.log.Info("backend drained", "app", a.Name(), "url", req.URL, "waited", waited, "reason", req.Reason, "remote", r.RemoteAddr)
	writeJSON(w, code, res)
}

func (s *Server) deleteBackend(w http.ResponseWriter, r *http.Request) {
	a := s.app(w, r)
	if a == nil || !s.takesBackendWrites(w) {
		return
	}
	q := r.URL.Query()
	raw, reason := q.Get("url"), q.Get("reason")
	if raw == "" {
		writeError(w, http.StatusBadRequest, "DELETE needs ?url=, the backend to remove")
		return
	}
	b, _ := s.backendAt(r.Context(), a, raw)
	code, err := pendingOK(http.StatusOK, s.opts.Backends.Remove(r.Context(), a.Name(), raw, state.ActorAPI, reason))
	if err != nil {
		s.backendError(w, r, "removing backend "+raw, err)
		return
	}
	s.log.Info("backend removed", "app", a.Name(), "url", raw, "reason", reason, "remote", r.RemoteAddr)
	if b.URL == "" {
		b.URL = raw
	}
	writeJSON(w, code, b)
}

// checkScheme refuses a backend whose scheme is not that of its pool's
// others: a pool's backends are all http or all https.
func (s *Server) checkScheme(ctx context.Context, a *lb.App, req BackendRequest) error {
	list, err := s.listBackends(ctx, a)
	if err != nil {
		return nil // Add answers for it
	}
	scheme, _, _ := strings.Cut(req.URL, "://")
	for _, b := range list {
		if other, _, _ := strings.Cut(b.URL, "://"); b.Side == req.Side && !strings.EqualFold(other, scheme) {
			return fmt.Errorf("backend %q is %s: the backends of %s's %s side are %s (a reload changes that)", req.URL, scheme, a.Name(), req.Side, other)
		}
	}
	return nil
}

// backendWrite reads the app and the body of a POST to its backends; ok is
// false when it has answered.
func (s *Server) backendWrite(w http.ResponseWriter, r *http.Request) (a *lb.App, req BackendRequest, ok bool) {
	if a = s.app(w, r); a == nil || !s.takesBackendWrites(w) {
		return nil, req, false
	}
	if err := decodeBody(r, &req); err != nil {
		if errors.Is(err, io.EOF) {
			writeError(w, http.StatusBadRequest, `body needs "url" (and "side" to add one)`)
		} else {
			writeError(w, bodyStatus(err), err.Error())
		}
		return nil, req, false
	}
	req.URL = strings.TrimSpace(req.URL)
	return a, req, true
}

func (s *Server) takesBackendWrites(w http.ResponseWriter) bool {
	if s.opts.Backends == nil {
		writeError(w, http.StatusServiceUnavailable, "this instance takes no backend changes")
		return false
	}
	return true
}

// backendAt is a's backend at raw as listed, and whether it is there.
func (s *Server) backendAt(ctx context.Context, a *lb.App, raw string) (Backend, bool) {
	list, err := s.listBackends(ctx, a)
	if err != nil {
		return Backend{}, false
	}
	for _, b := range list {
		if SameBackendURL(b.URL, raw) {
			return b, true
		}
	}
	return Backend{}, false
}

// SameBackendURL reports whether a and b name the same backend, as lb
// matches them: scheme and host without case, the path with or without a
// trailing slash.
func SameBackendURL(a, b string) bool {
	if a == b {
		return true
	}
	ua, errA := url.Parse(strings.TrimSpace(a))
	ub, errB := url.Parse(strings.TrimSpace(b))
	return errA == nil && errB == nil && strings.EqualFold(ua.Scheme, ub.Scheme) && strings.EqualFold(ua.Host, ub.Host) &&
		strings.TrimSuffix(ua.EscapedPath(), "/") == strings.TrimSuffix(ub.EscapedPath(), "/") && ua.RawQuery == ub.RawQuery
}

// pendingOK is the status of a change that succeeded with code: 202
// instead when it is in force on this instance and the state store, down,
// has not taken it yet (err wraps state.ErrPending, which is then no
// error).
func pendingOK(code int, err error) (int, error) {
	if errors.Is(err, state.ErrPending) {
		return http.StatusAccepted, nil
	}
	return code, err
}

// drainContext is the context of a drain: parent's, ended after the
// manifest's drain or when the admin API shuts down (which would otherwise
// wait for the drain, and fail past its own 5 seconds).
func (s *Server) drainContext(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(parent, s.drainTime())
	go func() {
		select {
		case <-s.streams.done():
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// stopping reports whether the admin API is shutting down.
func (s *Server) stopping() bool {
	select {
	case <-s.streams.done():
		return true
	default:
		return false
	}
}

// drainTime bounds a drain: Options.Drain, else the manifest's default.
func (s *Server) drainTime() time.Duration {
	if s.opts.Drain > 0 {
		return s.opts.Drain
	}
	return manifest.DefaultDrain
}

// backendError answers a failed backend change: 404 for a backend the app
// does not have, 409 for a change its state refuses, 400 for a bad backend
// or side, 503 for one that needs the store while it is down, 500 otherwise.
func (s *Server) backendError(w http.ResponseWriter, r *http.Request, what string, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, lb.ErrUnknownBackend):
		code = http.StatusNotFound
	case errors.Is(err, lb.ErrBackendExists), errors.Is(err, lb.ErrNotDrained), errors.Is(err, lb.ErrLastBackend):
		code = http.StatusConflict
	case errors.Is(err, lb.ErrUnknownSide), errors.Is(err, ErrBadBackend):
		code = http.StatusBadRequest
	case errors.Is(err, state.ErrStoreDown):
		code = http.StatusServiceUnavailable
	default:
		s.log.Error(what, "app", r.PathValue("app"), "err", err)
	}
	writeError(w, code, fmt.Sprintf("%s: %v", what, err))
}

// CheckBackendURL refuses a backend URL that cannot be added, saying why:
// it must be http:// or https:// with a host, and no user info, fragment
// or query.
func CheckBackendURL(raw string) error {
	if raw == "" {
		return errors.New(`body needs "url", the backend's http:// or https:// URL`)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Errorf("backend %q is not an http:// or https:// URL: %w", raw, err)
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("backend %q is not an http:// or https:// URL with a host", raw)
	case u.User != nil || u.Fragment != "" || u.RawQuery != "":
		return fmt.Errorf("backend %q must not have user info, a query or a fragment", raw)
	}
	return nil
}
