package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/state"
)

// Reloader reads the manifest again and applies it live (package serve's
// Instance).
type Reloader interface {
	Reload(ctx context.Context, actor string) (ReloadResult, error)
}

// ErrNoReload is a Reloader's error when it cannot read its manifest again.
var ErrNoReload = errors.New("this instance cannot reload its manifest")

// ReloadResult is the answer of POST /api/v1/reload: what the reload
// applied, one line each, and the settings that changed but wait for a
// restart.
type ReloadResult struct {
	Changes    []string `json:"changes"`
	NotApplied []string `json:"not_applied,omitempty"`
	// TookMS is how long it took, from the request to the new
	// configuration served, in milliseconds.
	TookMS float64 `json:"took_ms"`
}

// ReloadRefused is the 400 answer of a reload the manifest's problems
// refused; the instance serves on with what it had.
type ReloadRefused struct {
	Error    string             `json:"error"`
	Problems []manifest.Problem `json:"problems,omitempty"`
}

// postReload reloads the manifest: 200 with what changed; 400 with the
// manifest's problems (file, line, column, path, message) when it does not
// load, or why it could not be applied; 501 when this instance cannot
// reload.
func (s *Server) postReload(w http.ResponseWriter, r *http.Request) {
	if s.opts.Reloader == nil {
		writeError(w, http.StatusNotImplemented, ErrNoReload.Error())
		return
	}
	res, err := s.opts.Reloader.Reload(r.Context(), state.ActorAPI)
	var probs manifest.Problems
	switch {
	case errors.Is(err, ErrNoReload):
		writeError(w, http.StatusNotImplemented, err.Error())
	case errors.As(err, &probs):
		writeJSON(w, http.StatusBadRequest, ReloadRefused{Error: "the manifest has problems: nothing changed", Problems: probs})
	case err != nil:
		writeJSON(w, http.StatusBadRequest, ReloadRefused{Error: err.Error()})
	default:
		if res.Changes == nil {
			res.Changes = []string{}
		}
		writeJSON(w, http.StatusOK, res)
	}
}

// ReloadError is the error of Client.Reload when the instance refused the
// manifest: its problems, each placed where it was written.
type ReloadError struct {
	Msg      string
	Problems manifest.Problems
}

func (e *ReloadError) Error() string {
	if len(e.Problems) == 0 {
		return "reload refused: " + e.Msg
	}
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return fmt.Sprintf("reload refused: %s\n%s", e.Msg, strings.Join(lines, "\n"))
}

// Reload asks the instance to reload its manifest.
func (c *Client) Reload(ctx context.Context) (ReloadResult, error) {
	var out ReloadResult
	err := c.do(ctx, http.MethodPost, "/api/v1/reload", struct{}{}, &out)
	var api *APIError
	if errors.As(err, &api) && api.Status == http.StatusBadRequest && api.raw != nil {
		var refused ReloadRefused
		if json.Unmarshal(api.raw, &refused) == nil {
			return out, &ReloadError{Msg: refused.Error, Problems: refused.Problems}
		}
	}
	return out, err
}
