package datacheck

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/go-cmp/cmp"
)

// fetched is a row in canonical text, keyed by its joined key texts.
type fetched struct {
	key  []string
	cols []sql.NullString
}

// fetch reads the rows of sp on s (at most limit when limit > 0; every
// column, or the key only when keysOnly), keyed by their joined key.
func (s side) fetch(ctx context.Context, sp span, limit int, keysOnly bool) (map[string]fetched, []string, error) {
	w, args := s.where(sp)
	cols := s.cols
	if keysOnly {
		cols = s.keys
	}
	// Aliased: PostgreSQL would order by an output column named like a
	// key column (its text) rather than by the column.
	q := "SELECT " + aliased(cols) + " FROM " + s.from + w + " ORDER BY " + strings.Join(s.order, ", ")
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit)
	}
	rows, err := s.db.sql.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("reading rows of %s on %s: %w", s.from, s.db, err)
	}
	out := map[string]fetched{}
	var order []string
	for rows.Next() {
		f := fetched{cols: make([]sql.NullString, len(cols))}
		dest := make([]any, len(cols))
		for i := range dest {
			dest[i] = &f.cols[i]
		}
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("reading rows of %s on %s: %w", s.from, s.db, err)
		}
		for i := range s.keys {
			f.key = append(f.key, f.cols[i].String)
		}
		k := joinKey(f.key)
		out[k] = f
		order = append(order, k)
	}
	return out, order, closeRows(rows, "reading rows of "+s.from)
}

func joinKey(k []string) string { return strings.Join(k, "\x00") }

// diffRows compares the rows of a span fetched from both sides and
// records what differs in res.
func (p *plan) diffRows(old, nw map[string]fetched, oldOrder, newOrder []string, res *tableResult) {
	for _, k := range oldOrder {
		o := old[k]
		n, ok := nw[k]
		if !ok {
			res.addMissing(k, p.keyValue(o.key))
			continue
		}
		if cols := p.changedColumns(o, n); len(cols) > 0 {
			res.addChanged(k, p.changed(o, n, cols))
		}
	}
	for _, k := range newOrder {
		if _, ok := old[k]; !ok {
			res.addExtra(k, p.keyValue(nw[k].key))
		}
	}
}

// changedColumns names the columns whose canonical texts differ (JSON
// across engines: whose values differ as JSON).
func (p *plan) changedColumns(o, n fetched) []int {
	var out []int
	for i := len(p.Key); i < len(p.Cols); i++ {
		a, b := o.cols[i], n.cols[i]
		if a.Valid != b.Valid || (a.String != b.String && (p.Cols[i].Hashed || !sameJSON(a.String, b.String))) {
			out = append(out, i)
		}
	}
	return out
}

func (p *plan) changed(o, n fetched, idx []int) Changed {
	c := Changed{Key: p.keyValue(o.key)}
	for _, i := range idx {
		c.Columns = append(c.Columns, p.Cols[i].Name)
		c.Old = append(c.Old, value(o.cols[i]))
		c.New = append(c.New, value(n.cols[i]))
	}
	return c
}

func value(v sql.NullString) *string {
	if !v.Valid {
		return nil
	}
	return &v.String
}

// keyValue is a key as the report shows it: integers as JSON numbers,
// the rest as strings.
func (p *plan) keyValue(key []string) []any {
	out := make([]any, len(key))
	for i, v := range key {
		out[i] = v
		if p.Key[i].Kind == kInt {
			out[i] = json.Number(v)
		}
	}
	return out
}

// sameJSON tells whether two JSON texts hold the same value: objects by
// their members, numbers by value (1, 1.0 and 1.0E0 are one float64).
func sameJSON(a, b string) bool {
	var va, vb any
	if json.Unmarshal([]byte(a), &va) != nil || json.Unmarshal([]byte(b), &vb) != nil {
		return a == b
	}
	return cmp.Equal(va, vb)
}
