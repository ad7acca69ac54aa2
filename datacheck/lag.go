package datacheck

import (
	"context"
	"database/sql"
	"fmt"
)

// replicationLag reads how far d, a replica, is behind its primary:
// PostgreSQL's time since the last replayed transaction on a standby,
// MySQL's and MariaDB's Seconds_Behind_Master (or _Source) of SHOW
// REPLICA STATUS. Nil when d is not a replica or does not say.
func (d *DB) replicationLag(ctx context.Context) *Seconds {
	if d.dialect.engine() == "postgres" {
		var lag sql.NullFloat64
		q := `SELECT CASE WHEN pg_is_in_recovery() THEN extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END`
		if d.sql.QueryRowContext(ctx, q).Scan(&lag) != nil || !lag.Valid {
			return nil
		}
		s := Seconds(lag.Float64)
		return &s
	}
	return d.mysqlLag(ctx)
}

func (d *DB) mysqlLag(ctx context.Context) *Seconds {
	rows, err := d.sql.QueryContext(ctx, "SHOW REPLICA STATUS")
	if err != nil {
		return nil
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil || !rows.Next() {
		return nil
	}
	vals := make([]sql.NullString, len(cols))
	dest := make([]any, len(cols))
	for i := range vals {
		dest[i] = &vals[i]
	}
	if rows.Scan(dest...) != nil {
		return nil
	}
	for i, c := range cols {
		if (c == "Seconds_Behind_Master" || c == "Seconds_Behind_Source") && vals[i].Valid {
			var s Seconds
			if _, err := fmt.Sscan(vals[i].String, &s); err == nil {
				return &s
			}
		}
	}
	return nil
}
