package state

import (
	"context"
	"database/sql"
	"fmt"
)

// The embedded store's live backends: the backends table (schema.go),
// one row per app, side and URL. A change is one transaction; the store
// offers the app's overlay read after it to the hub, and its loop re-reads
// every overlay each poll interval (another process on the same state.db).

const liveColumns = `app, side, url, op, at, actor, reason`

func (s *sqliteStore) SetBackend(ctx context.Context, e LiveBackend) (LiveBackend, error) {
	e, err := e.prepare(s.clock.Now())
	if err != nil {
		return LiveBackend{}, err
	}
	_, err = s.db.ExecContext(ctx, `
		INSERT INTO backends (`+liveColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (app, side, url) DO UPDATE SET
			op = excluded.op, at = excluded.at, actor = excluded.actor, reason = excluded.reason`,
		e.App, e.Side, e.URL, e.Op, toMillis(e.At), e.Actor, e.Reason)
	if err != nil {
		return LiveBackend{}, fmt.Errorf("recording live backend %s of %s in %s: %w", e.URL, e.App, s.path, err)
	}
	return e, s.refreshLive(ctx, e.App)
}

func (s *sqliteStore) RetireBackend(ctx context.Context, e LiveBackend) (bool, error) {
	res, err := s.db.ExecContext(ctx, `
		DELETE FROM backends WHERE app = ? AND side = ? AND url = ? AND op = ? AND at = ? AND actor = ? AND reason = ?`,
		e.App, e.Side, e.URL, e.Op, toMillis(e.At), e.Actor, e.Reason)
	if err != nil {
		return false, fmt.Errorf("retiring live backend %s of %s in %s: %w", e.URL, e.App, s.path, err)
	}
	return s.changed(ctx, e.App, res)
}

func (s *sqliteStore) ResetBackends(ctx context.Context, app string) (int, error) {
	if app == "" {
		return 0, ErrNoApp
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM backends WHERE app = ?`, app)
	if err != nil {
		return 0, fmt.Errorf("resetting live backends of %s in %s: %w", app, s.path, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("resetting live backends of %s in %s: %w", app, s.path, err)
	}
	return int(n), s.refreshLive(ctx, app)
}

// changed reports whether a statement on app's overlay changed a row,
// and offers the overlay to the hub when it did.
func (s *sqliteStore) changed(ctx context.Context, app string, res sql.Result) (bool, error) {
	n, err := res.RowsAffected()
	if err != nil || n == 0 {
		return false, err
	}
	return true, s.refreshLive(ctx, app)
}

// refreshLive reads app's overlay and offers it to the hub.
func (s *sqliteStore) refreshLive(ctx context.Context, app string) error {
	es, err := s.LiveBackends(ctx, app)
	if err != nil {
		return err
	}
	s.hub.offerLive(app, es)
	return nil
}

func (s *sqliteStore) LiveBackends(ctx context.Context, app string) ([]LiveBackend, error) {
	return s.readLive(ctx, `WHERE app = ?`, app)
}

// readLive reads the entries where selects, sorted by app, side and URL.
func (s *sqliteStore) readLive(ctx context.Context, where string, args ...any) ([]LiveBackend, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+liveColumns+` FROM backends `+where+` ORDER BY app, side, url`, args...)
	if err != nil {
		return nil, fmt.Errorf("reading live backends from %s: %w", s.path, err)
	}
	defer rows.Close()
	out := []LiveBackend{}
	for rows.Next() {
		var e LiveBackend
		var at int64
		if err := rows.Scan(&e.App, &e.Side, &e.URL, &e.Op, &at, &e.Actor, &e.Reason); err != nil {
			return nil, fmt.Errorf("reading live backends from %s: %w", s.path, err)
		}
		e.At = fromMillis(at)
		if err := e.validate(); err != nil {
			s.log.Warn("skipping unreadable live backend", "path", s.path, "err", err)
			continue
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading live backends from %s: %w", s.path, err)
	}
	return out, nil
}

// allLive reads every app's overlay.
func (s *sqliteStore) allLive(ctx context.Context) (map[string][]LiveBackend, error) {
	es, err := s.readLive(ctx, "")
	if err != nil {
		return nil, err
	}
	return groupLive(es), nil
}

func (s *sqliteStore) WatchBackends(ctx context.Context) <-chan BackendsChange {
	return s.hub.watchLive(ctx)
}
