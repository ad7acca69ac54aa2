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

// Phases an app can be in (see rollback.PhaseOf and Manager.Phase).
const (
	PhaseShadow     = rollback.PhaseShadow     // every client on old, sampled requests mirrored to new
	PhaseOld        = rollback.PhaseOld        // every client on old, nothing mirrored
	PhaseSplit      = rollback.PhaseSplit      // clients split between old and new
	PhaseNew        = rollback.PhaseNew        // every client on new
	PhaseRolledBack = rollback.PhaseRolledBack // sent back by a rollback, until the weight is set again
)

// PhaseReporter is implemented by a Control that knows an app's phase on
// this instance (*rollback.Manager); without one the phase is that of the
// weight.
type PhaseReporter interface {
	Phase(app string) (string, bool)
}

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
	// Store is the state store as this instance sees it, when it is down
	// or holds decisions of this instance not saved yet; nil otherwise.
	Store *StoreStatus `json:"store,omitempty"`
	// LiveBackends are the app's live backend changes, which win over the
	// manifest's backends until it agrees with them or they are reset.
	LiveBackends []state.LiveBackend `json:"live_backends,omitempty"`
}

// LiveReporter answers the status's live_backends (serve's LiveBackends).
type LiveReporter interface {
	Live(app string) []state.LiveBackend
}

// StoreStatus is the state store in AppStatus. A weight change or a
// rollback made while the store is down is in force on this instance and
// answered 202 Accepted with it: Pending counts those not saved yet.
type StoreStatus struct {
	state.Status
	// Note says what that means for a write, in words.
	Note string `json:"note,omitempty"`
}

// NotePending is StoreStatus.Note after a write the store has not taken.
const NotePending = "applied on this instance; the state store is down: saved there when it is back " +
	"(unless another instance decided later), and the other instances follow then"

// StoreReporter is implemented by a Control that knows the state store's
// status (*rollback.Manager).
type StoreReporter interface {
	StoreStatus() state.Status
}

// Backend is one backend's state in AppStatus and in the answers of
// /api/v1/apps/{app}/backends.
type Backend struct {
	Side     string `json:"side"`
	URL      string `json:"url"`
	Healthy  bool   `json:"healthy"` // in rotation
	InFlight int64  `json:"in_flight"`
	// Pending: added live, waiting for its first passing check.
	Pending bool `json:"pending,omitempty"`
	// Draining: gets no new requests (drained, or being drained).
	Draining bool `json:"draining,omitempty"`
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
		Phase:  rollback.PhaseOf(a.Weight(), false),
		Sides: map[string]telemetry.SideStats{
			telemetry.SideOld: s.opts.Metrics.Snapshot(a.Name(), telemetry.SideOld),
			telemetry.SideNew: s.opts.Metrics.Snapshot(a.Name(), telemetry.SideNew),
		},
		Backends: []Backend{},
	}
	if p, ok := s.opts.Control.(PhaseReporter); ok {
		if phase, ok := p.Phase(a.Name()); ok {
			st.Phase = phase
		}
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
	if r, ok := s.opts.Control.(StoreReporter); ok {
		if ss := r.StoreStatus(); !ss.Up || ss.Pending > 0 {
			st.Store = &StoreStatus{Status: ss}
		}
	}
	st.Backends = BackendsOf(a)
	if s.opts.Live != nil {
		st.LiveBackends = s.opts.Live.Live(a.Name())
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
	switch {
	case errors.Is(err, state.ErrPending):
		s.writePending(w, r, a, action, err)
		return
	case err != nil:
		s.log.Error("changing weight", "app", a.Name(), "action", action, "err", err)
		writeError(w, http.StatusInternalServerError, fmt.Sprintf("%s failed: %v", action, err))
		return
	}
	s.log.Info("weight changed", "app", a.Name(), "action", action, "to", a.Weight(), "reason", reason, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, s.status(a))
}

// writePending answers 202 to a write in force here that the state store
// has not taken yet (it is down), with the app's status and the note.
func (s *Server) writePending(w http.ResponseWriter, r *http.Request, a *lb.App, action string, err error) {
	s.log.Warn("applied here, state store pending", "app", a.Name(), "action", action, "weight", a.Weight(),
		"remote", r.RemoteAddr, "err", err)
	st := s.status(a)
	if st.Store == nil {
		st.Store = &StoreStatus{}
	}
	st.Store.Note = NotePending
	writeJSON(w, http.StatusAccepted, st)
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
