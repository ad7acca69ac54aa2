package compare

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// StoreFile is the sample store's usual file name in the data dir.
const StoreFile = "samples.db"

// Defaults of StoreOptions.
const (
	DefaultPerField    = 5
	DefaultMinInterval = time.Second
	DefaultMaxBody     = 64 << 10
	DefaultMaxExamples = 10000
)

// StoreOptions configure a Store. Zero values take the defaults.
type StoreOptions struct {
	// PerField is how many examples are kept per app, direction, endpoint
	// and field.
	PerField int
	// RedactHeaders and RedactJSON add to what is always redacted (see
	// Redactor): header names, case-insensitive, and JSON Pointer patterns
	// with "*" for one segment.
	RedactHeaders []string
	RedactJSON    []string
	// Clock stamps pairs captured without a time (Pair.At zero).
	Clock clockwork.Clock
	// MinInterval is how much newer than a full field's newest example a
	// pair must be to replace its oldest one; negative means any pair not
	// older than the newest. Default 1s: a field's examples are its newest,
	// at least a second apart, and a field that differs on every request
	// costs one write a second.
	MinInterval time.Duration
	// MaxBody caps each stored body, in bytes, after decoding and
	// redaction.
	MaxBody int
	// MaxExamples caps the examples of the whole store. Once reached, an
	// example that would add to the count is refused (StoreStats.Refused):
	// new fields get none, while full fields keep replacing their oldest.
	MaxExamples int
}

func (o StoreOptions) withDefaults() StoreOptions {
	if o.PerField <= 0 {
		o.PerField = DefaultPerField
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.MinInterval == 0 {
		o.MinInterval = DefaultMinInterval
	} else if o.MinInterval < 0 {
		o.MinInterval = 0
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.MaxExamples <= 0 {
		o.MaxExamples = DefaultMaxExamples
	}
	return o
}

// Store keeps a bounded set of redacted example exchanges per app,
// direction, endpoint and differing field, in a SQLite database that survives
// restarts. For each field it keeps the newest PerField examples, so what
// it shows reflects the stacks as they are now, not as they were when the
// field first differed. Its methods are safe for concurrent use.
type Store struct {
	db     *sql.DB
	path   string
	opts   StoreOptions
	redact *Redactor

	insertPair, insertExample, trim *sql.Stmt

	// writeMu serialises writes, so that a write's plan holds until it
	// is done; mu guards keys, total and stats and is never held across
	// a database call, so that Adds that write nothing never wait.
	writeMu sync.Mutex
	mu      sync.Mutex
	keys    map[exampleKey]keyState
	total   int
	stats   StoreStats
}

// exampleKey is what PerField counts examples of.
type exampleKey struct {
	app       string
	direction Direction
	endpoint  string
	field     string
}

// keyState mirrors one key's examples in the database.
type keyState struct {
	n      int
	newest int64 // Unix nanoseconds
}

// StoreStats counts what a Store did since it was opened.
type StoreStats struct {
	// Examples is the number of examples held now.
	Examples int
	// Stored counts examples written.
	Stored uint64
	// Skipped counts examples not written because their field was full
	// and the pair no newer than MinInterval after its newest example.
	Skipped uint64
	// Refused counts examples not written because the store held
	// MaxExamples.
	Refused uint64
}

// OpenStore opens or creates the sample store at path (creating its
// directory, mode 0700, and the file, mode 0600) and brings its schema up
// to date.
func OpenStore(ctx context.Context, path string, opts StoreOptions) (*Store, error) {
	opts = opts.withDefaults()
	red, err := NewRedactor(opts.RedactHeaders, opts.RedactJSON)
	if err != nil {
		return nil, fmt.Errorf("opening sample store %s: %w", path, err)
	}
	db, err := openStoreDB(ctx, path)
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, path: path, opts: opts, redact: red, keys: make(map[exampleKey]keyState)}
	if err := s.prepare(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("opening sample store %s: %w", path, err)
	}
	if err := s.loadKeys(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("opening sample store %s: %w", path, err)
	}
	return s, nil
}

func openStoreDB(ctx context.Context, path string) (*sql.DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating directory of sample store %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating sample store %s: %w", path, err)
	}
	f.Close()
	dsn, err := storeDSN(path)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening sample store %s: %w", path, err)
	}
	if err := migrateStore(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening sample store %s: %w", path, err)
	}
	return db, nil
}

func (s *Store) prepare(ctx context.Context) error {
	stmts := []struct {
		dst **sql.Stmt
		sql string
	}{
		{&s.insertPair, `INSERT INTO pairs (at, outcome, method, host, path, query, req_header, req_body,
			req_truncated, primary_meta, primary_body, candidate_meta, candidate_body, diffs, noisy)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{&s.insertExample, `INSERT INTO examples (app, direction, endpoint, field, at, pair_id) VALUES (?, ?, ?, ?, ?, ?)`},
		{&s.trim, `DELETE FROM examples WHERE id IN (
			SELECT id FROM examples WHERE app = ? AND direction = ? AND endpoint = ? AND field = ?
			ORDER BY at DESC, id DESC LIMIT -1 OFFSET ?)`},
	}
	for _, st := range stmts {
		p, err := s.db.PrepareContext(ctx, st.sql)
		if err != nil {
			return fmt.Errorf("preparing statement: %w", err)
		}
		*st.dst = p
	}
	return nil
}

// loadKeys reads every key's count and newest time, and trims keys that
// hold more than PerField (the option shrank since they were written).
func (s *Store) loadKeys(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, `SELECT app, direction, endpoint, field, COUNT(*), MAX(at) FROM examples GROUP BY app, direction, endpoint, field`)
	if err != nil {
		return fmt.Errorf("reading examples: %w", err)
	}
	defer rows.Close()
	var over []exampleKey
	for rows.Next() {
		var k exampleKey
		var st keyState
		if err := rows.Scan(&k.app, &k.direction, &k.endpoint, &k.field, &st.n, &st.newest); err != nil {
			return fmt.Errorf("reading examples: %w", err)
		}
		if st.n > s.opts.PerField {
			over = append(over, k)
			st.n = s.opts.PerField
		}
		s.keys[k] = st
		s.total += st.n
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading examples: %w", err)
	}
	for _, k := range over {
		if _, err := s.trim.ExecContext(ctx, k.app, k.direction, k.endpoint, k.field, s.opts.PerField); err != nil {
			return fmt.Errorf("trimming examples: %w", err)
		}
	}
	return nil
}

// Stats returns what the store did since it was opened.
func (s *Store) Stats() StoreStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Examples = s.total
	return st
}

// Close releases the store. Its file stays for the next OpenStore.
func (s *Store) Close() error {
	for _, st := range []*sql.Stmt{s.insertPair, s.insertExample, s.trim} {
		if st != nil {
			st.Close()
		}
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("closing sample store %s: %w", s.path, err)
	}
	return nil
}
