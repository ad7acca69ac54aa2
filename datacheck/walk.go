package datacheck

import (
	"context"
	"strconv"
	"sync"

	"golang.org/x/sync/errgroup"
)

// walk checks one table's spans: each side checksums a span in its own
// database; a span that differs is cut again (bisection) until it is
// small enough to fetch, and its rows are compared in Go.
type walk struct {
	c    *Checker
	p    *plan
	res  *tableResult
	mu   sync.Mutex // guards prog and the Progress callback
	prog Progress
}

// chunks checks the first spans, Parallel at a time.
func (w *walk) chunks(ctx context.Context, spans []span) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(w.c.opts.Parallel)
	for _, sp := range spans {
		g.Go(func() error { return w.span(ctx, sp, true) })
	}
	return g.Wait()
}

// span checks sp; first counts its rows into the table's totals.
func (w *walk) span(ctx context.Context, sp span, first bool) error {
	so, sn, err := w.sums(ctx, sp)
	if err != nil {
		return err
	}
	if first {
		w.res.addRows(so.rows, sn.rows)
		defer w.done(so.rows)
		if w.p.unhashed() {
			return w.leaf(ctx, sp) // a column no checksum covers: every row
		}
	}
	if so == sn {
		return nil
	}
	return w.bisect(ctx, sp, so, sn)
}

func (w *walk) done(rows int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.prog.ChunksDone++
	w.prog.RowsDone += rows
	if w.c.opts.Progress != nil {
		w.c.opts.Progress(w.prog)
	}
}

// sums checksums sp on both sides at once.
func (w *walk) sums(ctx context.Context, sp span) (sum, sum, error) {
	var so, sn sum
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { so, err = w.p.old.checksum(gctx, sp); return err })
	g.Go(func() (err error) { sn, err = w.p.new.checksum(gctx, sp); return err })
	return so, sn, g.Wait()
}

// bisect finds the rows that differ in sp, whose sums differ.
func (w *walk) bisect(ctx context.Context, sp span, so, sn sum) error {
	switch {
	case so.rows == 0 || sn.rows == 0:
		return w.oneSided(ctx, sp, so.rows == 0, max(so.rows, sn.rows))
	case max(so.rows, sn.rows) <= w.c.opts.LeafRows:
		return w.leaf(ctx, sp)
	}
	parts, err := w.split(ctx, sp, max(so.rows, sn.rows), so.rows >= sn.rows)
	if err != nil {
		return err
	}
	for _, part := range parts {
		if err := w.span(ctx, part, false); err != nil {
			return err
		}
	}
	return nil
}

// split cuts sp into about Factor parts: by value for a single integer
// key, else at every n/Factor-th key of the side with more rows.
func (w *walk) split(ctx context.Context, sp span, rows int64, onOld bool) ([]span, error) {
	f := w.c.opts.Factor
	if len(w.p.Key) == 1 && w.p.Key[0].Kind == kInt && sp.lo != nil && sp.hi != nil {
		lo, err1 := strconv.ParseInt(sp.lo[0], 10, 64)
		hi, err2 := strconv.ParseInt(sp.hi[0], 10, 64)
		if err1 == nil && err2 == nil && hi-lo > 1 {
			return splitInt(lo, hi, f), nil
		}
	}
	s := w.p.new
	if onOld {
		s = w.p.old
	}
	cuts, err := s.cuts(ctx, sp, (rows+f-1)/f)
	if err != nil {
		return nil, err
	}
	return between(sp, cuts), nil
}

// leaf fetches sp's rows from both sides and compares them.
func (w *walk) leaf(ctx context.Context, sp span) error {
	w.res.addSpan(sp)
	var old, nw map[string]fetched
	var oldOrder, newOrder []string
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { old, oldOrder, err = w.p.old.fetch(gctx, sp, 0, false); return err })
	g.Go(func() (err error) { nw, newOrder, err = w.p.new.fetch(gctx, sp, 0, false); return err })
	if err := g.Wait(); err != nil {
		return err
	}
	w.p.diffRows(old, nw, oldOrder, newOrder, w.res)
	return nil
}

// oneSided records a span whose rows are all on one side: missing on new
// when new has none, else extra. Its keys are read up to MaxKeys, or all
// of them when they are to be re-checked.
func (w *walk) oneSided(ctx context.Context, sp span, extra bool, rows int64) error {
	w.res.addSpan(sp)
	s, limit := w.p.old, w.c.opts.MaxKeys
	if extra {
		s = w.p.new
	}
	if w.res.seen != nil || w.res.only != nil {
		limit = 0
	}
	got, order, err := s.fetch(ctx, sp, limit, true)
	if err != nil {
		return err
	}
	keys := make([][]any, len(order))
	for i, k := range order {
		keys[i] = w.p.keyValue(got[k].key)
	}
	w.res.addOneSided(!extra, rows, order, keys)
	return nil
}
