package admin

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/migratekit/migrate/state"
)

// getEvents answers GET /api/v1/events?app=&since=RFC3339&after=ID&limit=N,
// oldest first.
func (s *Server) getEvents(w http.ResponseWriter, r *http.Request) {
	q, err := eventQuery(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if s.opts.Control == nil {
		writeJSON(w, http.StatusOK, []state.Event{})
		return
	}
	evs, err := s.opts.Control.Events(r.Context(), q)
	if err != nil {
		s.log.Error("reading events", "err", err)
		writeError(w, http.StatusInternalServerError, "reading the events failed")
		return
	}
	if evs == nil {
		evs = []state.Event{}
	}
	writeJSON(w, http.StatusOK, evs)
}

func eventQuery(r *http.Request) (state.Query, error) {
	v := r.URL.Query()
	q := state.Query{App: v.Get("app"), After: v.Get("after")}
	if s := v.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return q, fmt.Errorf("since=%q is not an RFC 3339 time (2026-01-02T15:04:05Z)", s)
		}
		q.Since = t
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > state.MaxEventLimit {
			return q, fmt.Errorf("limit=%q is not a number between 1 and %d", s, state.MaxEventLimit)
		}
		q.Limit = n
	}
	return q, nil
}
