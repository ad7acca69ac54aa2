package datacheck

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jonboulle/clockwork"
)

// Options configure a Checker. Zero values take the defaults.
type Options struct {
	// Tables to compare; none compares every base table of old.
	Tables []Table
	// ChunkRows is the rows of a first chunk; default 100000.
	ChunkRows int64
	// LeafRows is the most rows of a differing span that are fetched and
	// compared row by row; a larger one is cut again. Default 1000.
	LeafRows int64
	// Factor is how many parts a differing span is cut into; default 16.
	Factor int64
	// Parallel is how many chunks are checksummed at once (each on both
	// sides at the same time); default 2.
	Parallel int
	// MaxKeys bounds each list of keys of a table's report; default 1000.
	MaxKeys int
	// ShowValues keeps the differing values in the report.
	ShowValues bool
	// Settle, when set, re-checks every differing row after this long:
	// rows that converged count as lagging, not as differences.
	Settle time.Duration
	Clock  clockwork.Clock
	Logger *slog.Logger
	// Progress, when set, is called after every chunk (from the checking
	// goroutines, one at a time).
	Progress func(Progress)
}

// Progress is how far a check is.
type Progress struct {
	Table              string
	Table1, Tables     int // the table's number (from 1) and the number of tables
	ChunksDone, Chunks int
	RowsDone           int64 // rows checked on old so far in this table
}

// Checker compares two databases. Run may be called again (by a watch
// loop or serve's interval); the databases stay open until Close.
type Checker struct {
	old, new *DB
	opts     Options
}

// New returns a Checker of old against new.
func New(old, new *DB, opts Options) *Checker {
	if opts.ChunkRows <= 0 {
		opts.ChunkRows = 100_000
	}
	if opts.Factor < 2 {
		opts.Factor = 16
	}
	if opts.LeafRows < opts.Factor {
		opts.LeafRows = max(1000, opts.Factor)
	}
	if opts.Parallel <= 0 {
		opts.Parallel = 2
	}
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = 1000
	}
	if opts.Clock == nil {
		opts.Clock = clockwork.NewRealClock()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Checker{old: old, new: new, opts: opts}
}

// Close closes both databases.
func (c *Checker) Close() error {
	return errorsJoin(c.old.Close(), c.new.Close())
}

// Run checks every table once (and, with Settle, re-checks what differed)
// and reports. An error is a database that cannot be read or a table
// that cannot be compared (ErrNoKey, ErrSchema); differences are not
// errors.
func (c *Checker) Run(ctx context.Context) (Report, error) {
	rep := Report{Started: c.opts.Clock.Now().UTC()}
	tables, err := c.tables(ctx)
	if err != nil {
		return rep, err
	}
	plans := make([]*plan, len(tables))
	for i, t := range tables {
		if plans[i], err = resolve(ctx, c.old, c.new, t); err != nil {
			return rep, err
		}
	}
	for i, p := range plans {
		tr, err := c.checkTable(ctx, p, i+1, len(plans))
		if err != nil {
			return rep, err
		}
		rep.Tables = append(rep.Tables, tr)
	}
	rep.Lag = c.new.replicationLag(ctx)
	rep.finish()
	rep.Duration = Seconds(c.opts.Clock.Since(rep.Started).Seconds())
	return rep, nil
}

func (c *Checker) tables(ctx context.Context) ([]Table, error) {
	if len(c.opts.Tables) > 0 {
		return c.opts.Tables, nil
	}
	names, err := c.old.Tables(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Table, len(names))
	for i, n := range names {
		out[i] = Table{Name: n}
	}
	return out, nil
}

// checkTable checks one table: chunks, bisection, rows; then, with
// Settle, the differing rows again.
func (c *Checker) checkTable(ctx context.Context, p *plan, n, of int) (TableReport, error) {
	res := c.newResult(p)
	if c.opts.Settle > 0 {
		res.seen = map[string]bool{}
	}
	spans, err := c.chunks(ctx, p)
	if err != nil {
		return TableReport{}, err
	}
	c.opts.Logger.Debug("checking table", "table", p.Table.Name, "chunks", len(spans), "plan", p.String())
	w := &walk{c: c, p: p, res: res, prog: Progress{Table: p.Table.Name, Table1: n, Tables: of, Chunks: len(spans)}}
	if err := w.chunks(ctx, spans); err != nil {
		return TableReport{}, err
	}
	if c.opts.Settle > 0 && res.rep.differs() {
		return c.recheck(ctx, p, res)
	}
	return res.rep, nil
}

func (c *Checker) newResult(p *plan) *tableResult {
	return &tableResult{
		rep:      TableReport{Table: p.Table.Name, Key: p.keyNames(), Notes: p.Notes},
		maxKeys:  c.opts.MaxKeys,
		showVals: c.opts.ShowValues,
	}
}

// recheck waits Settle and checks the spans that differed again, keeping
// only the rows that differed the first time: those still differing have
// diverged; the others were lagging.
func (c *Checker) recheck(ctx context.Context, p *plan, first *tableResult) (TableReport, error) {
	select {
	case <-ctx.Done():
		return TableReport{}, ctx.Err()
	case <-c.opts.Clock.After(c.opts.Settle):
	}
	res := c.newResult(p)
	res.only = first.seen
	res.rep.RowsOld, res.rep.RowsNew = first.rep.RowsOld, first.rep.RowsNew
	w := &walk{c: c, p: p, res: res, prog: Progress{Table: p.Table.Name, Chunks: len(first.spans)}}
	for _, sp := range first.spans {
		if err := w.span(ctx, sp, false); err != nil {
			return TableReport{}, err
		}
	}
	before := first.rep.MissingCount + first.rep.ExtraCount + first.rep.ChangedCount
	after := res.rep.MissingCount + res.rep.ExtraCount + res.rep.ChangedCount
	res.rep.Lagging = before - after
	return res.rep, nil
}

// chunks cuts the table's key space into the first spans: equal integer
// ranges for a single integer key, else every ChunkRows-th key of old.
func (c *Checker) chunks(ctx context.Context, p *plan) ([]span, error) {
	rows := c.opts.ChunkRows
	if p.unhashed() {
		rows = min(rows, 10*c.opts.LeafRows) // each chunk is fetched whole
	}
	est := max(p.old.estimate(ctx, p.Table.Name), p.new.estimate(ctx, p.Table.newName()))
	if len(p.Key) == 1 && p.Key[0].Kind == kInt {
		return intChunks(ctx, p, est, rows)
	}
	cuts, err := p.old.cuts(ctx, span{}, rows)
	if err != nil {
		return nil, err
	}
	return between(span{}, cuts), nil
}

func intChunks(ctx context.Context, p *plan, est, chunkRows int64) ([]span, error) {
	ol, oh, ook, err := p.old.intRange(ctx)
	if err != nil {
		return nil, err
	}
	nl, nh, nok, err := p.new.intRange(ctx)
	if err != nil {
		return nil, err
	}
	switch {
	case !ook && !nok:
		return []span{{}}, nil
	case !ook:
		ol, oh = nl, nh
	case !nok:
		nl, nh = ol, oh
	}
	lo, hi := min(ol, nl), max(oh, nh)+1
	width := hi - lo
	if est > 0 && est < width {
		width = est
	}
	parts := min(max((width+chunkRows-1)/chunkRows, 1), 100_000)
	spans := splitInt(lo, hi, parts)
	// Open at both ends: rows written below or above the range while the
	// check runs are in a chunk too.
	spans[0].lo, spans[len(spans)-1].hi = nil, nil
	return spans, nil
}

func errorsJoin(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("closing databases: %w", err)
		}
	}
	return nil
}

// RunWithProgress is Run with progress reported to fn (as
// Options.Progress).
func (c *Checker) RunWithProgress(ctx context.Context, fn func(Progress)) (Report, error) {
	cc := *c
	cc.opts.Progress = fn
	return cc.Run(ctx)
}
