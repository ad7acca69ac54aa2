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
// differences, or none wanted, costs a map lookup and no write.
func (s *Store) Add(ctx context.Context, p Pair, r Result) error {
	app, endpoint := firstNonEmpty(r.App, p.App), firstNonEmpty(r.Endpoint, p.Endpoint)
	at := p.At
	if at.IsZero() {
		at = s.opts.Clock.Now()
	}
	fields := distinctFields(r.Diffs)
	if len(fields) == 0 {
		return nil
	}
	s.mu.Lock()
	fields = s.wanted(app, endpoint, fields, at.UnixNano())
	s.mu.Unlock()
	if len(fields) == 0 {
		return nil
	}
	row, err := s.encode(p, r, at.UnixNano())
	if err != nil {
		return fmt.Errorf("storing example of %s %s: %w", app, endpoint, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Another Add may have filled these fields while this one encoded.
	if fields = s.wanted(app, endpoint, fields, row.at); len(fields) == 0 {
		return nil
	}
	if err := s.write(ctx, app, endpoint, fields, row); err != nil {
		return fmt.Errorf("storing example of %s %s: %w", app, endpoint, err)
	}
	return nil
}

// wanted returns the fields that take this pair as an example, counting
// the others as skipped or refused. The caller holds s.mu.
func (s *Store) wanted(app, endpoint string, fields []string, at int64) []string {
	out := fields[:0:0]
	grow := 0 // examples the kept fields add to s.total
	for _, f := range fields {
		st := s.keys[exampleKey{app, endpoint, f}]
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
			out = append(out, f)
		}
	}
	return out
}

// write inserts the pair and one example per field, trimming full fields,
// in one transaction. The caller holds s.mu.
func (s *Store) write(ctx context.Context, app, endpoint string, fields []string, row *pairRow) error {
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
	for _, f := range fields {
		if _, err := ins.ExecContext(ctx, app, endpoint, f, row.at, pairID); err != nil {
			return err
		}
		added++
		if s.keys[exampleKey{app, endpoint, f}].n < s.opts.PerField {
			continue
		}
		res, err := trim.ExecContext(ctx, app, endpoint, f, s.opts.PerField)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		added -= int(n)
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	for _, f := range fields {
		k := exampleKey{app, endpoint, f}
		st := s.keys[k]
		st.n = min(st.n+1, s.opts.PerField)
		st.newest = max(st.newest, row.at)
		s.keys[k] = st
	}
	s.total += added
	s.stats.Stored += uint64(len(fields))
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
