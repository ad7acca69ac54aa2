package datacheck

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// ErrNoKey is wrapped by the error about a table with neither a primary
// key nor a unique key over NOT NULL columns: its rows cannot be paired.
var ErrNoKey = errors.New("no primary key or unique NOT NULL key")

// ErrSchema is wrapped by the errors about tables that cannot be compared
// as they are: missing on a side, a key column of an unsupported type, a
// declared key or column that does not exist.
var ErrSchema = errors.New("tables cannot be compared")

// DB is one side's database.
type DB struct {
	sql     *sql.DB
	dialect dialect
	name    string // the DSN without its password

	versionOnce sync.Once
	records     bool // PostgreSQL 14 or later: hash_record_extended
}

// hashRecords tells whether d can hash a record by its types' hash
// functions (PostgreSQL 14 or later); asked once.
func (d *DB) hashRecords(ctx context.Context) bool {
	d.versionOnce.Do(func() {
		if d.dialect.engine() != "postgres" {
			return
		}
		var v int
		err := d.sql.QueryRowContext(ctx, "SELECT current_setting('server_version_num')::int").Scan(&v)
		d.records = err == nil && v >= 140000
	})
	return d.records
}

// Close closes the database's connections.
func (d *DB) Close() error { return d.sql.Close() }

// Engine is "postgres" or "mysql".
func (d *DB) Engine() string { return d.dialect.engine() }

// String is the DSN without its password.
func (d *DB) String() string { return d.name }

// SQL is the database/sql handle, for callers that set a database up.
func (d *DB) SQL() *sql.DB { return d.sql }

// Tables lists the base tables of the connection's schema (PostgreSQL's
// current schema, MySQL's database).
func (d *DB) Tables(ctx context.Context) ([]string, error) {
	rows, err := d.sql.QueryContext(ctx, d.dialect.tablesSQL())
	if err != nil {
		return nil, fmt.Errorf("listing tables of %s: %w", d.name, err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("listing tables of %s: %w", d.name, err)
		}
		names = append(names, n)
	}
	return names, closeRows(rows, "listing tables of "+d.name)
}

func closeRows(rows *sql.Rows, what string) error {
	if err := rows.Err(); err != nil {
		rows.Close()
		return fmt.Errorf("%s: %w", what, err)
	}
	return rows.Close()
}

// columns reads table's columns, in order; none when it does not exist.
func (d *DB) columns(ctx context.Context, table string) ([]column, error) {
	rows, err := d.sql.QueryContext(ctx, d.dialect.columnsSQL(), table)
	if err != nil {
		return nil, fmt.Errorf("reading columns of %s on %s: %w", table, d.name, err)
	}
	var cols []column
	for rows.Next() {
		var c column
		var colType string
		dest := []any{&c.Name, &c.Type, &c.Scale}
		if d.dialect.engine() == "mysql" {
			dest = []any{&c.Name, &c.Type, &colType, &c.Scale}
		}
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return nil, fmt.Errorf("reading columns of %s on %s: %w", table, d.name, err)
		}
		c.Kind = pgKind(c.Type)
		if colType != "" {
			c.Kind, c.Type = mysqlKind(c.Type, colType), colType
		}
		cols = append(cols, c)
	}
	return cols, closeRows(rows, "reading columns of "+table)
}

// key finds table's key: its primary key, else its first unique index
// over NOT NULL columns with the fewest columns.
func (d *DB) key(ctx context.Context, table string) ([]string, error) {
	rows, err := d.sql.QueryContext(ctx, d.dialect.keysSQL(), table)
	if err != nil {
		return nil, fmt.Errorf("reading keys of %s on %s: %w", table, d.name, err)
	}
	type index struct {
		cols             []string
		primary, notNull bool
	}
	var order []string
	byName := map[string]*index{}
	for rows.Next() {
		var name, col string
		var primary, notNull bool
		if err := rows.Scan(&name, &primary, &col, &notNull); err != nil {
			rows.Close()
			return nil, fmt.Errorf("reading keys of %s on %s: %w", table, d.name, err)
		}
		ix := byName[name]
		if ix == nil {
			ix = &index{primary: primary, notNull: true}
			byName[name] = ix
			order = append(order, name)
		}
		ix.cols = append(ix.cols, col)
		ix.notNull = ix.notNull && (notNull || primary)
	}
	if err := closeRows(rows, "reading keys of "+table); err != nil {
		return nil, err
	}
	var best []string
	for _, name := range order {
		ix := byName[name]
		if ix.primary {
			return ix.cols, nil
		}
		if ix.notNull && (best == nil || len(ix.cols) < len(best)) {
			best = ix.cols
		}
	}
	return best, nil
}

// findColumn returns the column named name, or false.
func findColumn(cols []column, name string) (column, bool) {
	i := slices.IndexFunc(cols, func(c column) bool { return c.Name == name })
	if i < 0 {
		return column{}, false
	}
	return cols[i], true
}
