package datacheck

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// benchRows is DATACHECK_BENCH_ROWS, the rows of the benchmarks' table
// (default 1,000,000); benchPairs is DATACHECK_BENCH_PAIRS, the pairings
// run (default every one of old-new: pg-pg mysql-mysql mysql-pg).
func benchRows() int {
	n, err := strconv.Atoi(os.Getenv("DATACHECK_BENCH_ROWS"))
	if err != nil || n <= 0 {
		return 1_000_000
	}
	return n
}

func benchPairs() []string {
	if s := os.Getenv("DATACHECK_BENCH_PAIRS"); s != "" {
		return strings.Fields(s)
	}
	return []string{"pg-pg", "mysql-mysql", "mysql-pg"}
}

// BenchmarkDatacheck measures, per pairing on one table of benchRows rows
// made by the databases: the check of in-sync tables (rows per second per
// side, the databases' checksum work included), the naive baseline that
// streams every row of both sides into Go and compares them, and the time
// to find one changed row, after one unmeasured check that reads every
// row. scripts/bench/datacheck runs it.
func BenchmarkDatacheck(b *testing.B) {
	n := benchRows()
	for _, name := range benchPairs() {
		var pr struct{ name, old, new string }
		for _, p := range pairings {
			if p.name == name {
				pr = p
			}
		}
		if pr.name == "" {
			b.Fatalf("DATACHECK_BENCH_PAIRS: unknown pairing %q", name)
		}
		b.Run(name, func(b *testing.B) {
			_, old := testDB(b, pr.old)
			_, nw := testDB(b, pr.new)
			start := time.Now()
			createLarge(b, old, n)
			createLarge(b, nw, n)
			b.Logf("%s: made 2 x %d rows in %s", name, n, time.Since(start).Round(time.Second))
			ctx := context.Background()
			// Warm up: every row read once on both sides, so that neither
			// measure pays for cold pages or the purge after the inserts.
			if _, err := New(old, nw, Options{}).Run(ctx); err != nil {
				b.Fatal(err)
			}
			b.Run("checksum", func(b *testing.B) {
				for b.Loop() {
					rep, err := New(old, nw, Options{}).Run(ctx)
					if err != nil || rep.Result != InSync {
						b.Fatalf("%v %s", err, rep.Result)
					}
				}
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s/side")
			})
			b.Run("naive", func(b *testing.B) {
				p, err := resolve(ctx, old, nw, Table{Name: "big"})
				if err != nil {
					b.Fatal(err)
				}
				for b.Loop() {
					if diffs, err := naive(ctx, p); err != nil || diffs != 0 {
						b.Fatalf("%v, %d differences", err, diffs)
					}
				}
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s/side")
			})
			exec(b, nw, fmt.Sprintf("UPDATE big SET name = 'changed' WHERE id = %d", n*2/3))
			b.Run("one-changed", func(b *testing.B) {
				for b.Loop() {
					rep, err := New(old, nw, Options{}).Run(ctx)
					if err != nil || rep.Tables[0].ChangedCount != 1 || rep.Tables[0].Changed[0].Columns[0] != "name" {
						b.Fatalf("%v %+v", err, rep.Tables)
					}
				}
				b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/find")
			})
		})
	}
}

// naive is the baseline: every row of both sides, in key order, streamed
// into Go and compared column by column (a merge join on an integer key).
func naive(ctx context.Context, p *plan) (int, error) {
	ro, err := naiveRows(ctx, p.old)
	if err != nil {
		return 0, err
	}
	defer ro.Close()
	rn, err := naiveRows(ctx, p.new)
	if err != nil {
		return 0, err
	}
	defer rn.Close()
	width := len(p.Cols)
	a, b := make([]sql.NullString, width), make([]sql.NullString, width)
	okA, okB := scanNext(ro, a), scanNext(rn, b)
	diffs := 0
	for okA || okB {
		ka, kb := keyInt(a, okA), keyInt(b, okB)
		switch {
		case ka < kb:
			diffs++
			okA = scanNext(ro, a)
		case kb < ka:
			diffs++
			okB = scanNext(rn, b)
		default:
			for i := range a {
				if a[i] != b[i] {
					diffs++
					break
				}
			}
			okA, okB = scanNext(ro, a), scanNext(rn, b)
		}
	}
	return diffs, errorsJoin(ro.Err(), rn.Err())
}

func naiveRows(ctx context.Context, s side) (*sql.Rows, error) {
	return s.db.sql.QueryContext(ctx, "SELECT "+aliased(s.cols)+" FROM "+s.from+" ORDER BY "+strings.Join(s.order, ", "))
}

func scanNext(rows *sql.Rows, dest []sql.NullString) bool {
	if !rows.Next() {
		return false
	}
	ptrs := make([]any, len(dest))
	for i := range dest {
		ptrs[i] = &dest[i]
	}
	return rows.Scan(ptrs...) == nil
}

func keyInt(row []sql.NullString, ok bool) int64 {
	if !ok {
		return 1<<63 - 1
	}
	v, _ := strconv.ParseInt(row[0].String, 10, 64)
	return v
}
