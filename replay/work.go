package replay

import (
	"context"
	"sync"

	"github.com/migratekit/migrate/compare"
	"github.com/migratekit/migrate/shadow"
)

// work replays jobs until the feeder closes them.
func (r *replayer) work(ctx context.Context, jobs <-chan job) {
	for j := range jobs {
		r.replay(ctx, j)
	}
}

// replay sends one request to every side in parallel, judges the pair and
// keeps it as an example when it differs. A pair cut short by the end of
// ctx (a side without an answer once ctx is done) is not judged; one whose
// answers all arrived is, even if ctx ended meanwhile.
func (r *replayer) replay(ctx context.Context, j job) {
	primary, candidate, secondary := r.sendAll(ctx, j)
	defer primary.Release()
	defer candidate.Release()
	defer secondary.Release()
	if ctx.Err() != nil && (primary.Err != nil || candidate.Err != nil || secondary.Err != nil) {
		return
	}
	if primary.Stream || candidate.Stream {
		r.engine.Record(r.app.Name, direction(r.app), r.engine.Endpoint(r.app.Name, j.req.Path), j.req.Method, compare.OutcomeSkippedStream)
		r.stats.outcome(compare.OutcomeSkippedStream)
		return
	}
	p := compare.Pair{App: r.app.Name, Direction: direction(r.app), Request: j.req, Primary: primary.Response, Candidate: candidate.Response, At: r.clock.Now()}
	if secondary.Status != 0 && !secondary.Stream {
		p.Secondary = &secondary.Response
	}
	res := r.engine.Compare(p)
	r.stats.outcome(res.Outcome)
	if r.store != nil && len(res.Diffs) > 0 {
		if err := r.store.Add(ctx, p, res); err != nil {
			if n := r.stats.storeFailed(); n == 1 || n%1000 == 0 {
				r.log.Warn("keeping replay example", "app", r.app.Name, "line", j.line, "err", err, "failures", n)
			}
		}
	}
}

// sendAll sends j to the primary, the candidate and the secondary (when
// set) at once and waits for the three answers.
func (r *replayer) sendAll(ctx context.Context, j job) (primary, candidate, secondary shadow.Answer) {
	var wg sync.WaitGroup
	wg.Go(func() { primary = r.primary.Send(ctx, j.outbound()) })
	if r.secondary != nil {
		wg.Go(func() { secondary = r.secondary.Send(ctx, j.outbound()) })
	}
	candidate = r.candidate.Send(ctx, j.outbound())
	wg.Wait()
	return primary, candidate, secondary
}
