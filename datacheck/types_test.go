package datacheck

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// typedColumn is one supported type on both engines, with one value and
// another value written in each engine's SQL.
type typedColumn struct {
	name           string
	pgType, myType string
	pgVal, myVal   string
	pgNew, myNew   string
}

var typedColumns = []typedColumn{
	{"i", "bigint", "bigint", "-9007199254740993", "-9007199254740993", "7", "7"},
	{"s", "smallint", "smallint", "-32768", "-32768", "1", "1"},
	{"d", "numeric(12,2)", "decimal(12,2)", "1234.50", "1234.5", "1234.51", "1234.51"},
	{"f", "double precision", "double", "1e20", "1e20", "1.5e-7", "1.5e-7"},
	{"b", "boolean", "boolean", "true", "1", "false", "0"},
	{"t", "text", "text", "'héllo ✓ | x'", "'héllo ✓ | x'", "'héllo ✓ | y'", "'héllo ✓ | y'"},
	{"vc", "varchar(50)", "varchar(50)", "'Ab'", "'Ab'", "'ab'", "'ab'"},
	{"ts", "timestamp(6)", "datetime(6)", "'2024-03-01 12:34:56.123456'", "'2024-03-01 12:34:56.123456'", "'2024-03-01 12:34:56.123457'", "'2024-03-01 12:34:56.123457'"},
	{"tz", "timestamptz", "timestamp(6) NULL", "'2024-03-01 12:34:56.5+02'", "'2024-03-01 10:34:56.5'", "'2024-03-01 12:34:56.5+01'", "'2024-03-01 11:34:56.5'"},
	{"dt", "date", "date", "'2024-02-29'", "'2024-02-29'", "'2024-03-01'", "'2024-03-01'"},
	{"bin", "bytea", "varbinary(100)", `'\x00ff10'::bytea`, "X'00ff10'", `'\x00ff11'::bytea`, "X'00ff11'"},
	{"js", "jsonb", "json", `'{"b": [1, 2.5], "a": "x"}'`, `'{"a": "x", "b": [1, 2.5]}'`, `'{"a": "x", "b": [1, 2.6]}'`, `'{"a": "x", "b": [1, 2.6]}'`},
	{"u", "uuid", "char(36)", "'0b7e6f0e-59c5-4b9f-9b65-0c1a2f3e4d5c'", "'0b7e6f0e-59c5-4b9f-9b65-0c1a2f3e4d5c'", "'1b7e6f0e-59c5-4b9f-9b65-0c1a2f3e4d5c'", "'1b7e6f0e-59c5-4b9f-9b65-0c1a2f3e4d5c'"},
}

// createTyped creates table typed on db with a key and every typed column,
// and fills it: row 0 with NULLs, row i (from 1) with every value.
func createTyped(t *testing.T, db *DB, rows int) {
	pg := db.Engine() == "postgres"
	cols := []string{"id int PRIMARY KEY"}
	for _, c := range typedColumns {
		cols = append(cols, fmt.Sprintf("%s %s", c.name, pick(pg, c.pgType, c.myType)))
	}
	exec(t, db, "CREATE TABLE typed ("+strings.Join(cols, ", ")+")")
	exec(t, db, "INSERT INTO typed (id) VALUES (0)")
	for i := 1; i <= rows; i++ {
		vals := []string{fmt.Sprint(i)}
		for _, c := range typedColumns {
			vals = append(vals, pick(pg, c.pgVal, c.myVal))
		}
		exec(t, db, "INSERT INTO typed VALUES ("+strings.Join(vals, ", ")+")")
	}
}

func pick(pg bool, a, b string) string {
	if pg {
		return a
	}
	return b
}

// TestTypes: the same values written on both sides, on every pairing,
// are in sync (NULLs included); a changed value of any type is found, in
// its row and its column only.
func TestTypes(t *testing.T) {
	for _, pr := range pairings {
		t.Run(pr.name, func(t *testing.T) {
			t.Parallel()
			_, old := testDB(t, pr.old)
			_, nw := testDB(t, pr.new)
			createTyped(t, old, len(typedColumns))
			createTyped(t, nw, len(typedColumns))
			rep, err := New(old, nw, Options{}).Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if rep.Result != InSync {
				t.Fatalf("equal tables: %s: %+v", rep.Result, rep.Tables[0])
			}
			assertSameChecksum(t, old, nw, "typed")
			var want []Changed
			for i, c := range typedColumns {
				exec(t, nw, fmt.Sprintf("UPDATE typed SET %s = %s WHERE id = %d", c.name, pick(nw.Engine() == "postgres", c.pgNew, c.myNew), i+1))
				want = append(want, Changed{Key: []any{jsonNum(i + 1)}, Columns: []string{c.name}})
			}
			exec(t, nw, "UPDATE typed SET t = '' WHERE id = 0") // NULL against empty text
			want = append([]Changed{{Key: []any{jsonNum(0)}, Columns: []string{"t"}}}, want...)
			rep, err = New(old, nw, Options{}).Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, sortedChanged(rep.Tables[0].Changed)); d != "" {
				t.Errorf("changed (-want +got):\n%s", d)
			}
		})
	}
}

// assertSameChecksum checks that equal tables have equal checksums on
// both sides, so that no rows were fetched to find them equal: the
// canonical texts are the same on both engines.
func assertSameChecksum(t *testing.T, old, nw *DB, table string) {
	t.Helper()
	ctx := context.Background()
	p, err := resolve(ctx, old, nw, Table{Name: table})
	if err != nil {
		t.Fatal(err)
	}
	so, err := p.old.checksum(ctx, span{})
	if err != nil {
		t.Fatal(err)
	}
	sn, err := p.new.checksum(ctx, span{})
	if err != nil {
		t.Fatal(err)
	}
	if so != sn {
		t.Errorf("checksums of equal tables differ: old %+v, new %+v", so, sn)
	}
}

// TestEveryColumnInChecksum: a change to any one column of any type (and
// from a value to NULL) changes the chunk's checksum, on every pairing
// and so with every hash (MD5 across engines, each engine's own within
// one); JSON across engines, which no checksum covers, is found in the
// rows, which are all fetched.
func TestEveryColumnInChecksum(t *testing.T) {
	for _, pr := range pairings {
		t.Run(pr.name, func(t *testing.T) {
			t.Parallel()
			_, old := testDB(t, pr.old)
			_, nw := testDB(t, pr.new)
			createTyped(t, old, 1)
			createTyped(t, nw, 1)
			ctx := context.Background()
			p, err := resolve(ctx, old, nw, Table{Name: "typed"})
			if err != nil {
				t.Fatal(err)
			}
			want, err := p.old.checksum(ctx, span{})
			if err != nil {
				t.Fatal(err)
			}
			pg := nw.Engine() == "postgres"
			for _, c := range typedColumns {
				for _, v := range []string{pick(pg, c.pgNew, c.myNew), "NULL"} {
					exec(t, nw, fmt.Sprintf("UPDATE typed SET %s = %s WHERE id = 1", c.name, v))
					got, err := p.new.checksum(ctx, span{})
					if err != nil {
						t.Fatal(err)
					}
					if got == want && (!slices.Contains([]string{"js", "f"}, c.name) || pr.old == pr.new) {
						t.Errorf("%s = %s: checksum unchanged", c.name, v)
					}
					rep, err := New(old, nw, Options{}).Run(ctx)
					if err != nil {
						t.Fatal(err)
					}
					if ch := rep.Tables[0].Changed; len(ch) != 1 || !cmp.Equal(ch[0].Columns, []string{c.name}) {
						t.Errorf("%s = %s: changed %v", c.name, v, ch)
					}
				}
				exec(t, nw, fmt.Sprintf("UPDATE typed SET %s = %s WHERE id = 1", c.name, pick(pg, c.pgVal, c.myVal)))
				if got, _ := p.new.checksum(ctx, span{}); got != want && (!slices.Contains([]string{"js", "f"}, c.name) || pr.old == pr.new) {
					t.Errorf("%s restored: checksum %v, want %v", c.name, got, want)
				}
			}
		})
	}
}
