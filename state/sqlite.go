package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jonboulle/clockwork"
	"modernc.org/sqlite" // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"
)

// DBFile is the embedded store's file name in the data dir.
const DBFile = "state.db"

// busyTimeoutMs is how long a statement waits for another writer's lock.
const busyTimeoutMs = 5000

// sqliteStore is the embedded Store. Every change is one SQLite transaction
// (WAL, synchronous NORMAL: a crash loses at most the last commits, never
// leaves a half-written state). Its loop re-reads every app each poll
// interval, so that a change made by another process on the same state.db
// (a standalone `migrate rollback watch`) reaches Watch.
type sqliteStore struct {
	db    *sql.DB
	path  string
	clock clockwork.Clock
	log   *slog.Logger
	audit *auditLog
	hub   *hub

	stop      context.CancelFunc
	loopDone  chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// openSQLite opens or creates state.db in opts.DataDir, checks it, brings
// its schema up to date, opens the audit log and starts the re-read loop.
// A state.db SQLite cannot read is refused with a DamagedError; a new or
// empty one (0 bytes) starts from nothing, which is logged.
func openSQLite(ctx context.Context, opts Options) (*sqliteStore, error) {
	dir := opts.DataDir
	if err := makeDataDir(dir); err != nil {
		return nil, err
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
	s := &sqliteStore{db: db, path: path, clock: opts.Clock, log: opts.Logger, hub: newHub()}
	if err := s.load(ctx, dir); err != nil {
		db.Close()
		return nil, err
	}
	loopCtx, stop := context.WithCancel(context.Background())
	s.stop, s.loopDone = stop, make(chan struct{})
	go s.run(loopCtx, opts.Clock.NewTicker(opts.PollInterval))
	return s, nil
}

// makeDataDir creates the data dir (mode 0700) unless it exists.
func makeDataDir(dir string) error {
	err := os.MkdirAll(dir, 0o700)
	if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.EEXIST) {
		return fmt.Errorf("creating data dir %s: it or a parent is a file, not a directory: point --data-dir at a directory: %w", dir, err)
	}
	if err != nil {
		return fmt.Errorf("creating data dir %s: %w", dir, err)
	}
	return nil
}

// load checks the database, migrates the schema, reads every app into the
// hub and opens the audit log.
func (s *sqliteStore) load(ctx context.Context, dir string) error {
	fresh, err := s.check(ctx)
	if err != nil {
		return err
	}
	if err := migrate(ctx, s.db); err != nil {
		return s.openError(err)
	}
	all, err := s.Apps(ctx)
	if err != nil {
		return s.openError(err)
	}
	s.hub.replace(all, 0, false)
	live, err := s.allLive(ctx)
	if err != nil {
		return s.openError(err)
	}
	s.hub.replaceLive(live, 0, false)
	if s.audit, err = openAuditLog(dir); err != nil {
		return err
	}
	if fresh {
		s.logFresh()
	}
	return nil
}

// check runs SQLite's quick check of the whole file (a truncated or
// overwritten state.db fails it, or fails to open) and reports whether
// the database is new: no table at all.
func (s *sqliteStore) check(ctx context.Context) (fresh bool, err error) {
	rows, err := s.db.QueryContext(ctx, `PRAGMA quick_check`)
	if err != nil {
		return false, s.openError(err)
	}
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			rows.Close()
			return false, s.openError(err)
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return false, s.openError(err)
	}
	if len(problems) > 0 {
		return false, &DamagedError{Path: s.path, Err: fmt.Errorf("sqlite quick_check: %s", strings.Join(problems, "; "))}
	}
	var tables int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master`).Scan(&tables); err != nil {
		return false, s.openError(err)
	}
	return tables == 0, nil
}

// openError is err of opening the store: a DamagedError when SQLite found
// the file damaged or not a database.
func (s *sqliteStore) openError(err error) error {
	if IsDamaged(err) {
		return fmt.Errorf("opening state store: %w", &DamagedError{Path: s.path, Err: err})
	}
	return fmt.Errorf("opening state store %s: %w", s.path, err)
}

// IsDamaged reports whether err says that a file is damaged: ErrDamaged,
// or SQLite's "database disk image is malformed" or "file is not a
// database" from any SQLite file (the state store's, or another store's
// of the data dir).
func IsDamaged(err error) bool {
	if errors.Is(err, ErrDamaged) {
		return true
	}
	se, ok := errors.AsType[*sqlite.Error](err)
	if !ok {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		return true
	}
	return false
}

// logFresh says that the store starts from nothing, loudly when the audit
// log beside it has events: then a state was saved once and is lost.
func (s *sqliteStore) logFresh() {
	if fi, err := os.Stat(s.audit.path); err == nil && fi.Size() > 0 {
		s.log.Error("state store starts from nothing, but the audit log beside it has events: the saved state "+
			"(weights, plan) was lost; every app starts at its manifest weight", "path", s.path, "audit_log", s.audit.path)
		return
	}
	s.log.Warn("state store starts from nothing: every app starts at its manifest weight", "path", s.path)
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

// run re-reads every app at each tick until ctx is done.
func (s *sqliteStore) run(ctx context.Context, tick clockwork.Ticker) {
	defer close(s.loopDone)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.Chan():
			s.poll(ctx)
		}
	}
}

func (s *sqliteStore) poll(ctx context.Context) {
	since := s.hub.mark()
	all, err := s.Apps(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("re-reading state store", "path", s.path, "err", err)
		}
		return
	}
	s.hub.replace(all, since, false)
	live, err := s.allLive(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("re-reading live backends", "path", s.path, "err", err)
		}
		return
	}
	s.hub.replaceLive(live, since, false)
}

const appColumns = `app, weight, phase, plan_step, step_since, paused, version, updated_at`

type scanner interface{ Scan(...any) error }

func scanApp(row scanner) (AppState, error) {
	var st AppState
	var since, updated int64
	err := row.Scan(&st.App, &st.Weight, &st.Phase, &st.PlanStep, &since, &st.Paused, &st.Version, &updated)
	st.StepSince, st.UpdatedAt = fromMillis(since), fromMillis(updated)
	return st, err
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func getApp(ctx context.Context, q querier, app string) (AppState, bool, error) {
	st, err := scanApp(q.QueryRowContext(ctx, `SELECT `+appColumns+` FROM apps WHERE app = ?`, app))
	if errors.Is(err, sql.ErrNoRows) {
		return AppState{}, false, nil
	}
	return st, err == nil, err
}

func (s *sqliteStore) Get(ctx context.Context, app string) (AppState, bool, error) {
	st, ok, err := getApp(ctx, s.db, app)
	if err != nil {
		return AppState{}, false, fmt.Errorf("reading state of %s from %s: %w", app, s.path, err)
	}
	if ok {
		s.hub.offer(st)
	}
	return st, ok, nil
}

func (s *sqliteStore) Apps(ctx context.Context) ([]AppState, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+appColumns+` FROM apps ORDER BY app`)
	if err != nil {
		return nil, fmt.Errorf("reading apps from %s: %w", s.path, err)
	}
	defer rows.Close()
	var out []AppState
	for rows.Next() {
		st, err := scanApp(rows)
		if err != nil {
			return nil, fmt.Errorf("reading apps from %s: %w", s.path, err)
		}
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading apps from %s: %w", s.path, err)
	}
	return out, nil
}

func (s *sqliteStore) Update(ctx context.Context, app string, fn func(*AppState) error) (AppState, error) {
	if app == "" {
		return AppState{}, ErrNoApp
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return AppState{}, fmt.Errorf("updating state of %s in %s: %w", app, s.path, err)
	}
	defer tx.Rollback()
	cur, ok, err := getApp(ctx, tx, app)
	if err != nil {
		return AppState{}, fmt.Errorf("updating state of %s in %s: %w", app, s.path, err)
	}
	if !ok {
		cur = AppState{App: app}
	}
	st, changed, err := apply(cur, ok, fn, s.clock.Now())
	if err != nil || !changed {
		return st, err
	}
	if err := saveApp(ctx, tx, st); err != nil {
		return AppState{}, fmt.Errorf("updating state of %s in %s: %w", app, s.path, err)
	}
	if err := tx.Commit(); err != nil {
		return AppState{}, fmt.Errorf("updating state of %s in %s: %w", app, s.path, err)
	}
	s.hub.offer(st)
	return st, nil
}

// apply runs fn on a copy of cur (saved when exists) and returns the state
// to save and whether it differs from cur. Both backends' Update use it.
func apply(cur AppState, exists bool, fn func(*AppState) error, now time.Time) (AppState, bool, error) {
	st := cur
	if err := fn(&st); err != nil {
		return AppState{}, false, fmt.Errorf("updating state of %s: %w", cur.App, err)
	}
	st = st.next(cur, now)
	if err := st.validate(); err != nil {
		return AppState{}, false, fmt.Errorf("updating state of %s: %w", cur.App, err)
	}
	if exists && sameContent(st, cur) {
		return cur, false, nil
	}
	return st, true, nil
}

func saveApp(ctx context.Context, tx *sql.Tx, st AppState) error {
	_, err := tx.ExecContext(ctx, `
		INSERT INTO apps (`+appColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (app) DO UPDATE SET
			weight = excluded.weight, phase = excluded.phase,
			plan_step = excluded.plan_step, step_since = excluded.step_since,
			paused = excluded.paused, version = excluded.version,
			updated_at = excluded.updated_at`,
		st.App, st.Weight, st.Phase, st.PlanStep, toMillis(st.StepSince), st.Paused, st.Version, toMillis(st.UpdatedAt))
	return err
}

func (s *sqliteStore) Weight(ctx context.Context, app string) (int, bool, error) {
	return weightOf(ctx, s, app)
}

func (s *sqliteStore) SetWeight(ctx context.Context, app string, weight int) error {
	return setWeight(ctx, s, app, weight)
}

func (s *sqliteStore) Watch(ctx context.Context) <-chan Change { return s.hub.watch(ctx) }

func (s *sqliteStore) Status() Status { return Status{Backend: BackendEmbedded, Up: true} }

func (s *sqliteStore) Close() error {
	s.closeOnce.Do(func() {
		s.stop()
		<-s.loopDone
		s.hub.close()
		var errs []error
		if err := s.db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing state store %s: %w", s.path, err))
		}
		if err := s.audit.close(); err != nil {
			errs = append(errs, err)
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}
