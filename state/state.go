// Package state keeps migrate's shared migration state: for every app its
// weight (share of traffic on the new side), phase, progressive-plan position
// and pause flag, and the events that changed them (weight changes, plan
// steps, rollbacks, verdicts, store outages), so that a restart, a rollback
// or a second instance never loses them.
//
// Open picks the backend from the manifest's `state:` section:
//
//   - embedded (the default): a SQLite database, state.db in the data dir,
//     for one `migrate serve` (and the CLI commands beside it).
//   - redis: one Redis shared by several `migrate serve` instances. A change
//     made by one instance is published and reaches the others within a
//     second (pub/sub plus a re-read every second, so a missed message
//     heals). When Redis is lost, reads keep answering the last known state
//     together with an error wrapping ErrStoreDown; a write (a rollback, a
//     weight) is applied on this instance at once and kept, in memory and
//     in redis-state.json in the data dir, and written when Redis returns
//     unless another instance decided later (ErrPending); the events go
//     with it. An instance started while Redis is down runs on the last
//     known state of redis-state.json, and refuses to start without one.
//
// Beside the apps' states each backend keeps their live backends, an
// overlay on the manifest of the backend changes made while instances
// serve (backends.go), in keys or rows of their own so that a backend
// change never rewrites a weight; WatchBackends delivers them as Watch
// delivers the states, by the same change notification and re-read, and
// a change made while Redis is down is kept and written back the same way.
//
// Either backend also writes every event this process appends to an
// append-only audit log, events.log (JSON lines, one fsync per event) in the
// data dir.
//
// A file of the data dir that cannot be read as what it should be (a
// truncated or overwritten state.db, a redis-state.json that does not
// decode) makes Open fail with a DamagedError naming it and what to do.
// What is recovered instead: a torn last line of events.log (cut), a
// damaged write-ahead log or shared-memory file of state.db (SQLite
// ignores it), and a 0-byte or new state.db (the state starts from
// nothing, which is logged, as an error when events.log has events).
//
// A Store owns one background goroutine (the re-read, and for Redis the
// subscription and health check) and one per Watch; Close stops them all.
// The package emits no metrics (Status says what a caller exports); it logs
// store outages and recoveries, decisions kept and written, and a state
// that starts from nothing through the logger in Options.
package state

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/migratekit/migrate/manifest"
)

// Store holds the migration state and the events of every app. Its methods
// are safe for concurrent use.
type Store interface {
	// Get returns app's state; ok is false when none was saved. When the
	// store is down (Redis unreachable) it returns the last known state
	// together with an error wrapping ErrStoreDown.
	Get(ctx context.Context, app string) (st AppState, ok bool, err error)
	// Apps returns the state of every app, sorted by name; when the store
	// is down, the last known states with an error wrapping ErrStoreDown.
	Apps(ctx context.Context) ([]AppState, error)
	// Update atomically reads app's state (the zero state, App set, when
	// none was saved), passes it to fn and saves what fn leaves, with
	// Version incremented and UpdatedAt stamped. It returns the saved state.
	// While Redis is down it applies fn to the last known state here and
	// returns that state with an error wrapping ErrPending (see the
	// package doc): the change is in force on this instance.
	// When fn returns an error nothing is saved and Update returns it
	// wrapped; when fn changes nothing, nothing is written and the current
	// state is returned. fn may run more than once (Redis retries when
	// another instance wrote in between), so it must only modify the state
	// it is given, and it must be quick: the embedded store holds its write
	// lock while fn runs. A state with a weight outside 0-100, a negative
	// plan step or an over-long phase is refused.
	Update(ctx context.Context, app string, fn func(*AppState) error) (AppState, error)
	// Weight returns the saved weight of app; ok is false when none was
	// saved. It is Get for callers that only need the weight.
	Weight(ctx context.Context, app string) (weight int, ok bool, err error)
	// SetWeight saves app's weight, 0 to 100, leaving the rest of its
	// state as it is.
	SetWeight(ctx context.Context, app string, weight int) error
	// AppendEvent records e, stamping At with the store's clock when it is
	// zero, and returns it with its ID. Kind is required; Before, After
	// and Reason longer than MaxEventField bytes are cut. The event is also
	// written to this process's audit log.
	AppendEvent(ctx context.Context, e Event) (Event, error)
	// Events returns the events q selects, oldest first.
	Events(ctx context.Context, q Query) ([]Event, error)
	// Watch returns a channel that first delivers the state of every app
	// the store knows, then every change, whether this instance or another
	// one made it. When one app changes faster than the receiver reads,
	// the receiver gets its latest state (never an older one after a
	// newer one). After a store outage, every app's state is delivered
	// again. The channel is closed when ctx is done or the store is closed.
	Watch(ctx context.Context) <-chan Change
	// SetBackend records e as the latest change of its app's backend
	// (Side, URL), stamping At with the store's clock when it is zero, and
	// returns it as stored. While Redis is down it is in force here at
	// once (LiveBackends, WatchBackends) and written when Redis is back,
	// unless another instance changed that backend later; the error then
	// wraps ErrStoreDown and ErrPending.
	SetBackend(ctx context.Context, e LiveBackend) (LiveBackend, error)
	// RetireBackend deletes e's entry if it is still e (unchanged since it
	// was read), and reports whether it did.
	RetireBackend(ctx context.Context, e LiveBackend) (bool, error)
	// ResetBackends deletes every entry of app's overlay, and reports how
	// many it deleted (while Redis is down: those known here).
	ResetBackends(ctx context.Context, app string) (int, error)
	// LiveBackends returns app's overlay, sorted by side and URL; when the
	// store is down, the last known one with an error wrapping
	// ErrStoreDown.
	LiveBackends(ctx context.Context, app string) ([]LiveBackend, error)
	// WatchBackends is Watch for the overlays: first every app's, then
	// every change, the whole overlay of the app that changed (the latest
	// when the receiver is slow). The store's change notification brings
	// another instance's change; the re-read heals a missed one.
	WatchBackends(ctx context.Context) <-chan BackendsChange
	// Status says whether the store is reachable.
	Status() Status
	// Close stops the store's goroutines, closes every Watch channel and
	// releases the store.
	Close() error
}

// Backends of the `state:` section.
const (
	BackendEmbedded = "embedded"
	BackendRedis    = "redis"
)

// Errors callers branch on.
var (
	// ErrWeightRange is returned for a weight outside 0-100.
	ErrWeightRange = errors.New("weight out of range 0-100")
	// ErrNoApp is returned for an empty app name.
	ErrNoApp = errors.New("no app name")
	// ErrInvalid is returned for a state or an event the store refuses
	// (other than a weight out of range).
	ErrInvalid = errors.New("invalid")
	// ErrStoreDown is wrapped by the errors of a store that cannot reach
	// its backend (Redis). Reads still return the last known state.
	ErrStoreDown = errors.New("state store down")
	// ErrPending is wrapped, with ErrStoreDown, by the error of an Update
	// or AppendEvent made while Redis is down: the change is applied on
	// this instance and kept (in the data dir too), and it is written to
	// Redis when Redis is back, unless a later decision is there by then.
	// The state Update returns with it is the one in force here.
	ErrPending = errors.New("kept here and saved when the store is back")
	// ErrClosed is returned by a store used after Close.
	ErrClosed = errors.New("state store closed")
	// ErrDamaged is wrapped by the error of Open for a file of the data
	// dir that is not what it should be (a truncated or overwritten
	// state.db): see DamagedError.
	ErrDamaged = errors.New("damaged")
)

// DamagedError is Open's error for a damaged file of the data dir. Its
// message names the file and what to do.
type DamagedError struct {
	Path string
	Err  error
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("%s is damaged (%v): move it aside (for instance to %s.damaged) to start without it, "+
		"or point --data-dir at another directory", e.Path, e.Err, e.Path)
}

func (e *DamagedError) Unwrap() []error { return []error{ErrDamaged, e.Err} }

// DefaultPollInterval is how often a store re-reads every app's state to
// catch changes it was not told about (another process on the same
// state.db, a lost Redis message) and, for Redis, to check that Redis is
// back.
const DefaultPollInterval = time.Second

// DefaultRedisTimeout bounds every Redis dial, read and write unless the URL
// sets its own (dial_timeout, read_timeout, write_timeout).
const DefaultRedisTimeout = time.Second

// DefaultKeyPrefix starts the name of every Redis key and channel.
const DefaultKeyPrefix = "migrate:"

// DefaultMaxEvents is roughly how many events the Redis backend keeps (its
// stream is trimmed with MAXLEN ~).
const DefaultMaxEvents = 10000

// Options are the dependencies and tuning of a Store. The zero value is
// usable: data in the current directory, no logs, the real clock.
type Options struct {
	// DataDir holds state.db (embedded) and events.log (both backends); it
	// is created (mode 0700) if needed. Empty means the current directory.
	DataDir string
	// Logger receives store outages and recoveries; nil discards.
	Logger *slog.Logger
	// Clock stamps states and events and drives the re-read; nil is the
	// real clock.
	Clock clockwork.Clock
	// PollInterval is DefaultPollInterval when zero.
	PollInterval time.Duration
	// KeyPrefix starts every Redis key and channel name; DefaultKeyPrefix
	// when empty. Instances sharing state must use the same prefix.
	KeyPrefix string
	// RedisTimeout is DefaultRedisTimeout when zero.
	RedisTimeout time.Duration
	// MaxEvents is DefaultMaxEvents when zero (Redis only; the embedded
	// store keeps every event).
	MaxEvents int
}

func (o Options) withDefaults() Options {
	if o.DataDir == "" {
		o.DataDir = "."
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.KeyPrefix == "" {
		o.KeyPrefix = DefaultKeyPrefix
	}
	if o.RedisTimeout <= 0 {
		o.RedisTimeout = DefaultRedisTimeout
	}
	if o.MaxEvents <= 0 {
		o.MaxEvents = DefaultMaxEvents
	}
	return o
}

// Open opens the store cfg selects with its data in dataDir and default
// options. See OpenWith.
func Open(ctx context.Context, cfg manifest.State, dataDir string) (Store, error) {
	return OpenWith(ctx, cfg, Options{DataDir: dataDir})
}

// OpenWith opens the store cfg selects. The embedded backend opens or
// creates state.db in opts.DataDir. The Redis backend connects to cfg.URL
// (redis://, rediss:// or unix://); when Redis cannot be reached now it
// starts down on the last known state kept in opts.DataDir, and fails when
// there is none: a start-up without the shared state is refused rather
// than guessed. On error the Store is nil.
func OpenWith(ctx context.Context, cfg manifest.State, opts Options) (Store, error) {
	opts = opts.withDefaults()
	switch cfg.Backend {
	case "", BackendEmbedded:
		return opened(openSQLite(ctx, opts))
	case BackendRedis:
		return opened(openRedis(ctx, cfg.URL, opts))
	}
	return nil, fmt.Errorf("state backend %q: unknown (want %s or %s)", cfg.Backend, BackendEmbedded, BackendRedis)
}

// opened returns s as a Store, or a nil Store with err: a nil *sqliteStore
// or *redisStore in a Store interface is not nil, and a caller's cleanup
// would call Close on it.
func opened[S Store](s S, err error) (Store, error) {
	if err != nil {
		return nil, err
	}
	return s, nil
}

func checkWeight(app string, weight int) error {
	if app == "" {
		return ErrNoApp
	}
	if weight < 0 || weight > 100 {
		return fmt.Errorf("setting weight of %s to %d: %w", app, weight, ErrWeightRange)
	}
	return nil
}

// setWeight is SetWeight on top of Update.
func setWeight(ctx context.Context, s Store, app string, weight int) error {
	if err := checkWeight(app, weight); err != nil {
		return err
	}
	_, err := s.Update(ctx, app, func(st *AppState) error {
		st.Weight = weight
		return nil
	})
	return err
}

// weightOf is Weight on top of Get.
func weightOf(ctx context.Context, s Store, app string) (int, bool, error) {
	st, ok, err := s.Get(ctx, app)
	if !ok {
		return 0, false, err
	}
	return st.Weight, true, err
}
