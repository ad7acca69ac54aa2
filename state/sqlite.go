package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"github.com/jonboulle/clockwork"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// DBFile is the embedded store's file name in the data dir.
const DBFile = "state.db"

// busyTimeoutMs is how long a statement waits for another writer's lock.
const busyTimeoutMs = 5000

// sqliteStore is the embedded Store.
type sqliteStore struct {
	db    *sql.DB
	path  string
	clock clockwork.Clock
}

// openSQLite opens or creates dir/state.db and brings its schema up to
// date. A nil clock is the real one; it stamps updated_at.
func openSQLite(ctx context.Context, dir string, clock clockwork.Clock) (*sqliteStore, error) {
	if dir == "" {
		dir = "."
	}
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data dir %s: %w", dir, err)
	}
	path := filepath.Join(dir, DBFile)
	dsn, err := sqliteDSN(path)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening state store %s: %w", path, err)
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening state store %s: %w", path, err)
	}
	return &sqliteStore{db: db, path: path, clock: clock}, nil
}

// sqliteDSN is a file: URI for path with the connection settings every
// pooled connection applies: WAL (readers do not wait for the writer), a
// busy timeout instead of immediate SQLITE_BUSY, and write transactions
// that take the lock up front so two of them cannot deadlock.
func sqliteDSN(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("resolving state store path %s: %w", path, err)
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMs))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Set("_txlock", "immediate")
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	return u.String(), nil
}

func (s *sqliteStore) Weight(ctx context.Context, app string) (int, bool, error) {
	var w int
	err := s.db.QueryRowContext(ctx, `SELECT weight FROM weights WHERE app = ?`, app).Scan(&w)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("reading weight of %s from %s: %w", app, s.path, err)
	}
	return w, true, nil
}

func (s *sqliteStore) SetWeight(ctx context.Context, app string, weight int) error {
	if err := checkWeight(app, weight); err != nil {
		return err
	}
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO weights (app, weight, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (app) DO UPDATE SET weight = excluded.weight, updated_at = excluded.updated_at`,
		app, weight, s.clock.Now().UnixMilli())
	if err != nil {
		return fmt.Errorf("saving weight of %s to %s: %w", app, s.path, err)
	}
	return nil
}

func (s *sqliteStore) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("closing state store %s: %w", s.path, err)
	}
	return nil
}
