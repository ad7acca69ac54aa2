package state

import (
	"fmt"
	"time"
	"unicode/utf8"
)

// AppState is the migration state of one app.
type AppState struct {
	App string `json:"app"`
	// Weight is the share of traffic on the new side, 0 to 100.
	Weight int `json:"weight"`
	// Phase names where the migration of the app stands (shadow, cutover,
	// rolled_back, ...); the store does not interpret it.
	Phase string `json:"phase,omitempty"`
	// PlanStep is the index of the current step of the progressive plan.
	PlanStep int `json:"plan_step"`
	// StepSince is when the current plan step started; zero when no plan
	// runs.
	StepSince time.Time `json:"step_since,omitzero"`
	// Paused is set when the plan must not advance (after a rollback).
	Paused bool `json:"paused,omitempty"`
	// Version counts the saved updates of the app; a state with a higher
	// Version is newer.
	Version int64 `json:"version"`
	// UpdatedAt is when the state was decided: the time of the Update
	// that made it, always after the UpdatedAt of the state it was made
	// from. A decision kept while the store was down keeps its time when
	// it is written later, and the later of two decisions wins.
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// MaxPhase is the longest phase, in bytes, a state may carry.
const MaxPhase = 64

// sameContent reports whether a and b hold the same state, leaving out the
// bookkeeping (Version, UpdatedAt).
func sameContent(a, b AppState) bool {
	return a.App == b.App && a.Weight == b.Weight && a.Phase == b.Phase &&
		a.PlanStep == b.PlanStep && a.StepSince.Equal(b.StepSince) && a.Paused == b.Paused
}

// sameState reports whether a and b are the same saved state.
func sameState(a, b AppState) bool {
	return sameContent(a, b) && a.Version == b.Version && a.UpdatedAt.Equal(b.UpdatedAt)
}

func (s AppState) validate() error {
	switch {
	case s.Weight < 0 || s.Weight > 100:
		return fmt.Errorf("weight %d: %w", s.Weight, ErrWeightRange)
	case s.PlanStep < 0:
		return fmt.Errorf("plan step %d: %w", s.PlanStep, ErrInvalid)
	case len(s.Phase) > MaxPhase:
		return fmt.Errorf("phase longer than %d bytes: %w", MaxPhase, ErrInvalid)
	}
	return nil
}

// next is the state to save after fn turned cur into s: times at the
// store's millisecond precision, App kept, Version bumped, UpdatedAt now
// or, when cur's is not before now (a clock behind another instance's),
// a millisecond after cur's, so that a state is always decided after the
// one it was made from.
func (s AppState) next(cur AppState, now time.Time) AppState {
	s.App = cur.App
	s.StepSince = millis(s.StepSince)
	s.Version = cur.Version + 1
	s.UpdatedAt = millis(now)
	if !cur.UpdatedAt.IsZero() && !s.UpdatedAt.After(cur.UpdatedAt) {
		s.UpdatedAt = cur.UpdatedAt.Add(time.Millisecond)
	}
	return s
}

// decidedAfter reports whether s is a later decision than o: decided
// later, or at the same millisecond with fewer clients on new (the safer
// of two decisions taken at once wins).
func (s AppState) decidedAfter(o AppState) bool {
	if !s.UpdatedAt.Equal(o.UpdatedAt) {
		return s.UpdatedAt.After(o.UpdatedAt)
	}
	return s.Weight < o.Weight
}

// Change is a new state of one app, delivered by Watch.
type Change struct {
	App   string
	State AppState
}

// Event kinds. Kind is free text; these are the ones migrate emits.
const (
	KindWeight    = "weight"     // the weight changed
	KindPhase     = "phase"      // the phase changed
	KindPlanStep  = "plan_step"  // the plan moved to another step
	KindPause     = "pause"      // the plan was paused or resumed
	KindRollback  = "rollback"   // traffic went back to the old side
	KindVerdict   = "verdict"    // the analysis verdict changed
	KindNoData    = "no_data"    // an analysis source returned nothing
	KindStoreDown = "store_down" // this instance lost the state store
	KindStoreUp   = "store_up"   // this instance reached the store again
	// KindSuperseded: a decision this instance took while the store was
	// down was not written, another instance's later one was.
	KindSuperseded = "superseded"
	KindSourceDown = "source_down" // an app's rollback source stopped answering
	KindSourceUp   = "source_up"   // it answers again
)

// Actors: who caused an event.
const (
	ActorCLI        = "cli"
	ActorController = "controller"
	ActorAPI        = "api"
	ActorStore      = "store" // the state store itself (store_down, store_up)
)

// Event is one recorded action or observation.
type Event struct {
	// ID is set by the store: unique within it, and ordered the way the
	// events were appended. It is opaque (a number for the embedded store,
	// a stream entry ID for Redis); pass it back as Query.After. Empty for
	// an event that reached only the audit log (store down).
	ID  string    `json:"id,omitempty"`
	At  time.Time `json:"at"`
	App string    `json:"app,omitempty"` // empty for events about the whole instance
	// Kind is what happened: one of the Kind constants or another word.
	Kind  string `json:"kind"`
	Actor string `json:"actor,omitempty"` // one of the Actor constants
	// Before and After are the value before and after the action, as text
	// or small JSON ("25", `{"verdict":"fail"}`).
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// MaxEventField is the longest Before, After or Reason, in bytes, an event
// keeps; longer ones are cut.
const MaxEventField = 4096

// MaxKind is the longest Kind or Actor, in bytes.
const MaxKind = 64

// prepare checks e and returns it as it is stored: At stamped (now when
// zero) at millisecond precision, long fields cut, no ID.
func (e Event) prepare(now time.Time) (Event, error) {
	if e.Kind == "" {
		return e, fmt.Errorf("appending event: no kind: %w", ErrInvalid)
	}
	if len(e.Kind) > MaxKind || len(e.Actor) > MaxKind {
		return e, fmt.Errorf("appending event: kind or actor longer than %d bytes: %w", MaxKind, ErrInvalid)
	}
	if e.At.IsZero() {
		e.At = now
	}
	e.ID = ""
	e.At = millis(e.At)
	e.Before = cut(e.Before)
	e.After = cut(e.After)
	e.Reason = cut(e.Reason)
	return e, nil
}

// cut shortens s to MaxEventField bytes without splitting a UTF-8 sequence.
func cut(s string) string {
	if len(s) <= MaxEventField {
		return s
	}
	n := MaxEventField
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Query selects events.
type Query struct {
	// App keeps only that app's events; empty keeps every event.
	App string
	// Since keeps events at or after it; zero keeps all.
	Since time.Time
	// After keeps events appended after the one with this ID (a cursor
	// from an earlier answer); empty keeps all.
	After string
	// Limit is the most events returned, the newest of those that match;
	// DefaultEventLimit when zero or less, at most MaxEventLimit.
	Limit int
}

// Event query limits.
const (
	DefaultEventLimit = 1000
	MaxEventLimit     = 10000
)

func (q Query) limit() int {
	switch {
	case q.Limit <= 0:
		return DefaultEventLimit
	case q.Limit > MaxEventLimit:
		return MaxEventLimit
	}
	return q.Limit
}

func (q Query) match(e Event) bool {
	return (q.App == "" || e.App == q.App) && !e.At.Before(q.Since)
}

// Status is whether a store reaches its backend.
type Status struct {
	Backend string    `json:"backend"` // BackendEmbedded or BackendRedis
	Up      bool      `json:"up"`
	Since   time.Time `json:"since,omitzero"`  // when Up last changed; zero if it never did
	Err     string    `json:"error,omitempty"` // why the store is down
	// Pending counts the apps whose last decision on this instance is
	// not in the store yet (taken while it was down).
	Pending int `json:"pending,omitempty"`
	// PendingBackends counts the live backend changes made on this
	// instance while the store was down and not in it yet.
	PendingBackends int `json:"pending_backends,omitempty"`
}

// millis is t at the stores' precision (milliseconds) in UTC; zero stays
// zero.
func millis(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.UnixMilli(t.UnixMilli()).UTC()
}

// fromMillis is the time a store saved as Unix milliseconds; 0 is zero.
func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// toMillis is t as Unix milliseconds; zero is 0.
func toMillis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}
