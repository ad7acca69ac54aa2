package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// A decision taken while Redis is down (an Update: a rollback, a weight)
// is never lost and never undone by an older one. It is applied to this
// instance's last known state at once, delivered to its watchers (the
// proxy follows), kept in the local file (a restart keeps it), and
// written to Redis when it is back, in a transaction that compares it
// with what Redis holds then:
//
//   - nothing written since the state it was decided on (Version at most
//     its Base), or Redis lost the app: it is written;
//   - another instance wrote since: the later decision (UpdatedAt) wins,
//     the safer at the same millisecond; a decision that loses is logged
//     and recorded as a superseded event, and the instance follows the
//     later one.
//
// Until then the app's state in Redis does not replace it here (the
// re-read, the published changes and Get leave it alone), so a stale
// weight read when Redis returns never sends the clients back.

// outcome is what happened to a pending decision in Redis.
type outcome int

const (
	written    outcome = iota // written now
	landed                    // it was there already (a write that timed out got through)
	superseded                // a later decision was there
)

// decideHere takes the decision fn makes on app while Redis is down: on
// the last known state (a pending decision included), kept and delivered.
// The error wraps ErrStoreDown and ErrPending; cause is why Redis is down.
func (s *redisStore) decideHere(app, op string, fn func(*AppState) error, cause error) (AppState, error) {
	s.decide.Lock()
	defer s.decide.Unlock()
	cur, ok := s.hub.get(app)
	if !ok {
		cur = AppState{App: app}
	}
	st := cur
	if err := fn(&st); err != nil {
		return AppState{}, fmt.Errorf("%s: %w", op, err)
	}
	st = st.next(cur, s.clock.Now())
	if err := st.validate(); err != nil {
		return AppState{}, fmt.Errorf("%s: %w", op, err)
	}
	p := pendingDecision{State: st, Base: cur.Version}
	if prev, ok := s.local.pendingOf(app); ok {
		p.Base = prev.Base
	}
	s.local.put(p)
	s.hub.offer(st)
	s.logSaveError(s.saveLocal())
	s.log.Warn("state store down: decision applied here, saved when the store is back",
		"app", app, "weight", st.Weight, "phase", st.Phase, "err", cause)
	return st, fmt.Errorf("%s: %w: %w: %w", op, ErrStoreDown, ErrPending, cause)
}

// flushPending writes the pending decisions to Redis, oldest first. It
// stops at the first that cannot be written and returns its error.
func (s *redisStore) flushPending(ctx context.Context) error {
	s.flushing.Lock()
	defer s.flushing.Unlock()
	for _, p := range s.local.pendings() {
		got, out, err := s.land(ctx, p)
		if err != nil {
			return fmt.Errorf("writing the decision on %s taken while the store was down: %w", p.State.App, err)
		}
		s.local.resolve(p)
		s.reportLanding(ctx, p, got, out)
	}
	return nil
}

// land writes p unless Redis holds a later decision, in one optimistic
// transaction (retried when another instance writes in between); it
// returns the state Redis holds after it.
func (s *redisStore) land(ctx context.Context, p pendingDecision) (AppState, outcome, error) {
	var got AppState
	var out outcome
	tx := func(tx *redis.Tx) error {
		var err error
		got, out, err = s.landTx(ctx, tx, p)
		return err
	}
	for range maxTxRetries {
		err := s.client.Watch(ctx, tx, s.keys.apps)
		if errors.Is(err, redis.TxFailedErr) {
			continue
		}
		return got, out, err
	}
	return AppState{}, 0, fmt.Errorf("%d concurrent writers in a row: %w", maxTxRetries, redis.TxFailedErr)
}

func (s *redisStore) landTx(ctx context.Context, tx *redis.Tx, p pendingDecision) (AppState, outcome, error) {
	app := p.State.App
	v, err := tx.HGet(ctx, s.keys.apps, app).Result()
	var stored AppState
	exists := err == nil
	switch {
	case errors.Is(err, redis.Nil):
	case err != nil:
		return AppState{}, 0, err
	default:
		if stored, err = decodeState(v); err != nil {
			exists = false // unreadable: the decision replaces it
		}
	}
	switch {
	case exists && stored.UpdatedAt.Equal(p.State.UpdatedAt) && sameContent(stored, p.State):
		return stored, landed, nil
	case exists && stored.Version > p.Base && !p.State.decidedAfter(stored):
		return stored, superseded, nil
	}
	st := p.State
	st.Version = max(stored.Version, p.Base) + 1
	b, err := json.Marshal(st)
	if err != nil {
		return AppState{}, 0, fmt.Errorf("encoding state of %s: %w", app, err)
	}
	_, err = tx.TxPipelined(ctx, func(pl redis.Pipeliner) error {
		pl.HSet(ctx, s.keys.apps, app, b)
		pl.Publish(ctx, s.keys.changes, b)
		return nil
	})
	return st, written, err
}

// reportLanding logs what became of p and records a superseded decision.
func (s *redisStore) reportLanding(ctx context.Context, p pendingDecision, got AppState, out outcome) {
	switch out {
	case written, landed:
		s.hub.offer(got)
		s.log.Info("decision taken while the state store was down is saved", "app", got.App,
			"weight", got.Weight, "phase", got.Phase, "decided_at", p.State.UpdatedAt)
	case superseded:
		s.log.Warn("decision taken while the state store was down is superseded by a later one",
			"app", got.App, "weight", p.State.Weight, "decided_at", p.State.UpdatedAt,
			"later_weight", got.Weight, "later_decided_at", got.UpdatedAt)
		e := Event{App: got.App, Kind: KindSuperseded, Actor: ActorStore,
			Before: strconv.Itoa(p.State.Weight), After: strconv.Itoa(got.Weight),
			Reason: fmt.Sprintf("weight %d decided here at %s while the state store was down; weight %d decided at %s is later",
				p.State.Weight, p.State.UpdatedAt.Format(timeFormat), got.Weight, got.UpdatedAt.Format(timeFormat))}
		if _, err := s.AppendEvent(ctx, e); err != nil {
			s.log.Warn("recording a superseded decision", "app", got.App, "err", err)
		}
	}
}

// timeFormat is how events write times: UTC, milliseconds.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

// flushEvents appends the events queued while Redis was down, oldest
// first, and stops at the first error.
func (s *redisStore) flushEvents(ctx context.Context) error {
	evs := s.local.queued()
	for i, e := range evs {
		if _, err := s.addEvent(ctx, e); err != nil {
			s.local.sent(i)
			return fmt.Errorf("appending the events of the outage: %w", err)
		}
	}
	s.local.sent(len(evs))
	return nil
}

// withoutPending leaves out of states the apps with a pending decision:
// what Redis holds for them does not replace it here.
func (s *redisStore) withoutPending(states []AppState) []AppState {
	out := states[:0:0]
	for _, st := range states {
		if !s.local.hasPending(st.App) {
			out = append(out, st)
		}
	}
	return out
}

// saveLocal writes the local file if anything in it changed.
func (s *redisStore) saveLocal() error {
	known, live, gen := s.hub.snapshot()
	return s.local.save(known, live, gen, s.clock.Now())
}
