package admin

import (
	"context"
	"net/http"

	"github.com/migratekit/migrate/state"
)

// BackendResetter is what a Backends may also do: drop an app's live
// backend changes, so that the manifest's backends are served again (on
// every instance sharing the state store).
type BackendResetter interface {
	Reset(ctx context.Context, app, actor string) error
}

// postReset drops the app's live backend changes: 200 (202 while the
// state store is down) with its backends after; 501 when this instance's
// Backends cannot reset.
func (s *Server) postReset(w http.ResponseWriter, r *http.Request) {
	a := s.app(w, r)
	if a == nil || !s.takesBackendWrites(w) {
		return
	}
	rs, ok := s.opts.Backends.(BackendResetter)
	if !ok {
		writeError(w, http.StatusNotImplemented, "this instance keeps no live backend changes to reset")
		return
	}
	code, err := pendingOK(http.StatusOK, rs.Reset(r.Context(), a.Name(), state.ActorAPI))
	if err != nil {
		s.backendError(w, r, "resetting the live backends of "+a.Name(), err)
		return
	}
	s.log.Info("live backends reset", "app", a.Name(), "remote", r.RemoteAddr)
	list, err := s.listBackends(r.Context(), a)
	if err != nil {
		s.backendError(w, r, "listing backends", err)
		return
	}
	writeJSON(w, code, list)
}

// ResetBackends drops app's live backend changes and returns its backends.
func (c *Client) ResetBackends(ctx context.Context, app string) ([]Backend, error) {
	var out []Backend
	return out, c.do(ctx, http.MethodPost, backendsPath(app)+"/reset", struct{}{}, &out)
}
