// Package replay replays the requests of an access log against both sides
// of an app and diffs the answers through the same compare engine and
// sample store as live mirroring, so that a team can start comparing before
// it puts anything in front of live traffic (`migrate replay`).
//
// Run reads the log line by line with a logship parser. Lines it cannot
// parse (or that hold no request) are counted, with the first few line
// numbers kept, and never stop the replay. Only safe requests are replayed:
// a method must be allowed by the app's shadow section (shadow.methods, or
// a route's opted-in methods) and, unless Options.AllowWrites is set, be GET
// or HEAD, since a replayed write really writes on both stacks; others are
// counted skipped_unsafe. Each replayed request keeps the logged method,
// path, query and Host (else the app's first host), carries
// "User-Agent: migrate-replay" and "X-Migrate-Replay: 1", and goes to the
// primary side (old; new with shadow.direction reverse), the candidate and
// the shadow.secondary backends, if any, in parallel, each with the
// shadow.timeout deadline and captured up to shadow.max_body. Logs hold no
// request bodies: a replayed write is sent without one.
//
// Requests are paced by a token bucket (Options.Rate) and bounded by
// Options.Concurrency. Run stops at the end of the log or when its context
// ends, and returns the app's diff report with the replay's counts. It
// emits no metrics: its output is the report, the engine's stats and the
// store's examples.
package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/migratekit/migrate/compare"
	"github.com/migratekit/migrate/logship"
	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/shadow"
)

// Header marks replayed requests (value "1") on both sides, so that either
// stack can tell them from live traffic.
const Header = "X-Migrate-Replay"

// UserAgent is the User-Agent of replayed requests.
const UserAgent = "migrate-replay"

// Defaults of Options.
const (
	DefaultFormat        = "nginx_combined"
	DefaultConcurrency   = 8
	DefaultProgressEvery = 5 * time.Second
	// MaxBadLines is how many unparseable lines Stats names.
	MaxBadLines = 10
	// MaxLine is the longest line read; a longer one is unparseable.
	MaxLine = 1 << 20
)

// Errors of Run that are the caller's to fix.
var (
	ErrNoApp  = errors.New("no app")
	ErrNoLog  = errors.New("no log")
	ErrFormat = errors.New("log format has no requests")
)

// Options configure a replay.
type Options struct {
	// App is the app whose sides are replayed against; required.
	App *manifest.App
	// Log holds the access log lines; required.
	Log io.Reader
	// Format is the log format (see logship.Formats, raw excepted); "" means
	// the app's logs.old format, else nginx_combined.
	Format string
	// LogFormat is the nginx log_format, for format nginx; "" means the
	// app's logs.old log_format.
	LogFormat string
	// Rate is the most requests per second sent to each side; 0 means as
	// fast as Concurrency allows.
	Rate float64
	// Concurrency bounds the requests in flight; default 8.
	Concurrency int
	// AllowWrites replays the methods besides GET and HEAD that the shadow
	// section allows (a route's opt-in): they really write on both sides.
	AllowWrites bool
	// Engine judges the pairs; nil: a new one from the app's shadow section.
	Engine *compare.Engine
	// Store keeps examples of the pairs that differ; nil: none kept.
	Store *compare.Store
	// Logger receives warnings (a store that fails); nil: discard.
	Logger *slog.Logger
	// Clock paces the requests and times them; nil: the real clock.
	Clock clockwork.Clock
	// Progress, when set, receives a progress line every ProgressEvery
	// (default 5s).
	Progress      io.Writer
	ProgressEvery time.Duration
}

// Run replays opts.Log against the app's sides and returns its diff report
// (the engine's stats for the app and the store's examples) and the
// replay's counts. Unparseable lines are counted, not errors. When ctx ends
// first, Run returns what was replayed so far with ctx's error.
func Run(ctx context.Context, opts Options) (compare.Report, Stats, error) {
	r, err := newReplayer(opts)
	if err != nil {
		return compare.Report{}, Stats{}, fmt.Errorf("starting replay: %w", err)
	}
	defer r.closeIdle()
	if err = r.run(ctx); err != nil {
		err = fmt.Errorf("replaying %s: %w", r.app.Name, err)
	}
	st := r.stats.snapshot(r.clock.Since(r.start))
	rep, rerr := NewReport(context.WithoutCancel(ctx), r.app, r.engine, r.store, r.clock.Now())
	return rep, st, errors.Join(err, rerr)
}

// replayer is one replay: its parser, senders, pacing and counts.
type replayer struct {
	app         *manifest.App
	parser      logship.Parser
	primary     *shadow.Sender
	candidate   *shadow.Sender
	secondary   *shadow.Sender // nil without shadow.secondary
	methods     *shadow.Methods
	allowWrites bool
	host        string // the app's first host: the Host of lines that log none
	limiter     *rate.Limiter
	concurrency int
	engine      *compare.Engine
	store       *compare.Store
	log         *slog.Logger
	clock       clockwork.Clock
	in          io.Reader
	progress    io.Writer
	every       time.Duration
	start       time.Time
	stats       counter
}

func newReplayer(opts Options) (*replayer, error) {
	if opts.App == nil {
		return nil, ErrNoApp
	}
	if opts.Log == nil {
		return nil, ErrNoLog
	}
	r := &replayer{
		app: opts.App, in: opts.Log, allowWrites: opts.AllowWrites,
		methods: shadow.NewMethods(opts.App.Shadow), engine: opts.Engine, store: opts.Store,
		log: opts.Logger, clock: opts.Clock, progress: opts.Progress, every: opts.ProgressEvery,
		concurrency: opts.Concurrency,
	}
	r.defaults()
	if len(opts.App.Hosts) > 0 {
		r.host = opts.App.Hosts[0]
	}
	if opts.Rate < 0 {
		return nil, fmt.Errorf("rate %v is negative", opts.Rate)
	}
	if opts.Rate > 0 {
		r.limiter = rate.NewLimiter(rate.Limit(opts.Rate), 1)
	}
	var err error
	if r.parser, err = NewParser(opts.App, opts.Format, opts.LogFormat); err != nil {
		return nil, err
	}
	if r.engine == nil {
		if r.engine, err = compare.NewEngine(shadow.CompareConfig(opts.App)); err != nil {
			return nil, fmt.Errorf("building compare engine: %w", err)
		}
	}
	return r, r.senders()
}

func (r *replayer) defaults() {
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.clock == nil {
		r.clock = clockwork.NewRealClock()
	}
	if r.concurrency <= 0 {
		r.concurrency = DefaultConcurrency
	}
	if r.every <= 0 {
		r.every = DefaultProgressEvery
	}
}

// NewParser returns the parser of format for app's log: "" means the app's
// logs.old format (and log_format), else nginx_combined. Formats without
// requests (raw) are ErrFormat; unknown ones logship.ErrUnknownFormat.
func NewParser(app *manifest.App, format, logFormat string) (logship.Parser, error) {
	if src := app.Logs.Old; src != nil {
		if format == "" {
			format = src.Format
		}
		if logFormat == "" && format == src.Format {
			logFormat = src.LogFormat
		}
	}
	if format == "" {
		format = DefaultFormat
	}
	if format == "raw" {
		return nil, fmt.Errorf("reading format %q: %w", format, ErrFormat)
	}
	p, err := logship.New(format, logship.Options{LogFormat: logFormat})
	if err != nil {
		return nil, fmt.Errorf("reading format %q: %w", format, err)
	}
	return p, nil
}

// direction is the direction of a replay's pairs: new_to_old when the
// app's shadow direction is reverse (new is the primary), else old_to_new.
func direction(a *manifest.App) compare.Direction {
	if a.Shadow.Direction == "reverse" {
		return compare.DirectionNewToOld
	}
	return compare.DirectionOldToNew
}

// senders builds one sender per side, the primary being the side that
// serves in the app's shadow direction.
func (r *replayer) senders() error {
	a := r.app
	so := shadow.SenderOptions{
		Timeouts: a.Timeouts, Timeout: a.Shadow.Timeout.D(), MaxBody: int64(a.Shadow.MaxBody),
		Conns: r.concurrency, Clock: r.clock,
	}
	primary, candidate := a.Old, a.New
	if a.Shadow.Direction == "reverse" {
		primary, candidate = candidate, primary
	}
	var err error
	if r.primary, err = shadow.NewSender(primary.Backends, so); err != nil {
		return fmt.Errorf("configuring primary backends: %w", err)
	}
	if r.candidate, err = shadow.NewSender(candidate.Backends, so); err != nil {
		return fmt.Errorf("configuring candidate backends: %w", err)
	}
	if len(a.Shadow.Secondary) > 0 {
		if r.secondary, err = shadow.NewSender(a.Shadow.Secondary, so); err != nil {
			return fmt.Errorf("configuring secondary backends: %w", err)
		}
	}
	return nil
}

func (r *replayer) closeIdle() {
	for _, s := range []*shadow.Sender{r.primary, r.candidate, r.secondary} {
		if s != nil {
			s.CloseIdleConnections()
		}
	}
}

// run feeds the lines to the workers and waits for them; the progress
// reporter stops with them.
func (r *replayer) run(ctx context.Context) error {
	r.start = r.clock.Now()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	if r.progress != nil {
		wg.Go(func() { r.report(stop) })
	}
	defer wg.Wait()
	defer close(stop)
	g, gctx := errgroup.WithContext(ctx)
	jobs := make(chan job, r.concurrency)
	g.Go(func() error {
		defer close(jobs)
		return r.feed(gctx, jobs)
	})
	for range r.concurrency {
		g.Go(func() error {
			r.work(gctx, jobs)
			return nil
		})
	}
	return g.Wait()
}

// NewReport builds app's diff report from engine's stats and store's
// examples (none when store is nil), with the curl lines of the examples
// pointed at the first backend of each side.
func NewReport(ctx context.Context, app *manifest.App, engine *compare.Engine, store *compare.Store, now time.Time) (compare.Report, error) {
	r := compare.Report{App: app.Name, Generated: now, Endpoints: engine.Stats(app.Name)}
	if len(app.Old.Backends) > 0 && len(app.New.Backends) > 0 {
		r.OldURL, r.NewURL = app.Old.Backends[0], app.New.Backends[0]
	}
	if store == nil {
		return r, nil
	}
	ex, err := store.LatestExamples(ctx, app.Name)
	if err != nil {
		return r, fmt.Errorf("reading examples: %w", err)
	}
	r.Examples = ex
	return r, nil
}

// safe are the methods replayed without AllowWrites.
var safe = []string{"GET", "HEAD"}

// allowed reports whether a logged request is replayed.
func (r *replayer) allowed(method, path string) bool {
	if !r.allowWrites && !slices.Contains(safe, method) {
		return false
	}
	return r.methods.Allowed(method, path)
}
