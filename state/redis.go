package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
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
//	         transaction as the write
//
// Its loop takes the published states and re-reads the hash at every poll
// interval, which also tells whether Redis is up; see redis_sync.go.
type redisStore struct {
	client    *redis.Client
	pubsub    *redis.PubSub
	keys      redisKeys
	addr      string // the URL without its password, for messages
	clock     clockwork.Clock
	log       *slog.Logger
	audit     *auditLog
	hub       *hub
	health    health
	maxEvents int64

	stop      context.CancelFunc
	loopDone  chan struct{}
	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

type redisKeys struct{ apps, events, changes string }

func newRedisKeys(prefix string) redisKeys {
	return redisKeys{apps: prefix + "apps", events: prefix + "events", changes: prefix + "changes"}
}

// maxTxRetries bounds the optimistic transactions of one Update.
const maxTxRetries = 100

// openRedis connects to rawURL, subscribes to the changes, reads every app
// and starts the loop. It fails when Redis cannot be reached.
func openRedis(ctx context.Context, rawURL string, opts Options) (*redisStore, error) {
	ropts, addr, err := redisOptions(rawURL, opts.RedisTimeout)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data dir %s: %w", opts.DataDir, err)
	}
	s := &redisStore{
		client:    redis.NewClient(ropts),
		keys:      newRedisKeys(opts.KeyPrefix),
		addr:      addr,
		clock:     opts.Clock,
		log:       opts.Logger.With("state", BackendRedis, "addr", addr),
		hub:       newHub(),
		health:    health{up: true},
		maxEvents: int64(opts.MaxEvents),
	}
	msgs, err := s.start(ctx, opts.DataDir)
	if err != nil {
		s.closeClients()
		return nil, err
	}
	loopCtx, stop := context.WithCancel(context.Background())
	s.stop, s.loopDone = stop, make(chan struct{})
	go s.run(loopCtx, opts.Clock.NewTicker(opts.PollInterval), msgs)
	return s, nil
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
// between), reads every app and opens the audit log.
func (s *redisStore) start(ctx context.Context, dir string) (<-chan *redis.Message, error) {
	s.pubsub = s.client.Subscribe(ctx, s.keys.changes)
	if _, err := s.pubsub.Receive(ctx); err != nil {
		return nil, fmt.Errorf("opening state store %s: subscribing: %w", s.addr, err)
	}
	all, err := s.readAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("opening state store %s: %w", s.addr, err)
	}
	s.hub.replace(all, 0, false)
	if s.audit, err = openAuditLog(dir); err != nil {
		return nil, err
	}
	return s.pubsub.Channel(redis.WithChannelSize(256)), nil
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
	for _, st := range all {
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
	if err := s.downError(op); err != nil {
		return AppState{}, err
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
			return AppState{}, s.failed(ctx, op, err)
		}
		s.hub.offer(saved)
		return saved, nil
	}
	return AppState{}, fmt.Errorf("%s: %d concurrent writers in a row: %w", op, maxTxRetries, redis.TxFailedErr)
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

func (s *redisStore) Status() Status { return s.health.status() }

func (s *redisStore) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.stop()
		<-s.loopDone
		errs := []error{s.closeClients()}
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
