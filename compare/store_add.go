package compare

import (
	"context"
	"fmt"
	"slices"
)

// Bounds on the differences stored with a pair.
const (
	maxStoredDiffsPerField = 5
	maxStoredDiffs         = 200
)

// Add stores p, redacted, as an example of each distinct Field of r.Diffs
// that wants one: a field with fewer than PerField examples, or a full
// field when the pair is at least MinInterval newer than its newest
// example (the oldest then goes, in the same transaction). A pair with no
// differences, or none wanted, costs a map lookup and no write, and never
// waits for a write in progress.
func (s *Store) Add(ctx context.Context, p Pair, r Result) error {
	app, endpoint := firstNonEmpty(r.App, p.App), firstNonEmpty(r.Endpoint, p.Endpoint)
	key := exampleKey{app: app, direction: Direction(firstNonEmpty(string(r.Direction), string(p.Direction))).Norm(), endpoint: endpoint}
	at := p.At
	if at.IsZero() {
		at = s.opts.Clock.Now()
	}
	fields := distinctFields(r.Diffs)
	if len(fields) == 0 {
		return nil
	}
	plan := s.plan(key, fields, at.UnixNano())
	if len(plan) == 0 {
		return nil
	}
	row, err := s.encode(p, r, at.UnixNano())
	if err != nil {
		return fmt.Errorf("storing example of %s %s: %w", app, endpoint, err)
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	// Another Add may have filled these fields while this one encoded.
	fields = fields[:0]
	for _, pl := range plan {
		fields = append(fields, pl.field)
	}
	if plan = s.plan(key, fields, row.at); len(plan) == 0 {
		return nil
	}
	if err := s.write(ctx, key, plan, row); err != nil {
		return fmt.Errorf("storing example of %s %s: %w", app, endpoint, err)
	}
	return nil
}

// plannedExample is a field that takes the pair as an example; full says
// its oldest example then goes.
type plannedExample struct {
	field string
	full  bool
}

// plan returns the fields of key's endpoint that take this pair as an
// example, counting the others as skipped or refused.
func (s *Store) plan(key exampleKey, fields []string, at int64) []plannedExample {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []plannedExample
	grow := 0 // examples the planned fields add to s.total
	for _, f := range fields {
		key.field = f
		st := s.keys[key]
		full := st.n >= s.opts.PerField
		switch {
		case full && at < st.newest+int64(s.opts.MinInterval):
			s.stats.Skipped++
		case !full && s.total+grow >= s.opts.MaxExamples:
			s.stats.Refused++
		default:
			if !full {
				grow++
			}
			out = append(out, plannedExample{f, full})
		}
	}
	return out
}

// write inserts the pair and one example per planned field, trimming full
// fields, in one transaction, then records the new state of the keys. The
// caller holds s.writeMu.
func (s *Store) write(ctx context.Context, key exampleKey, plan []plannedExample, row *pairRow) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.StmtContext(ctx, s.insertPair).ExecContext(ctx, row.args()...)
	if err != nil {
		return err
	}
	pairID, err := res.LastInsertId()
	if err != nil {
		return err
	}
	ins, trim := tx.StmtContext(ctx, s.insertExample), tx.StmtContext(ctx, s.trim)
	added := 0
	for _, pl := range plan {
		if _, err := ins.ExecContext(ctx, key.app, key.direction, key.endpoint, pl.field, row.at, pairID); err != nil {
			return err
		}
		added++
		if !pl.full {
			continue
		}
		res, err := trim.ExecContext(ctx, key.app, key.direction, key.endpoint, pl.field, s.opts.PerField)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		added -= int(n)
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, pl := range plan {
		k := key
		k.field = pl.field
		st := s.keys[k]
		st.n = min(st.n+1, s.opts.PerField)
		st.newest = max(st.newest, row.at)
		s.keys[k] = st
	}
	s.total += added
	s.stats.Stored += uint64(len(plan))
	return nil
}

// distinctFields returns the Fields of diffs, each once, in order.
func distinctFields(diffs []Difference) []string {
	var out []string
	for _, d := range diffs {
		if !slices.Contains(out, d.Field) {
			out = append(out, d.Field)
		}
	}
	return out
}

// storedDiffs keeps at most maxStoredDiffsPerField differences of each
// field and maxStoredDiffs in all, in order.
func storedDiffs(diffs []Difference) []storedDiff {
	out := make([]storedDiff, 0, min(len(diffs), maxStoredDiffs))
	perField := map[string]int{}
	for _, d := range diffs {
		if len(out) == maxStoredDiffs {
			break
		}
		if perField[d.Field] == maxStoredDiffsPerField {
			continue
		}
		perField[d.Field]++
		out = append(out, storedDiff{Kind: d.Kind, Path: d.Path, Field: d.Field, Primary: d.Primary, Candidate: d.Candidate})
	}
	return out
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
