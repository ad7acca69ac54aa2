package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// redisStore is the Redis Store. Keys, under the prefix:
//
//	apps     hash, app name -> AppState as JSON
//	events   stream, one entry per event (field "e": the Event as JSON),
//	         trimmed to about MaxEvents entries
//	changes  channel: every saved AppState as JSON, published in the same
//	         transaction as the write, and the notices of live backend
//	         changes ({"backends_of": app})
//	backends hash, the live backends (redis_backends.go)
//
// Its loop takes the published states and re-reads the hash at every poll
// interval, which also tells whether Redis is up; see redis_sync.go. It
// keeps the last known states, and the decisions taken while Redis is
// down, in the data dir (redis_local.go, redis_pending.go).
type redisStore struct {
	client    *redis.Client
	pubsub    *redis.PubSub
	keys      redisKeys
	addr      string // the URL without its password, for messages
	clock     clockwork.Clock
	log       *slog.Logger
	audit     *auditLog
	local     *local
	hub       *hub
	health    health
	maxEvents int64

	decide   sync.Mutex // serialises the decisions taken while Redis is down
	flushing sync.Mutex // one writer of the pending decisions at a time
	saveMu   sync.Mutex
	saveErr  string // the last error saving the local file, logged once

	stop      context.CancelFunc
	loopDone  chan struct{}
	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

type redisKeys struct{ apps, events, changes, backends string }

func newRedisKeys(prefix string) redisKeys {
	return redisKeys{apps: prefix + "apps", events: prefix + "events", changes: prefix + "changes", backends: prefix + "backends"}
}

// maxTxRetries bounds the optimistic transactions of one Update.
const maxTxRetries = 100

// openRedis opens the audit log and the local file, connects to rawURL,
// subscribes to the changes, writes the pending decisions, reads every
// app and starts the loop. When Redis cannot be reached it starts on the
// last known state of the local file, as down; without one it fails.
func openRedis(ctx context.Context, rawURL string, opts Options) (*redisStore, error) {
	ropts, addr, err := redisOptions(rawURL, opts.RedisTimeout)
	if err != nil {
		return nil, err
	}
	if err := makeDataDir(opts.DataDir); err != nil {
		return nil, err
	}
	s := &redisStore{
		keys:      newRedisKeys(opts.KeyPrefix),
		addr:      addr,
		clock:     opts.Clock,
		log:       opts.Logger.With("state", BackendRedis, "addr", addr),
		hub:       newHub(),
		health:    health{up: true},
		maxEvents: int64(opts.MaxEvents),
	}
	if err := s.openLocal(opts.DataDir, opts.KeyPrefix); err != nil {
		return nil, err
	}
	s.client = redis.NewClient(ropts)
	msgs, err := s.start(ctx)
	if err != nil {
		s.closeClients()
		s.audit.close()
		return nil, err
	}
	loopCtx, stop := context.WithCancel(context.Background())
	s.stop, s.loopDone = stop, make(chan struct{})
	go s.run(loopCtx, opts.Clock.NewTicker(opts.PollInterval), msgs)
	return s, nil
}

// openLocal opens the audit log and the local file, whose last known
// states and pending decisions become the hub's.
func (s *redisStore) openLocal(dir, prefix string) error {
	var err error
	if s.audit, err = openAuditLog(dir); err != nil {
		return err
	}
	l, known, live, err := loadLocal(dir, s.addr, prefix, s.log.Warn)
	if err != nil {
		s.audit.close()
		return fmt.Errorf("opening state store %s: %w", s.addr, err)
	}
	s.local = l
	s.hub.replace(known, 0, false)
	for _, p := range l.pendings() {
		s.hub.replace([]AppState{p.State}, 0, false)
	}
	byApp := groupLive(live)
	for _, o := range l.pendingLive() {
		byApp[o.Entry.App], _ = o.applyTo(byApp[o.Entry.App])
	}
	s.hub.replaceLive(byApp, 0, false)
	return nil
}

// redisOptions parses rawURL into client options with migrate's timeouts
// and retries, and returns the URL without its password.
func redisOptions(rawURL string, timeout time.Duration) (*redis.Options, string, error) {
	if rawURL == "" {
		return nil, "", fmt.Errorf("state backend redis: no url: %w", ErrInvalid)
	}
	addr := "(unparsable url)"
	if u, err := url.Parse(rawURL); err == nil {
		addr = u.Redacted()
	}
	o, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, "", fmt.Errorf("parsing state url %s: %w", addr, err)
	}
	for _, d := range []*time.Duration{&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout} {
		if *d == 0 {
			*d = timeout
		}
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = 1 // one retry: a pooled connection from before a restart
	}
	o.DialerRetries = 1 // fail fast: the loop retries every poll interval
	o.DisableIdentity = true
	o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return o, addr, nil
}

// start subscribes to the changes (before reading, so no change falls in
// between) and syncs with Redis: the pending decisions first, then every
// app. When Redis does not answer and there is a last known state, the
// store starts down on it; the subscription and the loop keep trying.
func (s *redisStore) start(ctx context.Context) (<-chan *redis.Message, error) {
	s.pubsub = s.client.Subscribe(ctx, s.keys.changes)
	_, err := s.pubsub.Receive(ctx)
	if err == nil {
		err = s.sync(ctx, false)
	}
	switch {
	case err == nil:
		if err := s.flushEvents(ctx); err != nil {
			s.log.Warn("appending the events kept while the state store was down", "err", err)
		}
		s.logSaveError(s.saveLocal())
		s.logEmpty()
	case !s.unreachable(ctx, err):
		return nil, fmt.Errorf("opening state store %s: %w", s.addr, err)
	case len(s.hub.all()) == 0:
		return nil, fmt.Errorf("opening state store %s: it is unreachable and %s holds no last known state to start on "+
			"(start once with the store reachable): %w", s.addr, s.local.path, err)
	default:
		s.markDown(err)
		s.log.Warn("state store unreachable at start: serving the last known state until it is back",
			"path", s.local.path, "apps", len(s.hub.all()), "pending_decisions", s.local.count(), "err", err)
	}
	return s.pubsub.Channel(redis.WithChannelSize(256)), nil
}

// logEmpty says that the state starts from nothing: Redis and the local
// file know no app.
func (s *redisStore) logEmpty() {
	if len(s.hub.all()) == 0 {
		s.log.Warn("state store starts from nothing: no app state in redis; every app starts at its manifest weight")
	}
}

// readAll reads every app's state from Redis, sorted by name. An entry
// that does not decode is logged and left out.
func (s *redisStore) readAll(ctx context.Context) ([]AppState, error) {
	raw, err := s.client.HGetAll(ctx, s.keys.apps).Result()
	if err != nil {
		return nil, fmt.Errorf("reading apps: %w", err)
	}
	out := make([]AppState, 0, len(raw))
	for app, v := range raw {
		st, err := decodeState(v)
		if err != nil || st.App != app {
			s.log.Warn("skipping unreadable app state", "app", app, "err", err)
			continue
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b AppState) int { return strings.Compare(a.App, b.App) })
	return out, nil
}

func decodeState(v string) (AppState, error) {
	var st AppState
	if err := json.Unmarshal([]byte(v), &st); err != nil {
		return AppState{}, fmt.Errorf("decoding app state: %w", err)
	}
	if st.App == "" {
		return AppState{}, fmt.Errorf("decoding app state: no app: %w", ErrInvalid)
	}
	return st, nil
}

func (s *redisStore) Get(ctx context.Context, app string) (AppState, bool, error) {
	if err := s.downError("reading state of " + app); err != nil {
		st, ok := s.hub.get(app)
		return st, ok, err
	}
	if s.local.hasPending(app) {
		st, ok := s.hub.get(app) // the decision taken here, not written yet
		return st, ok, nil
	}
	v, err := s.client.HGet(ctx, s.keys.apps, app).Result()
	if errors.Is(err, redis.Nil) {
		st, ok := s.hub.get(app) // lost by Redis: the loop writes it back
		return st, ok, nil
	}
	if err != nil {
		st, ok := s.hub.get(app)
		return st, ok, s.failed(ctx, "reading state of "+app, err)
	}
	st, err := decodeState(v)
	if err != nil {
		return AppState{}, false, fmt.Errorf("reading state of %s: %w", app, err)
	}
	s.hub.offer(st)
	return st, true, nil
}

func (s *redisStore) Apps(ctx context.Context) ([]AppState, error) {
	if err := s.downError("reading apps"); err != nil {
		return s.hub.all(), err
	}
	all, err := s.readAll(ctx)
	if err != nil {
		return s.hub.all(), s.failed(ctx, "reading apps", err)
	}
	for _, st := range s.withoutPending(all) {
		s.hub.offer(st)
	}
	return s.hub.all(), nil
}

// applyError carries the error of Update's fn out of the transaction.
type applyError struct{ err error }

func (e applyError) Error() string { return e.err.Error() }

func (s *redisStore) Update(ctx context.Context, app string, fn func(*AppState) error) (AppState, error) {
	if app == "" {
		return AppState{}, ErrNoApp
	}
	op := "updating state of " + app
	if s.closed.Load() {
		return AppState{}, fmt.Errorf("%s: %w", op, ErrClosed)
	}
	if cause := s.downCause(); cause != nil {
		return s.decideHere(app, op, fn, cause)
	}
	if s.local.hasPending(app) {
		if err := s.flushPending(ctx); err != nil {
			return s.updateFailed(ctx, app, op, fn, err)
		}
	}
	var saved AppState
	tx := func(tx *redis.Tx) error {
		var err error
		saved, err = s.updateTx(ctx, tx, app, fn)
		return err
	}
	for range maxTxRetries {
		err := s.client.Watch(ctx, tx, s.keys.apps)
		if errors.Is(err, redis.TxFailedErr) {
			continue
		}
		if ae, ok := errors.AsType[applyError](err); ok {
			return AppState{}, ae.err
		}
		if err != nil {
			return s.updateFailed(ctx, app, op, fn, err)
		}
		s.hub.offer(saved)
		return saved, nil
	}
	return AppState{}, fmt.Errorf("%s: %d concurrent writers in a row: %w", op, maxTxRetries, redis.TxFailedErr)
}

// updateFailed is the answer of an Update whose write failed with err:
// when Redis did not answer, the decision is taken here.
func (s *redisStore) updateFailed(ctx context.Context, app, op string, fn func(*AppState) error, err error) (AppState, error) {
	ferr := s.failed(ctx, op, err)
	if errors.Is(ferr, ErrStoreDown) {
		return s.decideHere(app, op, fn, err)
	}
	return AppState{}, ferr
}

// updateTx is one optimistic read-modify-write of app: read, apply fn,
// then write and publish in MULTI (which fails if the hash changed since
// the read). A state Redis lost is rebuilt from the last known one.
func (s *redisStore) updateTx(ctx context.Context, tx *redis.Tx, app string, fn func(*AppState) error) (AppState, error) {
	cur, ok := AppState{App: app}, false
	v, err := tx.HGet(ctx, s.keys.apps, app).Result()
	switch {
	case errors.Is(err, redis.Nil):
		if known, found := s.hub.get(app); found {
			cur, ok = known, true
		}
	case err != nil:
		return AppState{}, err
	default:
		if cur, err = decodeState(v); err != nil {
			return AppState{}, applyError{fmt.Errorf("updating state of %s: %w", app, err)}
		}
		ok = true
	}
	st, changed, err := apply(cur, ok, fn, s.clock.Now())
	if err != nil {
		return AppState{}, applyError{err}
	}
	if !changed {
		return st, nil
	}
	b, err := json.Marshal(st)
	if err != nil {
		return AppState{}, applyError{fmt.Errorf("encoding state of %s: %w", app, err)}
	}
	_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.keys.apps, app, b)
		p.Publish(ctx, s.keys.changes, b)
		return nil
	})
	return st, err
}

func (s *redisStore) Weight(ctx context.Context, app string) (int, bool, error) {
	return weightOf(ctx, s, app)
}

func (s *redisStore) SetWeight(ctx context.Context, app string, weight int) error {
	return setWeight(ctx, s, app, weight)
}

func (s *redisStore) Watch(ctx context.Context) <-chan Change { return s.hub.watch(ctx) }

func (s *redisStore) Status() Status {
	st := s.health.status()
	st.Pending = s.local.count()
	st.PendingBackends = s.local.countLive()
	return st
}

func (s *redisStore) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.stop()
		<-s.loopDone
		errs := []error{s.closeClients(), s.saveLocal()}
		s.hub.close()
		if err := s.audit.close(); err != nil {
			errs = append(errs, err)
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// closeClients closes the subscription and the client (and with it every
// goroutine go-redis started).
func (s *redisStore) closeClients() error {
	var errs []error
	if s.pubsub != nil {
		if err := s.pubsub.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing state store subscription: %w", err))
		}
	}
	if err := s.client.Close(); err != nil {
		errs = append(errs, fmt.Errorf("closing state store %s: %w", s.addr, err))
	}
	return errors.Join(errs...)
}
