package logship

// LogStore: the recent lines of both sides kept by `migrate serve` for the
// embedded sink, for `migrate logs tail` and the dashboard.
//
// Lines live in a SQLite database in the data dir, one row per event id
// (a replayed duplicate is ignored), with the event's JSON (AppendEvent)
// and the columns a query filters on. The store is bounded by count and by
// age of arrival: each Add drops the oldest rows beyond MaxLines and those
// that arrived longer than MaxAge ago, and counts them.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// LogStoreFile is the log store's usual file name in the data dir.
const LogStoreFile = "logs.db"

// Defaults of LogStoreOptions.
const (
	DefaultStoreLines = 100_000
	DefaultStoreAge   = 24 * time.Hour
	DefaultQueryLimit = 1000
	MaxQueryLimit     = 10_000
)

// LogStoreOptions configure a LogStore. Zero values take the defaults.
type LogStoreOptions struct {
	MaxLines int           // lines kept in all; default 100,000
	MaxAge   time.Duration // how long a line is kept after it arrived; default 24h
	Clock    clockwork.Clock
}

// LogStore keeps recent shipped lines. Its methods are safe for
// concurrent use.
type LogStore struct {
	db   *sql.DB
	opts LogStoreOptions

	mu      sync.Mutex // serialises writes and guards the fields below
	lines   int        // rows in the table
	stats   LogStoreStats
	changed chan struct{} // closed and replaced by every Add that stored lines
}

// LogStoreStats count what the store did since it was opened.
type LogStoreStats struct {
	Stored     uint64 `json:"stored"`
	Duplicates uint64 `json:"duplicates"`
	// EvictedCount and EvictedAge are lines dropped by the MaxLines and
	// MaxAge bounds.
	EvictedCount uint64 `json:"evicted_count"`
	EvictedAge   uint64 `json:"evicted_age"`
	Lines        int    `json:"lines"`
}

// LogQuery selects stored lines.
type LogQuery struct {
	App  string
	Side string // "" for both
	// Since keeps lines whose event time is not before it.
	Since time.Time
	// After keeps lines stored after the line with that Seq (a follow's
	// cursor); 0 returns the newest Limit lines.
	After int64
	// Grep keeps lines whose raw text matches.
	Grep *regexp.Regexp
	// Limit bounds the lines returned; default DefaultQueryLimit, at most
	// MaxQueryLimit.
	Limit int
}

// StoredLine is a line as the store returns it.
type StoredLine struct {
	// Seq orders lines by arrival; a LogQuery.After cursor.
	Seq int64
	// JSON is the event as AppendEvent wrote it.
	JSON []byte
}

var logStoreSchema = `CREATE TABLE IF NOT EXISTS lines (
	seq      INTEGER PRIMARY KEY,
	id       TEXT NOT NULL,
	app      TEXT NOT NULL,
	side     TEXT NOT NULL,
	time     INTEGER NOT NULL,
	received INTEGER NOT NULL,
	raw      BLOB NOT NULL,
	json     BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS lines_id ON lines (app, side, id);
CREATE INDEX IF NOT EXISTS lines_received ON lines (received);
CREATE INDEX IF NOT EXISTS lines_app ON lines (app, seq)`

// OpenLogStore opens (creating it if needed) the store at path.
func OpenLogStore(ctx context.Context, path string, opts LogStoreOptions) (*LogStore, error) {
	if opts.MaxLines <= 0 {
		opts.MaxLines = DefaultStoreLines
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = DefaultStoreAge
	}
	if opts.Clock == nil {
		opts.Clock = clockwork.NewRealClock()
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("opening log store %s: %w", path, err)
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	dsn := (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening log store %s: %w", path, err)
	}
	s := &LogStore{db: db, opts: opts, changed: make(chan struct{})}
	if err := s.init(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening log store %s: %w", path, err)
	}
	return s, nil
}

func (s *LogStore) init(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, logStoreSchema); err != nil {
		return fmt.Errorf("creating tables: %w", err)
	}
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM lines`).Scan(&s.lines); err != nil {
		return fmt.Errorf("counting lines: %w", err)
	}
	return nil
}

// Close closes the database.
func (s *LogStore) Close() error {
	return s.db.Close()
}

// Add stores evs, each under its own App and Side, and returns those that
// were new (a duplicate id of the same app and side is ignored). Then it
// applies the bounds.
func (s *LogStore) Add(ctx context.Context, evs []Event) ([]Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Clock.Now()
	added, err := s.insert(ctx, evs, now)
	if err != nil {
		return nil, err
	}
	s.lines += len(added)
	s.stats.Stored += uint64(len(added))
	s.stats.Duplicates += uint64(len(evs) - len(added))
	if err := s.evict(ctx, now); err != nil {
		return added, err
	}
	if len(added) > 0 {
		close(s.changed)
		s.changed = make(chan struct{})
	}
	return added, nil
}

func (s *LogStore) insert(ctx context.Context, evs []Event, now time.Time) ([]Event, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("storing lines: %w", err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO lines (id, app, side, time, received, raw, json) VALUES (?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return nil, fmt.Errorf("storing lines: %w", err)
	}
	defer stmt.Close()
	var added []Event
	buf := make([]byte, 0, 1024)
	for i := range evs {
		ev := &evs[i]
		buf = AppendEvent(buf[:0], ev)
		res, err := stmt.ExecContext(ctx, ev.ID, ev.App, ev.Side, ev.Time.UnixNano(), now.UnixNano(), ev.Record.Raw, buf)
		if err != nil {
			return nil, fmt.Errorf("storing lines: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			added = append(added, *ev)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("storing lines: %w", err)
	}
	return added, nil
}

// evict drops the lines past the bounds.
func (s *LogStore) evict(ctx context.Context, now time.Time) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM lines WHERE received < ?`, now.Add(-s.opts.MaxAge).UnixNano())
	if err != nil {
		return fmt.Errorf("evicting old lines: %w", err)
	}
	n, _ := res.RowsAffected()
	s.lines -= int(n)
	s.stats.EvictedAge += uint64(n)
	if over := s.lines - s.opts.MaxLines; over > 0 {
		res, err := s.db.ExecContext(ctx, `DELETE FROM lines WHERE seq IN (SELECT seq FROM lines ORDER BY seq LIMIT ?)`, over)
		if err != nil {
			return fmt.Errorf("evicting lines over the bound: %w", err)
		}
		n, _ := res.RowsAffected()
		s.lines -= int(n)
		s.stats.EvictedCount += uint64(n)
	}
	return nil
}

// Changed returns a channel closed by the next Add that stores a line.
func (s *LogStore) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// Stats returns the store's counts.
func (s *LogStore) Stats() LogStoreStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Lines = s.lines
	return st
}

// ErrQuery is a LogQuery that cannot be run.
var ErrQuery = errors.New("bad log query")

// Query returns the lines q selects, oldest first: with q.After, the first
// Limit lines stored after it; without, the newest Limit lines.
func (s *LogStore) Query(ctx context.Context, q LogQuery) ([]StoredLine, error) {
	if q.App == "" {
		return nil, fmt.Errorf("%w: no app", ErrQuery)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultQueryLimit
	}
	limit = min(limit, MaxQueryLimit)
	order := "DESC"
	if q.After > 0 {
		order = "ASC"
	}
	var since int64 = -1 << 63
	if !q.Since.IsZero() {
		since = q.Since.UnixNano()
	}
	rows, err := s.db.QueryContext(ctx, `SELECT seq, raw, json FROM lines
		WHERE app = ? AND (? = '' OR side = ?) AND seq > ? AND time >= ?
		ORDER BY seq `+order, q.App, q.Side, q.Side, q.After, since)
	if err != nil {
		return nil, fmt.Errorf("querying lines: %w", err)
	}
	defer rows.Close()
	var out []StoredLine
	for len(out) < limit && rows.Next() {
		var l StoredLine
		var raw []byte
		if err := rows.Scan(&l.Seq, &raw, &l.JSON); err != nil {
			return nil, fmt.Errorf("reading lines: %w", err)
		}
		if q.Grep == nil || q.Grep.Match(raw) {
			out = append(out, l)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading lines: %w", err)
	}
	if q.After == 0 {
		slices.Reverse(out)
	}
	return out, nil
}
