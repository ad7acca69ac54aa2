package datacheck

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// series is a FROM clause of the integers 1..n as column g, made by the
// database: generate_series, or MariaDB's sequence engine.
func series(db *DB, n int) string {
	if db.Engine() == "postgres" {
		return fmt.Sprintf("generate_series(1, %d) AS s(g)", n)
	}
	return fmt.Sprintf("(SELECT seq AS g FROM seq_1_to_%d) AS s", n)
}

// small cuts tables into many chunks and bisects them down to a few rows,
// so that a test of a few thousand rows takes every path.
var small = Options{ChunkRows: 300, LeafRows: 20, Factor: 4}

// TestCompositeKey: a key of a text and an integer column, with text that
// orders differently in the engines' collations, is cut into chunks,
// bisected and compared the same on every pairing.
func TestCompositeKey(t *testing.T) {
	for _, pr := range pairings {
		t.Run(pr.name, func(t *testing.T) {
			t.Parallel()
			_, old := testDB(t, pr.old)
			_, nw := testDB(t, pr.new)
			for _, db := range []*DB{old, nw} {
				exec(t, db, "CREATE TABLE acct (tenant varchar(20) NOT NULL, id int NOT NULL, v varchar(40), PRIMARY KEY (tenant, id))",
					"INSERT INTO acct SELECT CASE g % 7 WHEN 0 THEN 'a' WHEN 1 THEN 'B' WHEN 2 THEN 'c' WHEN 3 THEN 'é' WHEN 4 THEN 'Z' WHEN 5 THEN 'm' ELSE 'k' END, g, concat('v', g) FROM "+series(db, 3000))
			}
			exec(t, nw, "DELETE FROM acct WHERE tenant = 'é' AND id = 1501",
				"UPDATE acct SET v = NULL WHERE tenant = 'B' AND id = 8",
				"INSERT INTO acct VALUES ('é', 99999, 'x')")
			rep, err := New(old, nw, small).Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			got := rep.Tables[0]
			want := TableReport{Table: "acct", Key: []string{"tenant", "id"}, RowsOld: 3000, RowsNew: 3000,
				Missing: [][]any{{"é", jsonNum(1501)}}, Extra: [][]any{{"é", jsonNum(99999)}},
				Changed:      []Changed{{Key: []any{"B", jsonNum(8)}, Columns: []string{"v"}}},
				MissingCount: 1, ExtraCount: 1, ChangedCount: 1, Result: Differs}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("report (-want +got):\n%s", d)
			}
		})
	}
}

// TestHostileNames: table and column names with quotes, backquotes,
// spaces and SQL reach the databases quoted: the check works and drops
// nothing.
func TestHostileNames(t *testing.T) {
	for _, pr := range pairings {
		t.Run(pr.name, func(t *testing.T) {
			t.Parallel()
			_, old := testDB(t, pr.old)
			_, nw := testDB(t, pr.new)
			table := "we`ird\"; DROP TABLE x; --"
			col := "co`l\" )--"
			for _, db := range []*DB{old, nw} {
				q := db.dialect.quote
				exec(t, db, "CREATE TABLE x (id int PRIMARY KEY)",
					fmt.Sprintf("CREATE TABLE %s (%s int PRIMARY KEY, %s varchar(10))", q(table), q("i d"), q(col)),
					fmt.Sprintf("INSERT INTO %s VALUES (1, 'a'), (2, 'b')", q(table)))
			}
			exec(t, nw, fmt.Sprintf("UPDATE %s SET %s = 'c' WHERE %s = 2", nw.dialect.quote(table), nw.dialect.quote(col), nw.dialect.quote("i d")))
			rep, err := New(old, nw, Options{Tables: []Table{{Name: table}}}).Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			want := []Changed{{Key: []any{jsonNum(2)}, Columns: []string{col}}}
			if d := cmp.Diff(want, rep.Tables[0].Changed); d != "" {
				t.Errorf("changed (-want +got):\n%s", d)
			}
			exec(t, old, "SELECT * FROM x")
		})
	}
}

// TestNoKey: a table with neither a primary key nor a unique NOT NULL
// key is refused, naming it; one with a unique NOT NULL key is paired by
// it; a declared key is used as it is.
func TestNoKey(t *testing.T) {
	for _, engine := range []string{"postgres", "mysql"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			_, db := testDB(t, engine)
			exec(t, db, "CREATE TABLE nokey (a int, b int UNIQUE)",
				"CREATE TABLE ukey (a int, b int NOT NULL UNIQUE)",
				"INSERT INTO nokey VALUES (1, 1)", "INSERT INTO ukey VALUES (1, 1)")
			_, err := New(db, db, Options{Tables: []Table{{Name: "nokey"}}}).Run(context.Background())
			if !errors.Is(err, ErrNoKey) {
				t.Fatalf("nokey: got %v, want ErrNoKey", err)
			}
			t.Logf("nokey: %v", err)
			rep, err := New(db, db, Options{Tables: []Table{{Name: "ukey"}, {Name: "nokey", Key: []string{"a"}}}}).Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got := [][]string{rep.Tables[0].Key, rep.Tables[1].Key}; !cmp.Equal(got, [][]string{{"b"}, {"a"}}) {
				t.Errorf("keys %v", got)
			}
		})
	}
}

// TestIgnoreAndRound: an ignored column and a number equal once rounded
// are no difference; a number that differs once rounded is.
func TestIgnoreAndRound(t *testing.T) {
	for _, pr := range pairings {
		t.Run(pr.name, func(t *testing.T) {
			t.Parallel()
			_, old := testDB(t, pr.old)
			_, nw := testDB(t, pr.new)
			for _, db := range []*DB{old, nw} {
				exec(t, db, "CREATE TABLE p (id int PRIMARY KEY, price double precision, updated_at varchar(30))")
			}
			exec(t, old, "INSERT INTO p VALUES (1, 10.004, 'a'), (2, 10.5, 'a')")
			exec(t, nw, "INSERT INTO p VALUES (1, 10.001, 'b'), (2, 10.6, 'b')")
			opts := Options{Tables: []Table{{Name: "p", Ignore: []string{"updated_at"}, Round: map[string]int{"price": 2}}}}
			rep, err := New(old, nw, opts).Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			want := []Changed{{Key: []any{jsonNum(2)}, Columns: []string{"price"}}}
			if d := cmp.Diff(want, rep.Tables[0].Changed); d != "" {
				t.Errorf("changed (-want +got):\n%s", d)
			}
		})
	}
}

// TestKeysListedInKeyOrder: when more keys differ than MaxKeys, the
// report lists the first ones in key order (numbers as numbers: PostgreSQL
// once ordered by the selected text, listing 1, 10, 11).
func TestKeysListedInKeyOrder(t *testing.T) {
	for _, pr := range pairings {
		t.Run(pr.name, func(t *testing.T) {
			t.Parallel()
			_, old := testDB(t, pr.old)
			_, nw := testDB(t, pr.new)
			exec(t, old, "CREATE TABLE k (id int PRIMARY KEY)", "INSERT INTO k SELECT g FROM "+series(old, 20))
			exec(t, nw, "CREATE TABLE k (id int PRIMARY KEY)")
			rep, err := New(old, nw, Options{MaxKeys: 3}).Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			got := rep.Tables[0]
			if d := cmp.Diff([][]any{{jsonNum(1)}, {jsonNum(2)}, {jsonNum(3)}}, got.Missing); d != "" || got.MissingCount != 20 {
				t.Errorf("missing %d (-want +got):\n%s", got.MissingCount, d)
			}
		})
	}
}

// TestKeyTypes: keys of every kind a chunk bound may have (timestamp with
// and without zone, date, decimal, UUID) are cut, bisected and compared on
// every pairing, their bounds sent to either engine as canonical text.
func TestKeyTypes(t *testing.T) {
	keys := []struct{ name, pg, my, pgExpr, myExpr string }{
		{"ts", "timestamp(6)", "datetime(6)", "timestamp '2024-01-01' + g * interval '1.5 second'", "TIMESTAMP '2024-01-01 00:00:00' + INTERVAL g * 1500000 MICROSECOND"},
		{"tz", "timestamptz", "timestamp(6)", "timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute'", "TIMESTAMP '2024-01-01 00:00:00' + INTERVAL g MINUTE"},
		{"d", "date", "date", "date '2000-01-01' + g", "DATE '2000-01-01' + INTERVAL g DAY"},
		{"n", "numeric(10,2)", "decimal(10,2)", "g / 4.0", "g / 4.0"},
		{"u", "uuid", "char(36)", "md5(g::text)::uuid", "LOWER(CONCAT_WS('-', SUBSTR(MD5(g),1,8), SUBSTR(MD5(g),9,4), SUBSTR(MD5(g),13,4), SUBSTR(MD5(g),17,4), SUBSTR(MD5(g),21,12)))"},
	}
	for _, pr := range pairings {
		t.Run(pr.name, func(t *testing.T) {
			t.Parallel()
			_, old := testDB(t, pr.old)
			_, nw := testDB(t, pr.new)
			for _, k := range keys {
				for _, db := range []*DB{old, nw} {
					pg := db.Engine() == "postgres"
					exec(t, db, fmt.Sprintf("CREATE TABLE k_%s (k %s NOT NULL PRIMARY KEY, g int)", k.name, pick(pg, k.pg, k.my)),
						fmt.Sprintf("INSERT INTO k_%s SELECT %s, g FROM %s", k.name, pick(pg, k.pgExpr, k.myExpr), series(db, 1500)))
				}
				exec(t, nw, fmt.Sprintf("UPDATE k_%s SET g = -1 WHERE g = 777", k.name), fmt.Sprintf("DELETE FROM k_%s WHERE g = 1234", k.name))
			}
			rep, err := New(old, nw, small).Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, tr := range rep.Tables {
				if tr.ChangedCount != 1 || tr.MissingCount != 1 || tr.ExtraCount != 0 || tr.RowsOld != 1500 {
					t.Errorf("%s: %d rows, changed %v, missing %v, extra %v", tr.Table, tr.RowsOld, tr.Changed, tr.Missing, tr.Extra)
				}
			}
		})
	}
}
