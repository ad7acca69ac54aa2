package datacheck

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jonboulle/clockwork"
)

// copier copies the rows of table live that old has and new lacks, as
// replication would, every tick until stopped.
type copier struct {
	old, new *DB
	skip     map[int64]bool // never copied: diverged rows
}

func (c *copier) copyOnce(ctx context.Context) error {
	var max sql.NullInt64
	if err := c.new.sql.QueryRowContext(ctx, "SELECT max(id) FROM live").Scan(&max); err != nil {
		return err
	}
	rows, err := c.old.sql.QueryContext(ctx, c.oldQuery(), max.Int64)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			return err
		}
		if c.skip[id] {
			continue
		}
		if _, err := c.new.sql.ExecContext(ctx, c.newInsert(), id, name); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (c *copier) oldQuery() string {
	return fmt.Sprintf("SELECT id, name FROM live WHERE id > %s OR id = 0 ORDER BY id", c.old.dialect.placeholder(1))
}

func (c *copier) newInsert() string {
	return fmt.Sprintf("INSERT INTO live VALUES (%s, %s)", c.new.dialect.placeholder(1), c.new.dialect.placeholder(2))
}

// TestWritesDuringCheck: rows are inserted on old and copied to new while
// the check runs. Rows in flight when their chunk is checked converge
// within the settle time and count as lagging, not missing; a row new
// never gets is diverged.
func TestWritesDuringCheck(t *testing.T) {
	for _, pr := range []struct{ name, old, new string }{{"pg-pg", "postgres", "postgres"}, {"mysql-pg", "mysql", "postgres"}} {
		t.Run(pr.name, func(t *testing.T) {
			t.Parallel()
			_, old := testDB(t, pr.old)
			_, nw := testDB(t, pr.new)
			for _, db := range []*DB{old, nw} {
				exec(t, db, "CREATE TABLE live (id bigint PRIMARY KEY, name varchar(40) NOT NULL)",
					"INSERT INTO live SELECT g, concat('n', g) FROM "+series(db, 20000))
			}
			exec(t, nw, "DELETE FROM live WHERE id = 5")       // diverged: never copied back
			exec(t, old, "INSERT INTO live VALUES (0, 'lag')") // lagging: copied after the first pass
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cp := &copier{old: old, new: nw, skip: map[int64]bool{0: true}}
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { // the app writing on old
				defer wg.Done()
				for id := 20001; ctx.Err() == nil; id++ {
					old.sql.ExecContext(ctx, fmt.Sprintf("INSERT INTO live VALUES (%d, 'w%d')", id, id))
				}
			}()
			go func() { // replication, behind
				defer wg.Done()
				for ctx.Err() == nil {
					cp.copyOnce(ctx)
					time.Sleep(20 * time.Millisecond)
				}
			}()
			clock := clockwork.NewFakeClock()
			opts := small
			opts.Settle, opts.Clock, opts.Tables = 5*time.Second, clock, []Table{{Name: "live"}}
			type result struct {
				rep Report
				err error
			}
			done := make(chan result, 1)
			go func() {
				rep, err := New(old, nw, opts).Run(context.Background())
				done <- result{rep, err}
			}()
			if err := clock.BlockUntilContext(ctx, 1); err != nil { // the first pass is over
				t.Fatal(err)
			}
			cancel()
			wg.Wait()
			delete(cp.skip, 0)
			if err := cp.copyOnce(context.Background()); err != nil { // replication catches up
				t.Fatal(err)
			}
			clock.Advance(opts.Settle)
			r := <-done
			if r.err != nil {
				t.Fatal(r.err)
			}
			got := r.rep.Tables[0]
			if d := cmp.Diff([][]any{{jsonNum(5)}}, got.Missing); d != "" || got.ExtraCount+got.ChangedCount > 0 {
				t.Errorf("missing (-want +got):\n%s\nextra %v changed %v", d, got.Extra, got.Changed)
			}
			if got.Lagging < 1 || r.rep.Verdict != Diverged || r.rep.Result != Differs {
				t.Errorf("lagging %d, verdict %s, result %s; want >= 1, diverged, differs", got.Lagging, r.rep.Verdict, r.rep.Result)
			}
			t.Logf("%d rows on old, %d lagging", got.RowsOld, got.Lagging)
		})
	}
}
