package compare

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
)

// storeMigrations bring the sample store's schema from version i to i+1,
// the way the state store does it. Append only: a released migration never
// changes.
//
// A pair's exchange is stored once in pairs; examples says which fields it
// is an example of. Deleting a pair's last example deletes the pair.
var storeMigrations = []string{
	// 1: pairs and examples. Times are Unix nanoseconds; *_meta columns are
	// JSON (see storedResponse), headers JSON objects of value lists.
	`CREATE TABLE pairs (
		id             INTEGER PRIMARY KEY,
		at             INTEGER NOT NULL,
		outcome        TEXT NOT NULL,
		method         TEXT NOT NULL,
		host           TEXT NOT NULL,
		path           TEXT NOT NULL,
		query          TEXT NOT NULL,
		req_header     TEXT NOT NULL,
		req_body       BLOB,
		req_truncated  INTEGER NOT NULL,
		primary_meta   TEXT NOT NULL,
		primary_body   BLOB,
		candidate_meta TEXT NOT NULL,
		candidate_body BLOB,
		diffs          TEXT NOT NULL,
		noisy          TEXT NOT NULL
	);
	CREATE TABLE examples (
		id       INTEGER PRIMARY KEY AUTOINCREMENT,
		app      TEXT NOT NULL,
		endpoint TEXT NOT NULL,
		field    TEXT NOT NULL,
		at       INTEGER NOT NULL,
		pair_id  INTEGER NOT NULL REFERENCES pairs (id)
	);
	CREATE INDEX examples_key ON examples (app, endpoint, field, at, id);
	CREATE INDEX examples_pair ON examples (pair_id);
	CREATE TRIGGER examples_drop_pair AFTER DELETE ON examples
	WHEN NOT EXISTS (SELECT 1 FROM examples WHERE pair_id = OLD.pair_id)
	BEGIN
		DELETE FROM pairs WHERE id = OLD.pair_id;
	END`,
	// 2: the direction of an example's pair (which side served it); the
	// examples kept before it were all served by old.
	`ALTER TABLE examples ADD COLUMN direction TEXT NOT NULL DEFAULT 'old_to_new';
	DROP INDEX examples_key;
	CREATE INDEX examples_key ON examples (app, direction, endpoint, field, at, id)`,
}

// storeDSN is a file: URI for path with the settings the state store uses
// on every pooled connection: WAL, a busy timeout, synchronous=NORMAL
// (a sample lost to a power cut is acceptable) and write transactions that
// take the lock up front.
func storeDSN(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("resolving sample store path %s: %w", path, err)
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Set("_txlock", "immediate")
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	return u.String(), nil
}

// migrateStore creates the version table if needed and applies the
// migrations the database lacks. A database newer than this binary is
// refused rather than misread.
func migrateStore(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("creating schema_version: %w", err)
	}
	var v int
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v); err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	if v > len(storeMigrations) {
		return fmt.Errorf("reading schema: version %d is newer than this migrate knows (%d)", v, len(storeMigrations))
	}
	for ; v < len(storeMigrations); v++ {
		if err := applyStoreMigration(ctx, db, v); err != nil {
			return fmt.Errorf("migrating schema to version %d: %w", v+1, err)
		}
	}
	return nil
}

// applyStoreMigration runs migration v (to version v+1), checking the
// version again inside the transaction so that two processes opening one
// new database apply it once.
func applyStoreMigration(ctx context.Context, db *sql.DB, v int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var cur int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&cur); err != nil {
		return err
	}
	if cur > v {
		return nil
	}
	stmts := []string{storeMigrations[v], `DELETE FROM schema_version`, fmt.Sprintf(`INSERT INTO schema_version (version) VALUES (%d)`, v+1)}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	return tx.Commit()
}
