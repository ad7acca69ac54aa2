package state

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations bring the embedded store's schema from version i to i+1.
// Append only: a released migration never changes, so every state.db,
// whatever migrate wrote it, reaches the same schema.
var migrations = []string{
	// 1: weights. updated_at is Unix milliseconds.
	`CREATE TABLE weights (
		app        TEXT PRIMARY KEY,
		weight     INTEGER NOT NULL CHECK (weight BETWEEN 0 AND 100),
		updated_at INTEGER NOT NULL
	)`,
	// 2: the whole state of an app, weights carried over. Times are Unix
	// milliseconds, 0 for none.
	`CREATE TABLE apps (
		app        TEXT PRIMARY KEY,
		weight     INTEGER NOT NULL CHECK (weight BETWEEN 0 AND 100),
		phase      TEXT NOT NULL DEFAULT '',
		plan_step  INTEGER NOT NULL DEFAULT 0 CHECK (plan_step >= 0),
		step_since INTEGER NOT NULL DEFAULT 0,
		paused     INTEGER NOT NULL DEFAULT 0,
		version    INTEGER NOT NULL,
		updated_at INTEGER NOT NULL
	);
	INSERT INTO apps (app, weight, version, updated_at)
		SELECT app, weight, 1, updated_at FROM weights;
	DROP TABLE weights`,
	// 3: events, append-only (AUTOINCREMENT never reuses an id; the
	// triggers refuse edits).
	`CREATE TABLE events (
		id     INTEGER PRIMARY KEY AUTOINCREMENT,
		at     INTEGER NOT NULL,
		app    TEXT NOT NULL,
		kind   TEXT NOT NULL,
		actor  TEXT NOT NULL,
		before TEXT NOT NULL,
		after  TEXT NOT NULL,
		reason TEXT NOT NULL
	);
	CREATE INDEX events_app ON events (app, id);
	CREATE TRIGGER events_no_update BEFORE UPDATE ON events
		BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
	CREATE TRIGGER events_no_delete BEFORE DELETE ON events
		BEGIN SELECT RAISE(ABORT, 'events are append-only'); END`,
	// 4: live backends, the latest change of each backend of an app (an
	// overlay on the manifest). at is Unix milliseconds.
	`CREATE TABLE backends (
		app    TEXT NOT NULL,
		side   TEXT NOT NULL CHECK (side IN ('old', 'new')),
		url    TEXT NOT NULL,
		op     TEXT NOT NULL CHECK (op IN ('added', 'draining', 'removed')),
		at     INTEGER NOT NULL,
		actor  TEXT NOT NULL,
		reason TEXT NOT NULL,
		PRIMARY KEY (app, side, url)
	)`,
}

// migrate creates the version table if needed and applies the migrations the
// database lacks, each in its own transaction with its version bump. A
// database newer than this binary is refused rather than misread.
func migrate(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("creating schema_version: %w", err)
	}
	v, err := schemaVersion(ctx, db)
	if err != nil {
		return err
	}
	if v > len(migrations) {
		return fmt.Errorf("reading schema: version %d is newer than this migrate knows (%d)", v, len(migrations))
	}
	for ; v < len(migrations); v++ {
		if err := applyMigration(ctx, db, v); err != nil {
			return err
		}
	}
	return nil
}

func schemaVersion(ctx context.Context, db *sql.DB) (int, error) {
	var v int
	err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("reading schema version: %w", err)
	}
	return v, nil
}

// applyMigration runs migration v (to version v+1). It checks the version
// again inside the transaction, so two processes opening one new database
// apply each migration once.
func applyMigration(ctx context.Context, db *sql.DB, v int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrating schema to version %d: %w", v+1, err)
	}
	defer tx.Rollback()
	var cur int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&cur); err != nil {
		return fmt.Errorf("migrating schema to version %d: %w", v+1, err)
	}
	if cur > v {
		return nil
	}
	if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
		return fmt.Errorf("migrating schema to version %d: %w", v+1, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM schema_version`); err != nil {
		return fmt.Errorf("migrating schema to version %d: %w", v+1, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, v+1); err != nil {
		return fmt.Errorf("migrating schema to version %d: %w", v+1, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrating schema to version %d: %w", v+1, err)
	}
	return nil
}
