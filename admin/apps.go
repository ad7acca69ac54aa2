package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/migratekit/migrate/lb"
	"github.com/migratekit/migrate/rollback"
	"github.com/migratekit/migrate/state"
	"github.com/migratekit/migrate/telemetry"
)

// Phases an app can be in, derived from its weight (rollback.PhaseOf).
const (
	PhaseOld   = rollback.PhaseOld   // every client on old
	PhaseSplit = rollback.PhaseSplit // clients split between old and new
	PhaseNew   = rollback.PhaseNew   // every client on new
)

// AppStatus is the JSON answer of GET /api/v1/apps/{app}.
type AppStatus struct {
	App      string                         `json:"app"`
	Weight   int                            `json:"weight"`
	Phase    string                         `json:"phase"`
	Sides    map[string]telemetry.SideStats `json:"sides"`
	Backends []Backend                      `json:"backends"`
	// Verdict is the last verdict of the rollback analysis, with its numbers.
	Verdict *rollback.Verdict `json:"verdict,omitempty"`
	// Plan is where the app's progressive plan stands; nil without
	// cutover.plan.
	Plan *rollback.PlanStatus `json:"plan,omitempty"`
	// DNS is the propagation of the app's dns: records as of the
	// instance's last check; nil when it does not watch them.
	DNS *DNSStatus `json:"dns,omitempty"`
	// LastRollback is the last rollback while no weight change has come
	// after it (the app is still rolled back), long after its verdict
	// has passed; only in the answer of GET /api/v1/apps/{app}.
	LastRollback *state.Event `json:"last_rollback,omitempty"`
}

// Backend is one backend's state in AppStatus.
type Backend struct {
	Side     string `json:"side"`
	URL      string `json:"url"`
	Healthy  bool   `json:"healthy"`
	InFlight int64  `json:"in_flight"`
}

// Status returns the status of a served app; ok is false when this
// instance does not serve it.
func (s *Server) Status(app string) (st AppStatus, ok bool) {
	a := s.opts.Proxy.App(app)
	if a == nil {
		return AppStatus{}, false
	}
	return s.status(a), true
}

func (s *Server) status(a *lb.App) AppStatus {
	st := AppStatus{
		App:    a.Name(),
		Weight: a.Weight(),
		Phase:  rollback.PhaseOf(a.Weight()),
		Sides: map[string]telemetry.SideStats{
			telemetry.SideOld: s.opts.Metrics.Snapshot(a.Name(), telemetry.SideOld),
			telemetry.SideNew: s.opts.Metrics.Snapshot(a.Name(), telemetry.SideNew),
		},
		Backends: []Backend{},
	}
	if s.opts.Control != nil {
		if v, ok := s.opts.Control.Verdict(a.Name()); ok {
			st.Verdict = &v
		}
		if p, ok := s.opts.Control.PlanStatus(a.Name()); ok {
			st.Plan = &p
		}
	}
	if s.opts.DNS != nil {
		if d, ok := s.opts.DNS.AppDNS(a.Name()); ok {
			st.DNS = &d
		}
	}
	for _, b := range a.Backends() {
		st.Backends = append(st.Backends, Backend{Side: b.Side, URL: b.URL, Healthy: b.Healthy, InFlight: b.InFlight})
	}
	return st
}

func (s *Server) listApps(w http.ResponseWriter, r *http.Request) {
	out := []AppStatus{}
	for _, a := range s.opts.Proxy.Apps() {
		out = append(out, s.status(a))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) app(w http.ResponseWriter, r *http.Request) *lb.App {
	name := r.PathValue("app")
	a := s.opts.Proxy.App(name)
	if a == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("app %q is not served by this instance", name))
	}
	return a
}

func (s *Server) getApp(w http.ResponseWriter, r *http.Request) {
	if a := s.app(w, r); a != nil {
		st := s.status(a)
		st.LastRollback = s.lastRollback(r.Context(), a.Name())
		writeJSON(w, http.StatusOK, st)
	}
}

// lastRollback is app's last rollback event if no weight change came after
// it, else nil (also when the events cannot be read: the status is still
// worth answering).
func (s *Server) lastRollback(ctx context.Context, app string) *state.Event {
	if s.opts.Control == nil {
		return nil
	}
	evs, err := s.opts.Control.Events(ctx, state.Query{App: app, Limit: state.DefaultEventLimit})
	if err != nil {
		s.log.Warn("reading events for the status", "app", app, "err", err)
		return nil
	}
	for i := len(evs) - 1; i >= 0; i-- {
		switch evs[i].Kind {
		case state.KindRollback:
			return &evs[i]
		case state.KindWeight:
			return nil
		}
	}
	return nil
}

// WeightRequest is the body of PUT /api/v1/apps/{app}/weight.
type WeightRequest struct {
	Weight *int   `json:"weight"`
	Reason string `json:"reason,omitempty"`
}

func (s *Server) putWeight(w http.ResponseWriter, r *http.Request) {
	a := s.app(w, r)
	if a == nil {
		return
	}
	var req WeightRequest
	if err := decodeBody(r, &req); err != nil && !errors.Is(err, io.EOF) {
		writeError(w, bodyStatus(err), err.Error())
		return
	}
	if req.Weight == nil {
		writeError(w, http.StatusBadRequest, `body needs "weight" (0-100)`)
		return
	}
	if *req.Weight < 0 || *req.Weight > 100 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("weight %d is out of range 0-100", *req.Weight))
		return
	}
	s.setWeight(w, r, a, *req.Weight, "weight", req.Reason)
}

// RollbackRequest is the body of POST /api/v1/apps/{app}/rollback.
type RollbackRequest struct {
	Reason string `json:"reason,omitempty"`
}

func (s *Server) postRollback(w http.ResponseWriter, r *http.Request) {
	a := s.app(w, r)
	if a == nil {
		return
	}
	var req RollbackRequest
	if err := decodeBody(r, &req); err != nil && !errors.Is(err, io.EOF) {
		writeError(w, bodyStatus(err), err.Error())
		return
	}
	s.setWeight(w, r, a, 0, "rollback", req.Reason)
}

// setWeight has Control carry out the change and answers the new status.
func (s *Server) setWeight(w http.ResponseWriter, r *http.Request, a *lb.App, weight int, action, reason string) {
	if s.opts.Control == nil {
		writeError(w, http.StatusServiceUnavailable, "this instance takes no writes")
		return
	}
	var err error
	if action == "rollback" {
		err = s.opts.Control.Rollback(r.Context(), a.Name(), state.ActorAPI, reason)
	} else {
		err = s.opts.Control.SetWeight(r.Context(), a.Name(), weight, state.ActorAPI, reason)
	}
	if err != nil {
		s.log.Error("changing weight", "app", a.Name(), "action", action, "err", err)
		writeError(w, http.StatusInternalServerError, fmt.Sprintf("%s failed: %v", action, err))
		return
	}
	s.log.Info("weight changed", "app", a.Name(), "action", action, "to", a.Weight(), "reason", reason, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, s.status(a))
}

// ErrorBody is the JSON body of every error answer.
type ErrorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, ErrorBody{Error: msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
