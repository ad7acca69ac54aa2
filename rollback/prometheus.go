package rollback

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strings"
	"text/template"
	"time"

	"github.com/jonboulle/clockwork"
	"golang.org/x/sync/errgroup"

	"github.com/migratekit/migrate/manifest"
)

// PromSource reads the numbers of the rules from a Prometheus server: for
// each side, the manifest's errors, total and p99 queries (PromQL
// templates) as instant queries at one evaluation time. It is safe for
// concurrent use.
//
// Errors and Requests are the rounded values of the errors and total
// queries; Errors4xx stays 0 (with count_4xx, write an errors query that
// counts 4xx too), and Pairs and Diffs are 0. A query that returns no
// series is an error wrapping ErrNoData, never a zero; the p99 query alone
// may be empty or NaN (no requests in the window), which is a P99 of 0,
// unknown. A p99 of +Inf (slower than the largest bucket) is the largest
// Duration.
type PromSource struct {
	api                *promAPI
	errors, total, p99 promQuery
	log                *slog.Logger
	clock              clockwork.Clock
}

// PromOptions are a PromSource's dependencies; nil fields get defaults.
type PromOptions struct {
	// HTTP is the client the queries go through; nil: a client of the
	// source's own. Each query is bounded by the manifest's timeout.
	HTTP *http.Client
	// Logger receives the server's warnings; nil: discarded.
	Logger *slog.Logger
	// Clock gives the evaluation time of the queries; nil: the real clock.
	Clock clockwork.Clock
}

// The queries of a PromSource, by their manifest key.
const (
	queryErrors = "errors"
	queryTotal  = "total"
	queryP99    = "p99"
)

// promQuery is one of the manifest's query templates.
type promQuery struct {
	key  string
	tmpl *template.Template
}

// queryVars are what a query template may use.
type queryVars struct {
	App    string
	Side   string
	Window string // a PromQL duration such as 30s
}

// NewPromSource checks cfg's URL and parses its query templates (trying
// each on sample values, so a template naming an unknown field fails here);
// errors name the query.
func NewPromSource(cfg manifest.PromSource, opts PromOptions) (*PromSource, error) {
	base, err := url.Parse(cfg.URL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("parsing prometheus url %q: want http://host:port", cfg.URL)
	}
	p := &PromSource{
		api:   &promAPI{base: base, http: opts.HTTP, timeout: cfg.Timeout.D()},
		log:   opts.Logger,
		clock: opts.Clock,
	}
	if p.api.http == nil {
		p.api.http = &http.Client{}
	}
	if p.api.timeout <= 0 {
		p.api.timeout = 5 * time.Second
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.clock == nil {
		p.clock = clockwork.NewRealClock()
	}
	var errs [3]error
	p.errors, errs[0] = parseQuery(queryErrors, cfg.Errors)
	p.total, errs[1] = parseQuery(queryTotal, cfg.Total)
	p.p99, errs[2] = parseQuery(queryP99, cfg.P99)
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	return p, nil
}

func parseQuery(key, text string) (promQuery, error) {
	if strings.TrimSpace(text) == "" {
		return promQuery{}, fmt.Errorf("parsing prometheus query %s: empty", key)
	}
	t, err := template.New(key).Option("missingkey=error").Parse(text)
	if err != nil {
		return promQuery{}, fmt.Errorf("parsing prometheus query %s: %w", key, err)
	}
	q := promQuery{key: key, tmpl: t}
	if _, err := q.render(queryVars{App: "app", Side: "old", Window: "30s"}); err != nil {
		return promQuery{}, fmt.Errorf("parsing prometheus query %s: %w", key, err)
	}
	return q, nil
}

func (q promQuery) render(v queryVars) (string, error) {
	var b strings.Builder
	if err := q.tmpl.Execute(&b, v); err != nil {
		return "", err
	}
	return b.String(), nil
}

// QueryError is a query of a PromSource that gave no usable value. It
// unwraps to the cause: ErrNoData, an *APIError, a transport error.
type QueryError struct {
	Query  string // errors, total or p99
	Side   string // old or new
	PromQL string // the query as sent
	Err    error
}

func (e *QueryError) Error() string {
	return fmt.Sprintf("querying prometheus for %s of side %s: %v; query: %s", e.Query, e.Side, e.Err, e.PromQL)
}

func (e *QueryError) Unwrap() error { return e.Err }

// Sample runs the six queries (three per side) at the clock's time, in
// parallel, and returns the first error if any fails.
func (p *PromSource) Sample(ctx context.Context, app string, window time.Duration) (Sample, error) {
	at := p.clock.Now()
	s := Sample{At: at, Window: window}
	g, gctx := errgroup.WithContext(ctx)
	for _, side := range []string{"old", "new"} {
		ss := &s.Old
		if side == "new" {
			ss = &s.New
		}
		g.Go(func() error { return p.sampleSide(gctx, app, side, window, at, ss) })
	}
	if err := g.Wait(); err != nil {
		return Sample{}, err
	}
	return s, nil
}

// sampleSide fills one side's numbers; its three queries run in parallel.
func (p *PromSource) sampleSide(ctx context.Context, app, side string, window time.Duration, at time.Time, ss *SideSample) error {
	var errs, total uint64
	var p99 time.Duration
	vars := queryVars{App: app, Side: side, Window: promDuration(window)}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { errs, err = p.count(gctx, p.errors, vars, at); return err })
	g.Go(func() (err error) { total, err = p.count(gctx, p.total, vars, at); return err })
	g.Go(func() (err error) { p99, err = p.latency(gctx, p.p99, vars, at); return err })
	if err := g.Wait(); err != nil {
		return err
	}
	// increase() extrapolates each series on its own: never let rounding
	// make more errors than requests.
	*ss = SideSample{Requests: total, Errors: min(errs, total), P99: p99}
	return nil
}

// run renders q and runs it at at; the error is a *QueryError.
func (p *PromSource) run(ctx context.Context, q promQuery, v queryVars, at time.Time) (float64, string, error) {
	promql, err := q.render(v)
	if err != nil {
		return 0, "", &QueryError{Query: q.key, Side: v.Side, PromQL: q.tmpl.Root.String(), Err: err}
	}
	f, warnings, err := p.api.query(ctx, promql, at)
	for _, w := range warnings {
		p.log.Warn("prometheus warning", "query", q.key, "side", v.Side, "promql", promql, "warning", w)
	}
	if err != nil {
		return 0, promql, &QueryError{Query: q.key, Side: v.Side, PromQL: promql, Err: err}
	}
	return f, promql, nil
}

// count runs a query of a number of requests.
func (p *PromSource) count(ctx context.Context, q promQuery, v queryVars, at time.Time) (uint64, error) {
	f, promql, err := p.run(ctx, q, v, at)
	if err != nil {
		return 0, err
	}
	n, err := toCount(f)
	if err != nil {
		return 0, &QueryError{Query: q.key, Side: v.Side, PromQL: promql, Err: err}
	}
	return n, nil
}

// latency runs the p99 query; no data is an unknown p99 (0).
func (p *PromSource) latency(ctx context.Context, q promQuery, v queryVars, at time.Time) (time.Duration, error) {
	f, promql, err := p.run(ctx, q, v, at)
	if errors.Is(err, ErrNoData) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	d, err := toLatency(f)
	if err != nil {
		return 0, &QueryError{Query: q.key, Side: v.Side, PromQL: promql, Err: err}
	}
	return d, nil
}

// toCount reads a number of requests: finite and not negative, rounded.
func toCount(f float64) (uint64, error) {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return 0, fmt.Errorf("%v is not a count", f)
	case f < 0:
		return 0, fmt.Errorf("%v is negative", f)
	}
	return uint64(math.Round(f)), nil
}

// toLatency reads a p99 in seconds: NaN (no requests) is 0, unknown; +Inf
// (beyond the histogram's largest bucket) is the largest Duration.
func toLatency(f float64) (time.Duration, error) {
	switch {
	case math.IsNaN(f):
		return 0, nil
	case math.IsInf(f, 1) || f >= math.MaxInt64/float64(time.Second):
		return time.Duration(math.MaxInt64), nil
	case f < 0:
		return 0, fmt.Errorf("%v seconds is negative", f)
	}
	return time.Duration(f * float64(time.Second)), nil
}
