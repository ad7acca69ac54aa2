package state

import (
	"context"
	"fmt"
	"slices"
	"strconv"
)

// AppendEvent inserts e and writes it to the audit log in one transaction:
// the event is committed only once its audit line is on disk, so the audit
// log holds every event the store does.
func (s *sqliteStore) AppendEvent(ctx context.Context, e Event) (Event, error) {
	e, err := e.prepare(s.clock.Now())
	if err != nil {
		return Event{}, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Event{}, fmt.Errorf("appending event to %s: %w", s.path, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `
		INSERT INTO events (at, app, kind, actor, before, after, reason)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		toMillis(e.At), e.App, e.Kind, e.Actor, e.Before, e.After, e.Reason)
	if err != nil {
		return Event{}, fmt.Errorf("appending event to %s: %w", s.path, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return Event{}, fmt.Errorf("appending event to %s: %w", s.path, err)
	}
	e.ID = strconv.FormatInt(id, 10)
	if err := s.audit.write(e); err != nil {
		return Event{}, err
	}
	if err := tx.Commit(); err != nil {
		return Event{}, fmt.Errorf("appending event to %s: %w", s.path, err)
	}
	return e, nil
}

// Events reads the newest q.Limit matching events and returns them oldest
// first.
func (s *sqliteStore) Events(ctx context.Context, q Query) ([]Event, error) {
	var after int64
	if q.After != "" {
		var err error
		if after, err = strconv.ParseInt(q.After, 10, 64); err != nil || after < 0 {
			return nil, fmt.Errorf("reading events: cursor %q: %w", q.After, ErrInvalid)
		}
	}
	rows, err := s.db.QueryContext(ctx, `
		SELECT id, at, app, kind, actor, before, after, reason FROM events
		WHERE (?1 = '' OR app = ?1) AND at >= ?2 AND id > ?3
		ORDER BY id DESC LIMIT ?4`,
		q.App, toMillis(q.Since), after, q.limit())
	if err != nil {
		return nil, fmt.Errorf("reading events from %s: %w", s.path, err)
	}
	defer rows.Close()
	out := []Event{}
	for rows.Next() {
		var e Event
		var id, at int64
		if err := rows.Scan(&id, &at, &e.App, &e.Kind, &e.Actor, &e.Before, &e.After, &e.Reason); err != nil {
			return nil, fmt.Errorf("reading events from %s: %w", s.path, err)
		}
		e.ID, e.At = strconv.FormatInt(id, 10), fromMillis(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading events from %s: %w", s.path, err)
	}
	slices.Reverse(out)
	return out, nil
}
