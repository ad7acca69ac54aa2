package admin

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// FallbackStatus is the JSON answer of GET /api/v1/apps/{app}/fallback: who
// still reaches an app's old host through `migrate fallback`, and the
// thresholds that say when the old host may be retired (`dnscheck watch`
// reads it).
type FallbackStatus struct {
	App string `json:"app"`
	// RequestsPerMinute are the requests of the last 60 seconds.
	RequestsPerMinute float64 `json:"requests_per_minute"`
	// ClientsLastHour estimates the distinct clients of the last hour.
	ClientsLastHour uint64 `json:"clients_last_hour"`
	// BelowSince is when RequestsPerMinute last dropped under RetireBelow
	// and stayed there; nil while it is not under it.
	BelowSince *time.Time `json:"below_since"`
	// RetireBelow is fallback.retire_below, in requests per minute.
	RetireBelow float64 `json:"retire_below"`
	// RetireAfterSeconds is fallback.retire_after.
	RetireAfterSeconds float64 `json:"retire_after_seconds"`
}

// Retirable reports whether arrivals have stayed under RetireBelow for
// RetireAfterSeconds at now.
func (s FallbackStatus) Retirable(now time.Time) bool {
	return s.BelowSince != nil && now.Sub(*s.BelowSince) >= time.Duration(s.RetireAfterSeconds*float64(time.Second))
}

// FallbackReporter answers for the apps whose fallback this instance runs
// (*fallback.Fallback); ok is false for another app.
type FallbackReporter interface {
	FallbackStatus(app string) (st FallbackStatus, ok bool)
}

func (s *Server) getFallback(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("app")
	if s.opts.Fallback == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("app %q has no fallback in this instance (run migrate fallback %s)", name, name))
		return
	}
	st, ok := s.opts.Fallback.FallbackStatus(name)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("app %q has no fallback in this instance", name))
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// Fallback returns the arrivals at app's fallback (a `migrate fallback`
// admin API).
func (c *Client) Fallback(ctx context.Context, app string) (FallbackStatus, error) {
	var out FallbackStatus
	return out, c.do(ctx, http.MethodGet, "/api/v1/apps/"+url.PathEscape(app)+"/fallback", nil, &out)
}
