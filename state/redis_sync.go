package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/redis/go-redis/v9"
)

// health is whether the Redis store reaches Redis.
type health struct {
	mu    sync.Mutex
	up    bool
	since time.Time
	err   error
	// down is the store_down event of the current outage, appended to
	// Redis once it is back (it is in the audit log already).
	down *Event
}

func (h *health) status() Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := Status{Backend: BackendRedis, Up: h.up, Since: h.since}
	if h.err != nil {
		st.Err = h.err.Error()
	}
	return st
}

// setDown records an outage; false when the store was down already.
func (h *health) setDown(now time.Time, err error, e *Event) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.up {
		return false
	}
	h.up, h.since, h.err, h.down = false, now, err, e
	return true
}

// setUp ends the outage and returns its store_down event and start.
func (h *health) setUp(now time.Time) (*Event, time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e, since := h.down, h.since
	h.up, h.since, h.err, h.down = true, now, nil, nil
	return e, since
}

// downError is the error of op while the store is down, nil while it is up.
func (s *redisStore) downError(op string) error {
	if s.closed.Load() {
		return fmt.Errorf("%s: %w", op, ErrClosed)
	}
	s.health.mu.Lock()
	defer s.health.mu.Unlock()
	if s.health.up {
		return nil
	}
	return fmt.Errorf("%s: %w: %w", op, ErrStoreDown, s.health.err)
}

// downCause is why the store is down, nil while it is up.
func (s *redisStore) downCause() error {
	s.health.mu.Lock()
	defer s.health.mu.Unlock()
	if s.health.up {
		return nil
	}
	return s.health.err
}

// failed turns the error of a Redis call made for op into the error to
// return, marking the store down when Redis did not answer.
func (s *redisStore) failed(ctx context.Context, op string, err error) error {
	if !s.unreachable(ctx, err) {
		return fmt.Errorf("%s: %w", op, err)
	}
	s.markDown(err)
	return fmt.Errorf("%s: %w: %w", op, ErrStoreDown, err)
}

// unreachable reports whether err means Redis did not answer (rather than
// answered with an error, or the caller gave up).
func (s *redisStore) unreachable(ctx context.Context, err error) bool {
	if err == nil || errors.Is(err, redis.Nil) || ctx.Err() != nil || s.closed.Load() {
		return false
	}
	if redis.HasErrorPrefix(err, "LOADING") || redis.HasErrorPrefix(err, "MASTERDOWN") {
		return true // up but not serving
	}
	var answered redis.Error
	return !errors.As(err, &answered)
}

// markDown records the outage, logs it and writes a store_down event to
// the audit log (and to Redis once it is back).
func (s *redisStore) markDown(err error) {
	now := s.clock.Now()
	e, _ := Event{Kind: KindStoreDown, Actor: ActorStore, Reason: err.Error()}.prepare(now)
	if !s.health.setDown(now, err, &e) {
		return
	}
	s.log.Warn("state store down: serving the last known state", "err", err)
	if err := s.audit.write(e); err != nil {
		s.log.Error("recording store_down", "err", err)
	}
}

// recovered ends an outage: the pending decisions are written and the
// states re-read already; it logs and records the store_down event, the
// events kept during the outage and the store_up event.
func (s *redisStore) recovered(ctx context.Context) {
	now := s.clock.Now()
	down, since := s.health.setUp(now)
	s.log.Info("state store up again", "down_for", now.Sub(since).String())
	if down != nil {
		if _, err := s.addEvent(ctx, *down); err != nil {
			s.log.Warn("recording store_down", "err", err)
		}
	}
	if err := s.flushEvents(ctx); err != nil {
		s.log.Warn("appending the events kept while the state store was down", "err", err)
	}
	up := Event{Kind: KindStoreUp, Actor: ActorStore, Reason: fmt.Sprintf("down for %s", now.Sub(since).Round(time.Millisecond))}
	if _, err := s.AppendEvent(ctx, up); err != nil {
		s.log.Warn("recording store_up", "err", err)
	}
}

// run takes the published states and polls at every tick until ctx is done.
func (s *redisStore) run(ctx context.Context, tick clockwork.Ticker, msgs <-chan *redis.Message) {
	defer close(s.loopDone)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-msgs:
			if !ok {
				msgs = nil
				continue
			}
			s.onMessage(ctx, m)
		case <-tick.Chan():
			s.poll(ctx)
		}
	}
}

func (s *redisStore) onMessage(ctx context.Context, m *redis.Message) {
	if s.onLiveNotice(ctx, m.Payload) {
		return
	}
	st, err := decodeState(m.Payload)
	if err != nil {
		s.log.Warn("skipping unreadable change", "err", err)
		return
	}
	if !s.local.hasPending(st.App) {
		s.hub.offer(st)
	}
}

// poll syncs with Redis (healing a missed message), ends an outage when
// Redis answers again (then every app's state is delivered to the
// watchers again), and saves the local file when it changed.
func (s *redisStore) poll(ctx context.Context) {
	wasUp := s.health.status().Up
	err := s.sync(ctx, !wasUp)
	switch {
	case err == nil && !wasUp:
		s.recovered(ctx)
	case err != nil && s.unreachable(ctx, err):
		s.markDown(err)
	case err != nil:
		s.log.Warn("re-reading state", "err", err)
	}
	s.logSaveError(s.saveLocal())
}

// sync writes the pending decisions and live backend changes, then
// re-reads every app and overlay, writes back what Redis lost, and gives
// the hub what Redis holds (all: to every watcher again, changed or not).
func (s *redisStore) sync(ctx context.Context, all bool) error {
	if err := s.flushPending(ctx); err != nil {
		return err
	}
	if err := s.flushLive(ctx); err != nil {
		return err
	}
	since := s.hub.mark()
	states, err := s.readAll(ctx)
	if err == nil && s.writeBack(ctx, states) {
		states, err = s.readAll(ctx)
	}
	if err != nil {
		return err
	}
	s.hub.replace(s.withoutPending(states), since, all)
	return s.syncLive(ctx, since, all)
}

// logSaveError logs an error saving the local file when it differs from
// the last one (a full disk would otherwise log every second).
func (s *redisStore) logSaveError(err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	if msg == s.saveErr {
		return
	}
	s.saveErr = msg
	if err != nil {
		s.log.Error("saving the last known state", "err", err)
	} else {
		s.log.Info("saving the last known state works again")
	}
}

// restoreScript saves an app's state unless Redis has one, and publishes it
// if so. KEYS[1] apps hash; ARGV channel, app, state.
var restoreScript = redis.NewScript(`
if redis.call('HSETNX', KEYS[1], ARGV[2], ARGV[3]) == 1 then
	redis.call('PUBLISH', ARGV[1], ARGV[3])
	return 1
end
return 0`)

// writeBack restores into Redis the known apps it lacks (it restarted
// empty or lost them), and reports whether it tried any.
func (s *redisStore) writeBack(ctx context.Context, all []AppState) bool {
	have := make(map[string]bool, len(all))
	for _, st := range all {
		have[st.App] = true
	}
	tried := false
	for _, st := range s.hub.all() {
		if have[st.App] {
			continue
		}
		tried = true
		b, err := json.Marshal(st)
		if err == nil {
			err = restoreScript.Run(ctx, s.client, []string{s.keys.apps}, s.keys.changes, st.App, b).Err()
		}
		if err != nil {
			s.log.Warn("restoring app state", "app", st.App, "err", err)
			continue
		}
		s.log.Info("restored app state Redis lacked", "app", st.App, "version", st.Version)
	}
	return tried
}
