package datacheck

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// createLarge creates table big with n rows made by the database itself.
func createLarge(t testing.TB, db *DB, n int) {
	exec(t, db, "CREATE TABLE big (id bigint PRIMARY KEY, name varchar(40) NOT NULL, amount numeric(12,2), at timestamp NULL)",
		fmt.Sprintf("INSERT INTO big SELECT g, concat('name-', g), g / 100.0, %s FROM %s", tsExpr(db), series(db, n)))
	if db.Engine() == "postgres" {
		exec(t, db, "ANALYZE big")
	}
}

// tsExpr is a timestamp that depends on g, on db's engine.
func tsExpr(db *DB) string {
	if db.Engine() == "postgres" {
		return "timestamp '2024-01-01' + g * interval '1 second'"
	}
	return "TIMESTAMP '2024-01-01 00:00:00' + INTERVAL g SECOND"
}

// TestMillionRows: a 1,000,000-row table copied from MySQL to
// PostgreSQL, with one row changed, one missing and one extra: each is
// found, with its key and column.
func TestMillionRows(t *testing.T) {
	t.Parallel()
	_, old := testDB(t, "mysql")
	_, nw := testDB(t, "postgres")
	createLarge(t, old, 1_000_000)
	createLarge(t, nw, 1_000_000)
	exec(t, nw, "UPDATE big SET amount = amount + 0.01 WHERE id = 654321",
		"DELETE FROM big WHERE id = 3", "INSERT INTO big VALUES (1000001, 'x', 1, NULL)")
	rep, err := New(old, nw, Options{}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := TableReport{Table: "big", Key: []string{"id"}, RowsOld: 1_000_000, RowsNew: 1_000_000,
		Missing: [][]any{{jsonNum(3)}}, Extra: [][]any{{jsonNum(1000001)}},
		Changed:      []Changed{{Key: []any{jsonNum(654321)}, Columns: []string{"amount"}}},
		MissingCount: 1, ExtraCount: 1, ChangedCount: 1, Result: Differs}
	if d := cmp.Diff(want, rep.Tables[0]); d != "" {
		t.Errorf("report (-want +got):\n%s", d)
	}
	t.Logf("checked 2 x %d rows in %.1fs", rep.Tables[0].RowsOld, rep.Duration)
}
