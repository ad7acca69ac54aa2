package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/migratekit/migrate/rollback"
	"github.com/migratekit/migrate/state"
)

// PlanRequest is the body of POST /api/v1/apps/{app}/plan, which starts
// the app's progressive plan, or resumes it after a rollback: at its first
// step, or at FromStep (1-based). The body may be empty.
type PlanRequest struct {
	FromStep int `json:"from_step,omitempty"`
}

func (s *Server) postPlan(w http.ResponseWriter, r *http.Request) {
	var req PlanRequest
	s.planWrite(w, r, &req, "starting the plan", func(ctx context.Context, c Control, app string) error {
		return c.StartPlan(ctx, app, state.ActorAPI, req.FromStep)
	})
}

// PromoteRequest is the body of POST /api/v1/apps/{app}/plan/promote,
// which moves the app's running plan to its next step now, without waiting
// for the step's step_min of pass verdicts; with Full, to its last step.
// The body may be empty.
type PromoteRequest struct {
	Full bool `json:"full,omitempty"`
}

func (s *Server) postPromote(w http.ResponseWriter, r *http.Request) {
	var req PromoteRequest
	s.planWrite(w, r, &req, "promoting the plan", func(ctx context.Context, c Control, app string) error {
		return c.PromotePlan(ctx, app, state.ActorAPI, req.Full)
	})
}

// planWrite serves a write to an app's plan: it decodes the body (which
// may be empty) into req, runs do, and answers the app's status, or 400
// for a plan that cannot be run here, 409 for one not in a state to take
// the write, 202 for one in force here while the state store is down, 503
// for one that needs the store while it is down, 500 otherwise.
func (s *Server) planWrite(w http.ResponseWriter, r *http.Request, req any, what string, do func(context.Context, Control, string) error) {
	a := s.app(w, r)
	if a == nil {
		return
	}
	if err := decodeBody(r, req); err != nil && !errors.Is(err, io.EOF) {
		writeError(w, bodyStatus(err), err.Error())
		return
	}
	if s.opts.Control == nil {
		writeError(w, http.StatusServiceUnavailable, "this instance takes no writes")
		return
	}
	err := do(r.Context(), s.opts.Control, a.Name())
	switch {
	case errors.Is(err, rollback.ErrNoPlan), errors.Is(err, rollback.ErrNoAnalysis), errors.Is(err, rollback.ErrNoStore),
		errors.Is(err, rollback.ErrStepRange):
		writeError(w, http.StatusBadRequest, err.Error())
		return
	case errors.Is(err, rollback.ErrPlanNotRunning), errors.Is(err, rollback.ErrPlanDone), errors.Is(err, rollback.ErrPlanRunning):
		writeError(w, http.StatusConflict, err.Error())
		return
	case errors.Is(err, state.ErrPending):
		s.writePending(w, r, a, what, err)
		return
	case errors.Is(err, state.ErrStoreDown):
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("%s: %v", what, err))
		return
	case err != nil:
		s.log.Error(what, "app", a.Name(), "err", err)
		writeError(w, http.StatusInternalServerError, fmt.Sprintf("%s failed: %v", what, err))
		return
	}
	s.log.Info(what, "app", a.Name(), "weight", a.Weight(), "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, s.status(a))
}

// planText is p for a terminal: the step, its state, the verdict and the
// time to the next step.
func planText(app string, p *rollback.PlanStatus) string {
	step := fmt.Sprintf("plan step %d/%d (%d%%)", p.Step+1, len(p.Steps), p.Weight)
	switch p.State {
	case rollback.PlanRunning:
		return fmt.Sprintf("%s  running, verdict %s, next step in %s", step, p.Verdict, p.Next.Round(time.Second))
	case rollback.PlanHolding:
		v := p.Verdict
		if v == "" {
			v = "none yet"
		}
		return fmt.Sprintf("%s  holding, verdict %s: the next step needs %s of pass", step, v, p.StepMin)
	case rollback.PlanPaused:
		return fmt.Sprintf("%s  paused after a rollback (migrate cutover %s --plan resumes it at step 1, --from-step N at another)", step, app)
	case rollback.PlanDone:
		return fmt.Sprintf("%s  done", step)
	}
	return fmt.Sprintf("plan of %d steps  not running (migrate cutover %s --plan starts it)", len(p.Steps), app)
}
