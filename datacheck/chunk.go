package datacheck

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
)

// bound is a key tuple in canonical text; nil is unbounded.
type bound []string

// span is a range of keys: from lo (inclusive) to hi (exclusive).
type span struct{ lo, hi bound }

// sum is a span's row count and checksum on one side.
type sum struct {
	rows int64
	hash uint64
}

// where is the SQL condition of sp on s, with its arguments, placeholders
// numbered from 1.
func (s side) where(sp span) (string, []any) {
	var conds []string
	var args []any
	d := s.db.dialect
	tuple := func(op string, b bound) {
		ph := make([]string, len(b))
		for i, v := range b {
			args = append(args, v)
			ph[i] = d.placeholder(len(args))
		}
		conds = append(conds, fmt.Sprintf("%s %s %s", row(s.order), op, row(ph)))
	}
	if sp.lo != nil {
		tuple(">=", sp.lo)
	}
	if sp.hi != nil {
		tuple("<", sp.hi)
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// row is a row constructor of exprs, or the one expression alone.
func row(exprs []string) string {
	if len(exprs) == 1 {
		return exprs[0]
	}
	return "(" + strings.Join(exprs, ", ") + ")"
}

// checksum is sp's count and checksum on s, computed by its database.
func (s side) checksum(ctx context.Context, sp span) (sum, error) {
	w, args := s.where(sp)
	sel := s.db.dialect.checksum(s.text, s.fast)
	if s.record != "" {
		sel = s.record
	}
	q := "SELECT " + sel + " FROM " + s.from + w
	var rows int64
	var hash string
	if err := s.db.sql.QueryRowContext(ctx, q, args...).Scan(&rows, &hash); err != nil {
		return sum{}, fmt.Errorf("checksumming %s on %s: %w", s.from, s.db, err)
	}
	h, err := parseHash(hash)
	if err != nil {
		return sum{}, fmt.Errorf("checksumming %s on %s: %w", s.from, s.db, err)
	}
	return sum{rows: rows, hash: h}, nil
}

// parseHash reads a 64-bit XOR as PostgreSQL (signed) or MySQL
// (unsigned) returns it.
func parseHash(s string) (uint64, error) {
	if strings.HasPrefix(s, "-") {
		v, err := strconv.ParseInt(s, 10, 64)
		return uint64(v), err
	}
	return strconv.ParseUint(s, 10, 64)
}

// intRange is the smallest and largest value of a single integer key on
// s, or ok false when the table is empty.
func (s side) intRange(ctx context.Context) (lo, hi int64, ok bool, err error) {
	q := fmt.Sprintf("SELECT min(%s), max(%s) FROM %s", s.order[0], s.order[0], s.from)
	var mn, mx sql.NullInt64
	if err := s.db.sql.QueryRowContext(ctx, q).Scan(&mn, &mx); err != nil {
		return 0, 0, false, fmt.Errorf("reading the key range of %s on %s: %w", s.from, s.db, err)
	}
	return mn.Int64, mx.Int64, mn.Valid, nil
}

// cuts returns the keys of every step-th row of sp on s, in key order:
// the bounds that cut sp into parts of step rows.
func (s side) cuts(ctx context.Context, sp span, step int64) ([]bound, error) {
	w, args := s.where(sp)
	q := fmt.Sprintf("SELECT %s FROM (SELECT %s, row_number() OVER (ORDER BY %s) AS dc_rn FROM %s%s) dc WHERE dc_rn %% %d = 1 AND dc_rn > 1 ORDER BY dc_rn",
		strings.Join(aliases(len(s.keys)), ", "), aliased(s.keys), strings.Join(s.order, ", "), s.from, w, step)
	rows, err := s.db.sql.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("cutting %s into chunks on %s: %w", s.from, s.db, err)
	}
	var out []bound
	for rows.Next() {
		b := make(bound, len(s.keys))
		dest := make([]any, len(b))
		for i := range b {
			dest[i] = &b[i]
		}
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return nil, fmt.Errorf("cutting %s into chunks on %s: %w", s.from, s.db, err)
		}
		out = append(out, b)
	}
	return out, closeRows(rows, "cutting "+s.from+" into chunks")
}

func aliases(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("dc_k%d", i)
	}
	return out
}

func aliased(exprs []string) string {
	names := aliases(len(exprs))
	parts := make([]string, len(exprs))
	for i, e := range exprs {
		parts[i] = e + " AS " + names[i]
	}
	return strings.Join(parts, ", ")
}

// estimate is the database's own estimate of a table's rows (from its
// statistics), or 0 when it has none.
func (s side) estimate(ctx context.Context, table string) int64 {
	q := `SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?`
	if s.db.dialect.engine() == "postgres" {
		q = `SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(format('%I.%I', current_schema(), $1::text))`
	}
	var n sql.NullInt64
	if err := s.db.sql.QueryRowContext(ctx, q, table).Scan(&n); err != nil || n.Int64 < 0 {
		return 0
	}
	return n.Int64
}

// splitInt cuts [lo, hi) into at most parts spans of equal width.
func splitInt(lo, hi int64, parts int64) []span {
	width := (hi - lo + parts - 1) / parts
	if width < 1 {
		width = 1
	}
	var out []span
	for a := lo; a < hi; a += width {
		b := min(a+width, hi)
		out = append(out, span{lo: bound{strconv.FormatInt(a, 10)}, hi: bound{strconv.FormatInt(b, 10)}})
	}
	return out
}

// between turns cut points into the spans between them, from sp.lo to
// sp.hi.
func between(sp span, cuts []bound) []span {
	out := make([]span, 0, len(cuts)+1)
	lo := sp.lo
	for _, c := range cuts {
		out = append(out, span{lo: lo, hi: c})
		lo = c
	}
	return append(out, span{lo: lo, hi: sp.hi})
}
