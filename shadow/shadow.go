// Package shadow mirrors an app's live traffic to its other side and hands
// the two answers to the compare engine, without the client ever waiting
// for the mirror.
//
// A Mirror plugs into the load balancer as an lb.Mirror. A sampled client
// is mirrored to the other side of the one that serves it, whatever the
// weight: a client served by old to new (direction old_to_new), one served
// by new to old (new_to_old), so that a regression that shows once clients
// have moved is seen too. shadow.direction narrows it: forward mirrors only
// the clients served by old, reverse only those served by new; both is the
// default. Every pair, outcome, example and metric carries its direction.
// For each request of a mirrored side (the primary) it decides, on the
// request path and without blocking:
//
//   - sampling: shadow.sample of the clients, sticky by the same client key
//     as the split (client IP or sticky cookie) so a session is mirrored
//     whole; the hash is salted so that the sample does not line up with
//     the clients the split sends to new;
//   - safety: only shadow.methods (default GET, HEAD) or a route's opted-in
//     methods are mirrored, others are served and counted skipped_unsafe;
//     upgrades (websockets) and event streams are served and counted
//     skipped_stream;
//   - the body: read once into a pooled buffer up to shadow.max_body and
//     replayed to every side; over the limit the request is served with the
//     bytes already read followed by the rest of the stream, and counted
//     too_large.
//
// The mirrored request is queued before the primary is served, so both run
// in parallel. A bounded pool (shadow.workers goroutines, shadow.queue
// waiting requests, and at most workers+queue pairs in flight, shared by
// both directions) sends it to the candidate side's backends, round robin,
// with a transport of that direction's own and a deadline (shadow.timeout),
// detached from the client, with the client's Host and X-Migrate-Shadow: 1;
// when full, the pair is dropped and counted. With shadow.secondary the
// request also goes to a second instance of one side (new's with direction
// reverse, else old's), for noise cancellation: the differences between
// the two instances of that side are noise, whether it served the client
// (the primary's) or was mirrored to (the candidate's).
//
// The primary's response streams to the client untouched; a copy of up to
// max_body bytes is kept on the way. When both halves of a pair are in
// (whichever comes last completes it, no goroutine waits), a worker gives
// the pair to the Comparer, pairs with differences to the Sink, and records
// the outcome. Nothing on the request path waits for the mirror, the
// comparer, the sink or a metric. A pair whose client left before the
// primary's answer was complete (the proxy records 499, or the copy to the
// client broke off) is not compared, since the captured answer is not the
// backend's: it is counted aborted and no example is kept. A primary that
// breaks off by itself is judged on what came, its body marked truncated.
//
// The candidate's answers to mirrored requests are that side's answers
// too: each one is counted for its side (telemetry's mirrored series, by
// status class and latency), apart from the clients the side serves.
//
// A candidate side that cannot be reached costs no connection attempt per
// mirror: after 5 consecutive failed attempts to a backend, its Sender
// stops sending to it for a backoff (1s, doubled after each failed probe up
// to 30s, less up to a fifth at random, on the Mirror's clock), then sends
// one request as a probe; an answer closes the breaker. While every
// candidate backend backs off, sampled requests are served only and counted
// shadow_error (the outcome a refused mirror gets), without a body buffer,
// a queued job or a dial.
//
// The parts a replay of logged requests shares with live mirroring are
// exported: Sender (send to one side's backends with a deadline, capture the
// answer up to max_body), Methods (which methods may be sent where),
// CompareConfig and StoreOptions (the compare engine and sample store of an
// app's shadow section).
//
// It emits migrate_shadow_* through telemetry (pairs by direction, endpoint
// and outcome, mirror latency and its delta to the primary, queue depth,
// drops, not-sampled requests, and each side's mirrored answers) and logs
// only failures of the sink.
package shadow

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/migratekit/migrate/compare"
	"github.com/migratekit/migrate/lb"
	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/telemetry"
)

// Header marks mirrored requests (value "1") so that the candidate side can
// skip side effects. A Mirror removes it from the requests of its app's
// clients, so that only mirrors carry it.
const Header = "X-Migrate-Shadow"

// A manifest built in Go may leave settings at zero: shadow reads their
// defaults from package manifest (manifest.DefaultShadowTimeout, ...),
// where Load takes them from, and declares none of its own.

// tallyQueue is how many tally events wait for the tally goroutine (not a
// manifest setting).
const tallyQueue = 4096

// Comparer judges pairs and counts the requests it could not judge:
// *compare.Engine. It must be safe for concurrent use and must not keep a
// pair's byte slices or header maps after Compare returns.
type Comparer interface {
	// Compare judges a complete pair.
	Compare(compare.Pair) compare.Result
	// Record counts a request served without comparison (skipped_unsafe,
	// skipped_stream, too_large, dropped) in direction dir and returns the
	// result to report it with (its Endpoint bounded).
	Record(app string, dir compare.Direction, endpoint, method string, o compare.Outcome) compare.Result
	// Endpoint is the endpoint template of path for app.
	Endpoint(app, path string) string
}

var _ Comparer = (*compare.Engine)(nil)

// Sink keeps examples of pairs that differ: *compare.Store. Add runs on a
// shadow worker; it must not keep the pair's slices or maps after it
// returns.
type Sink interface {
	Add(ctx context.Context, p compare.Pair, r compare.Result) error
}

// Options are the dependencies of a Mirror.
type Options struct {
	Logger  *slog.Logger       // nil: discard
	Metrics *telemetry.Metrics // nil: record nothing
	// Comparer judges the pairs; required.
	Comparer Comparer
	// Sink receives the pairs whose result has differences; nil: none kept.
	Sink  Sink
	Clock clockwork.Clock // nil: real clock (pair times, latencies, queue gauge)
}

// ErrNoComparer is returned by New without Options.Comparer.
var ErrNoComparer = errors.New("no comparer")

// Mirror shadows one app. It implements lb.Mirror. Its mirrors are sent
// by Run; once Run has returned it serves requests untouched.
type Mirror struct {
	app     string
	flows   [2]*flow // by the index of the serving side (old, new); nil: not mirrored
	sample  int      // points of lb.PointScale that are mirrored
	cookie  string   // sticky cookie name; "" means sticky by client IP
	trusted []netip.Prefix
	methods *Methods
	timeout time.Duration
	maxBody int64
	workers int

	cmp  Comparer
	sink Sink
	tel  *telemetry.Shadow
	log  *slog.Logger

	clock clockwork.Clock
	bufs  bufferPool

	jobs       chan job
	done       chan *pair // pairs complete on the request path, to compare
	tally      chan tallyEvent
	pending    atomic.Int64 // pairs admitted and not finished
	maxPending int64
	stopped    atomic.Bool // Run has returned: serve only
	started    atomic.Bool
	// direction is shadow.direction; told says which side's clients were
	// said, in the log, not to be mirrored by it.
	direction string
	told      [2]atomic.Bool

	mirrored, dropped atomic.Uint64
	sinkErrors        atomic.Uint64
}

// New builds the mirror of app from its shadow section. It starts nothing:
// see Run.
func New(app *manifest.App, opts Options) (*Mirror, error) {
	if app == nil {
		return nil, errors.New("building shadow mirror: no app")
	}
	if opts.Comparer == nil {
		return nil, fmt.Errorf("building shadow mirror of %s: %w", app.Name, ErrNoComparer)
	}
	m, err := newMirror(app, opts)
	if err != nil {
		return nil, fmt.Errorf("building shadow mirror of %s: %w", app.Name, err)
	}
	return m, nil
}

func newMirror(app *manifest.App, opts Options) (*Mirror, error) {
	sh := app.Shadow
	m := &Mirror{
		app:     app.Name,
		timeout: sh.Timeout.Or(manifest.DefaultShadowTimeout),
		maxBody: int64(sh.MaxBody),
		workers: orDefault(sh.Workers, manifest.DefaultShadowWorkers),
		methods: NewMethods(sh),
		cmp:     opts.Comparer,
		sink:    opts.Sink,
		tel:     opts.Metrics.Shadow(app.Name),
		log:     opts.Logger,
		clock:   opts.Clock,
	}
	if m.maxBody <= 0 {
		m.maxBody = int64(manifest.DefaultShadowMaxBody)
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	m.log = m.log.With("app", app.Name)
	m.direction = app.Shadow.Direction
	if m.clock == nil {
		m.clock = clockwork.NewRealClock()
	}
	if err := m.configureSides(app); err != nil {
		return nil, err
	}
	if err := m.configureSampling(app); err != nil {
		return nil, err
	}
	queue := orDefault(sh.Queue, manifest.DefaultShadowQueue)
	m.maxPending = int64(m.workers + queue)
	m.jobs = make(chan job, queue)
	m.done = make(chan *pair, m.maxPending)
	m.tally = make(chan tallyEvent, tallyQueue)
	return m, nil
}

// configureSampling reads shadow.sample and the split's sticky key.
func (m *Mirror) configureSampling(app *manifest.App) error {
	sample := manifest.DefaultShadowSample
	if s := app.Shadow.Sample; s != nil {
		sample = *s
	}
	m.sample = int(float64(sample)*lb.PointScale + 0.5)
	var err error
	if m.trusted, err = lb.ParseTrusted(app.TrustedProxies); err != nil {
		return err
	}
	if app.Cutover.Sticky == "cookie" {
		m.cookie = cmp.Or(app.Cutover.Cookie, manifest.DefaultCookie)
	}
	return nil
}

// Stats is a snapshot of a Mirror's work, for status pages.
type Stats struct {
	// Queued is the mirrors waiting for a worker now.
	Queued int `json:"queued"`
	// Pending is the pairs admitted and not yet compared.
	Pending int `json:"pending"`
	// Mirrored counts the pairs admitted since start; Dropped those turned
	// away because the queue was full.
	Mirrored uint64 `json:"mirrored"`
	Dropped  uint64 `json:"dropped"`
}

// Stats returns a snapshot of the mirror's queue and counters. The diff
// statistics are the Comparer's (compare.Engine.Stats).
func (m *Mirror) Stats() Stats {
	return Stats{
		Queued:   len(m.jobs),
		Pending:  int(m.pending.Load()),
		Mirrored: m.mirrored.Load(),
		Dropped:  m.dropped.Load(),
	}
}

func orDefault(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

func upper(methods, def []string) []string {
	if methods == nil {
		methods = def
	}
	out := make([]string, len(methods))
	for i, m := range methods {
		out[i] = strings.ToUpper(strings.TrimSpace(m))
	}
	return out
}
