package datacheck

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Table is one table to compare.
type Table struct {
	// Name is the table's name on old (in the connection's schema).
	Name string
	// New is its name on new; default Name.
	New string
	// Key overrides the key rows are paired by: columns whose values are
	// unique and not NULL on both sides. Default the primary key, else a
	// unique key over NOT NULL columns (old's).
	Key []string
	// Ignore lists columns left out of the comparison.
	Ignore []string
	// Round compares a numeric column rounded to that many decimals.
	Round map[string]int
}

func (t Table) newName() string {
	if t.New != "" {
		return t.New
	}
	return t.Name
}

// plan is a table resolved against both databases: what is compared and
// the SQL each side runs.
type plan struct {
	Table    Table
	Key      []pair // the key columns, in order
	Cols     []pair // every compared column, keys first
	Notes    []string
	old, new side
}

// side is one database's view of a plan.
type side struct {
	db    *DB
	from  string   // the quoted table
	keys  []string // the key columns' canonical texts
	order []string // the key columns as ordered and compared
	cols  []string // every compared column's canonical text (JSON raw where unhashed)
	text  string   // the row's canonical text (hashed columns only)
	fast  bool     // both sides are one engine: its own hash
	// record, when set, is the SELECT list of a chunk's count and
	// checksum over the row's values as a record (PostgreSQL on both
	// sides, 14 or later).
	record string
}

// resolve reads t's columns and key on both databases and builds its plan.
func resolve(ctx context.Context, old, nw *DB, t Table) (*plan, error) {
	oc, err := old.columns(ctx, t.Name)
	if err != nil {
		return nil, err
	}
	nc, err := nw.columns(ctx, t.newName())
	if err != nil {
		return nil, err
	}
	if len(oc) == 0 {
		return nil, fmt.Errorf("comparing %s: %w: no such table on old (%s)", t.Name, ErrSchema, old)
	}
	if len(nc) == 0 {
		return nil, fmt.Errorf("comparing %s: %w: no such table %q on new (%s)", t.Name, ErrSchema, t.newName(), nw)
	}
	key, err := planKey(ctx, old, t)
	if err != nil {
		return nil, err
	}
	p := &plan{Table: t}
	if err := p.pairColumns(oc, nc, key, old.dialect.engine() == nw.dialect.engine()); err != nil {
		return nil, err
	}
	same := old.dialect.engine() == nw.dialect.engine()
	p.old = buildSide(old, t.Name, p, same, func(pr pair) column { return pr.Old })
	p.new = buildSide(nw, t.newName(), p, same, func(pr pair) column { return pr.New })
	if same && old.hashRecords(ctx) && nw.hashRecords(ctx) {
		p.old.record = recordChecksum(old.dialect, p, func(pr pair) column { return pr.Old })
		p.new.record = recordChecksum(nw.dialect, p, func(pr pair) column { return pr.New })
	}
	return p, nil
}

func planKey(ctx context.Context, old *DB, t Table) ([]string, error) {
	if len(t.Key) > 0 {
		return t.Key, nil
	}
	key, err := old.key(ctx, t.Name)
	if err != nil {
		return nil, err
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("comparing %s: %w on old: declare the key columns (key:) or add a primary key", t.Name, ErrNoKey)
	}
	return key, nil
}

// pairColumns pairs old's and new's columns by name: keys first, then the
// others in old's order, less the ignored ones.
func (p *plan) pairColumns(oc, nc []column, key []string, sameEngine bool) error {
	t := p.Table
	for _, k := range key {
		if slices.Contains(t.Ignore, k) {
			return fmt.Errorf("comparing %s: %w: key column %q is ignored", t.Name, ErrSchema, k)
		}
	}
	for name := range t.Round {
		if _, ok := findColumn(oc, name); !ok {
			return fmt.Errorf("comparing %s: %w: round: column %q is not on old", t.Name, ErrSchema, name)
		}
	}
	names := append(slices.Clone(key), p.nonKey(oc, key)...)
	for _, name := range names {
		o, ok1 := findColumn(oc, name)
		n, ok2 := findColumn(nc, name)
		if !ok1 || !ok2 {
			if slices.Contains(key, name) {
				return fmt.Errorf("comparing %s: %w: key column %q is not on both sides", t.Name, ErrSchema, name)
			}
			p.Notes = append(p.Notes, fmt.Sprintf("column %s is only on old", name))
			continue
		}
		p.Cols = append(p.Cols, newPair(o, n, t.Round, sameEngine))
	}
	for _, n := range nc {
		if _, ok := findColumn(oc, n.Name); !ok && !slices.Contains(t.Ignore, n.Name) {
			p.Notes = append(p.Notes, fmt.Sprintf("column %s is only on new", n.Name))
		}
	}
	p.Key = p.Cols[:len(key)]
	for _, k := range p.Key {
		if !keyKinds[k.Kind] {
			return fmt.Errorf("comparing %s: %w: key column %s cannot be a chunk bound", t.Name, ErrSchema, k)
		}
	}
	return nil
}

func (p *plan) nonKey(oc []column, key []string) []string {
	var names []string
	for _, c := range oc {
		if !slices.Contains(key, c.Name) && !slices.Contains(p.Table.Ignore, c.Name) {
			names = append(names, c.Name)
		}
	}
	return names
}

func newPair(o, n column, round map[string]int, sameEngine bool) pair {
	var r *int
	if v, ok := round[o.Name]; ok {
		r = &v
	}
	k, scale := pairKind(o, n, r)
	hashed := (k != kJSON && k != kFloat) || (sameEngine && o.Kind == n.Kind)
	native := sameEngine && o.Type == n.Type && r == nil
	return pair{Name: o.Name, Old: o, New: n, Kind: k, Scale: scale, Hashed: hashed, Native: native}
}

func buildSide(db *DB, table string, p *plan, sameEngine bool, col func(pair) column) side {
	d := db.dialect
	s := side{db: db, from: d.quote(table), fast: sameEngine}
	var hashed []string
	for i, pr := range p.Cols {
		q := d.quote(pr.Name)
		c := d.canon(q, col(pr).Kind, pr.Kind, pr.Scale)
		switch {
		case pr.Native && i >= len(p.Key):
			c = d.native(q)
		case !pr.Hashed:
			c = d.canon(q, kOther, kOther, -1) // raw text, compared as JSON in Go
		}
		if pr.Hashed {
			hashed = append(hashed, c)
		}
		s.cols = append(s.cols, c)
		if i < len(p.Key) {
			s.keys = append(s.keys, c)
			s.order = append(s.order, d.order(q, pr.Kind))
		}
	}
	s.text = d.rowText(hashed)
	return s
}

// unhashed tells whether a column is left out of the checksums (JSON
// across engines): then every row is fetched and compared.
func (p *plan) unhashed() bool {
	for _, c := range p.Cols {
		if !c.Hashed {
			return true
		}
	}
	return false
}

// keyNames are the key's column names.
func (p *plan) keyNames() []string {
	names := make([]string, len(p.Key))
	for i, k := range p.Key {
		names[i] = k.Name
	}
	return names
}

func (p *plan) String() string {
	cols := make([]string, len(p.Cols))
	for i, c := range p.Cols {
		cols[i] = c.String()
	}
	return p.Table.Name + ": " + strings.Join(cols, ", ")
}

// recordChecksum is the record checksum of a plan on one side: native
// values where both sides have one type with a hash function, the
// canonical text otherwise.
func recordChecksum(d dialect, p *plan, col func(pair) column) string {
	var exprs []string
	for _, pr := range p.Cols {
		q := d.quote(pr.Name)
		switch {
		case !pr.Hashed:
			continue
		case pr.Native && pgHashable(col(pr)):
			exprs = append(exprs, q)
		default:
			exprs = append(exprs, d.canon(q, col(pr).Kind, pr.Kind, pr.Scale))
		}
	}
	return d.checksumRecord(exprs)
}
