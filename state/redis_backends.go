package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// The Redis store's live backends: the hash backends (under the prefix),
// one field per entry, "app\nside\nurl" -> the LiveBackend as JSON, and
// a marker field, so that a hash Redis lost (a restart without
// persistence) is told from one emptied by a reset and is written back
// from the last known overlays. A write sets the marker when the hash has
// it already or this instance knows no entry (nothing to write back); the
// write-back sets it after writing. Each change is one
// optimistic transaction on the hash that also publishes, on the changes
// channel, a notice {"backends_of": app}: the instances that get it
// re-read the hash at once (older instances skip it, it has no "app").
// The poll's re-read heals a lost notice. While Redis is down a change is
// applied here, kept in the local file in order, and written when Redis
// is back (a set unless another instance changed that backend later, a
// reset of what was there when it was made).

// liveMarker is the marker field of the backends hash.
const liveMarker = "\n"

// liveNotice is the message published after a change of app's overlay.
type liveNotice struct {
	BackendsOf string `json:"backends_of"`
}

func liveField(e LiveBackend) string { return e.App + "\n" + e.key() }

func (s *redisStore) SetBackend(ctx context.Context, e LiveBackend) (LiveBackend, error) {
	e, err := e.prepare(s.clock.Now())
	if err != nil {
		return LiveBackend{}, err
	}
	_, err = s.changeLive(ctx, backendOp{Op: opSet, Entry: e}, "recording live backend "+e.URL+" of "+e.App)
	return e, err
}

func (s *redisStore) RetireBackend(ctx context.Context, e LiveBackend) (bool, error) {
	n, err := s.changeLive(ctx, backendOp{Op: opRetire, Entry: e}, "retiring live backend "+e.URL+" of "+e.App)
	return n > 0, err
}

func (s *redisStore) ResetBackends(ctx context.Context, app string) (int, error) {
	if app == "" {
		return 0, ErrNoApp
	}
	o := backendOp{Op: opReset, Entry: LiveBackend{App: app, At: millis(s.clock.Now())}}
	return s.changeLive(ctx, o, "resetting live backends of "+app)
}

// changeLive makes o in Redis, or here while Redis is down, and returns
// how many entries it changed.
func (s *redisStore) changeLive(ctx context.Context, o backendOp, op string) (int, error) {
	if s.closed.Load() {
		return 0, fmt.Errorf("%s: %w", op, ErrClosed)
	}
	if cause := s.downCause(); cause != nil {
		return s.changeLiveHere(o, op, cause)
	}
	if s.local.hasPendingLive() {
		if err := s.flushLive(ctx); err != nil {
			return s.liveFailed(ctx, o, op, err)
		}
	}
	n, err := s.execLive(ctx, o, false)
	if err != nil {
		return s.liveFailed(ctx, o, op, err)
	}
	if err := s.refreshLive(ctx, o.Entry.App); err != nil {
		s.log.Warn("re-reading live backends after a change", "app", o.Entry.App, "err", err)
	}
	return n, nil
}

// liveFailed is the answer of a change whose write failed with err: when
// Redis did not answer, the change is made here.
func (s *redisStore) liveFailed(ctx context.Context, o backendOp, op string, err error) (int, error) {
	ferr := s.failed(ctx, op, err)
	if errors.Is(ferr, ErrStoreDown) {
		return s.changeLiveHere(o, op, err)
	}
	return 0, ferr
}

// changeLiveHere makes o on the last known overlay while Redis is down:
// in force here at once, kept in the local file, written when Redis is
// back. The error wraps ErrStoreDown and ErrPending.
func (s *redisStore) changeLiveHere(o backendOp, op string, cause error) (int, error) {
	s.decide.Lock()
	defer s.decide.Unlock()
	app := o.Entry.App
	cur := s.hub.liveOf(app)
	next, _ := o.applyTo(cur)
	s.local.putLive(o)
	s.hub.offerLive(app, next)
	s.logSaveError(s.saveLocal())
	s.log.Warn("state store down: live backend change applied here, saved when the store is back",
		"app", app, "change", o.Op, "backend", o.Entry.URL, "op", o.Entry.Op, "err", cause)
	n := len(cur) - len(next)
	if o.Op == opSet {
		n = 1
	}
	return n, fmt.Errorf("%s: %w: %w: %w", op, ErrStoreDown, ErrPending, cause)
}

// execLive makes o in one optimistic transaction on the backends hash,
// retried when another instance writes in between, and returns how many
// entries it changed. pending: o was made while Redis was down (a set
// yields to a later change of its backend, a reset spares the entries
// made after it).
func (s *redisStore) execLive(ctx context.Context, o backendOp, pending bool) (int, error) {
	var n int
	tx := func(tx *redis.Tx) error {
		var err error
		n, err = s.liveTx(ctx, tx, o, pending)
		return err
	}
	for range maxTxRetries {
		err := s.client.Watch(ctx, tx, s.keys.backends)
		if errors.Is(err, redis.TxFailedErr) {
			continue
		}
		return n, err
	}
	return 0, fmt.Errorf("%d concurrent writers in a row: %w", maxTxRetries, redis.TxFailedErr)
}

func (s *redisStore) liveTx(ctx context.Context, tx *redis.Tx, o backendOp, pending bool) (int, error) {
	set, del, err := s.planLive(ctx, tx, o, pending)
	if err != nil || (set == nil && len(del) == 0) {
		return 0, err
	}
	marked, err := tx.HExists(ctx, s.keys.backends, liveMarker).Result()
	if err != nil {
		return 0, err
	}
	mark := marked || len(s.hub.allLive()) == 0
	notice, err := json.Marshal(liveNotice{BackendsOf: o.Entry.App})
	if err != nil {
		return 0, err
	}
	_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
		if mark {
			p.HSet(ctx, s.keys.backends, liveMarker, "1")
		}
		if set != nil {
			p.HSet(ctx, s.keys.backends, liveField(o.Entry), set)
		}
		if len(del) > 0 {
			p.HDel(ctx, s.keys.backends, del...)
		}
		p.Publish(ctx, s.keys.changes, notice)
		return nil
	})
	if set != nil {
		return 1, err
	}
	return len(del), err
}

// planLive reads what o changes: the entry to set (its JSON) and the
// fields to delete.
func (s *redisStore) planLive(ctx context.Context, tx *redis.Tx, o backendOp, pending bool) ([]byte, []string, error) {
	if o.Op == opReset {
		all, err := tx.HGetAll(ctx, s.keys.backends).Result()
		if err != nil {
			return nil, nil, err
		}
		var del []string
		for f, v := range all {
			if !strings.HasPrefix(f, o.Entry.App+"\n") {
				continue
			}
			if e, err := decodeLive([]byte(v)); pending && err == nil && e.At.After(o.Entry.At) {
				continue // changed after the reset, by another instance
			}
			del = append(del, f)
		}
		return nil, del, nil
	}
	stored, ok, err := s.storedLive(ctx, tx, liveField(o.Entry))
	if err != nil {
		return nil, nil, err
	}
	if o.Op == opRetire {
		if ok && sameLive(stored, o.Entry) {
			return nil, []string{liveField(o.Entry)}, nil
		}
		return nil, nil, nil
	}
	if pending && ok && stored.At.After(o.Entry.At) {
		s.log.Warn("live backend change made while the state store was down is superseded by a later one",
			"app", o.Entry.App, "backend", o.Entry.URL, "op", o.Entry.Op, "later_op", stored.Op, "later_at", stored.At)
		return nil, nil, nil
	}
	b, err := json.Marshal(o.Entry)
	return b, nil, err
}

// storedLive reads the entry of field; ok is false when there is none or
// it does not decode (then it is replaced).
func (s *redisStore) storedLive(ctx context.Context, tx *redis.Tx, field string) (LiveBackend, bool, error) {
	v, err := tx.HGet(ctx, s.keys.backends, field).Result()
	if errors.Is(err, redis.Nil) {
		return LiveBackend{}, false, nil
	}
	if err != nil {
		return LiveBackend{}, false, err
	}
	e, err := decodeLive([]byte(v))
	return e, err == nil, nil
}

// readLive reads every overlay; exists is false when the backends hash
// has no marker (never written, or lost). An entry that does not decode,
// or whose field does not name it, is logged and left out.
func (s *redisStore) readLive(ctx context.Context) (map[string][]LiveBackend, bool, error) {
	raw, err := s.client.HGetAll(ctx, s.keys.backends).Result()
	if err != nil {
		return nil, false, fmt.Errorf("reading live backends: %w", err)
	}
	out := map[string][]LiveBackend{}
	_, exists := raw[liveMarker]
	for f, v := range raw {
		if f == liveMarker {
			continue
		}
		e, err := decodeLive([]byte(v))
		if err == nil && liveField(e) != f {
			err = fmt.Errorf("entry of %q stored under %q: %w", liveField(e), f, ErrInvalid)
		}
		if err != nil {
			s.log.Warn("skipping unreadable live backend", "field", f, "err", err)
			continue
		}
		out[e.App] = append(out[e.App], e)
	}
	return out, exists, nil
}

// refreshLive re-reads app's overlay and offers it to the hub, unless a
// change made here is pending (it is written first).
func (s *redisStore) refreshLive(ctx context.Context, app string) error {
	all, err := s.readLiveRestored(ctx)
	if err != nil {
		return err
	}
	if !s.local.hasPendingLive() {
		s.hub.offerLive(app, all[app])
	}
	return nil
}

func (s *redisStore) LiveBackends(ctx context.Context, app string) ([]LiveBackend, error) {
	op := "reading live backends of " + app
	if err := s.downError(op); err != nil {
		return s.hub.liveOf(app), err
	}
	if err := s.refreshLive(ctx, app); err != nil {
		return s.hub.liveOf(app), s.failed(ctx, op, err)
	}
	return s.hub.liveOf(app), nil
}

func (s *redisStore) WatchBackends(ctx context.Context) <-chan BackendsChange {
	return s.hub.watchLive(ctx)
}

// onLiveNotice takes a published notice: true when m is one (then app's
// overlay is re-read).
func (s *redisStore) onLiveNotice(ctx context.Context, payload string) bool {
	var n liveNotice
	if json.Unmarshal([]byte(payload), &n) != nil || n.BackendsOf == "" {
		return false
	}
	if err := s.refreshLive(ctx, n.BackendsOf); err != nil {
		s.log.Warn("re-reading live backends after a change notice", "app", n.BackendsOf, "err", err)
	}
	return true
}

// flushLive writes the changes made while Redis was down, in order, and
// stops at the first that cannot be written.
func (s *redisStore) flushLive(ctx context.Context) error {
	s.flushing.Lock()
	defer s.flushing.Unlock()
	for _, o := range s.local.pendingLive() {
		if _, err := s.execLive(ctx, o, true); err != nil {
			return fmt.Errorf("writing the live backend change of %s made while the store was down: %w", o.Entry.App, err)
		}
		s.local.resolveLive(o)
		s.log.Info("live backend change made while the state store was down is saved",
			"app", o.Entry.App, "change", o.Op, "backend", o.Entry.URL, "op", o.Entry.Op)
	}
	return nil
}

// syncLive re-reads every overlay (after writing the pending changes,
// which flushLive did) and gives the hub what Redis holds; when Redis
// lost the hash, the last known overlays are written back first.
func (s *redisStore) syncLive(ctx context.Context, since uint64, all bool) error {
	live, err := s.readLiveRestored(ctx)
	if err != nil {
		return err
	}
	s.hub.replaceLive(live, since, all)
	return nil
}

// readLiveRestored reads every overlay; when Redis lost the hash, the
// last known overlays are written back first (a change written since,
// by this instance's pending ones or another's, is kept), so that what
// is read is never an overlay Redis forgot.
func (s *redisStore) readLiveRestored(ctx context.Context) (map[string][]LiveBackend, error) {
	live, exists, err := s.readLive(ctx)
	if err == nil && !exists && s.restoreLive(ctx) {
		live, _, err = s.readLive(ctx)
	}
	return live, err
}

// restoreLiveScript writes entries back into a backends hash Redis lost:
// each unless a field is there by then, the marker, and a notice per app.
// KEYS[1] backends hash; ARGV channel, marker, then field, entry, notice
// triples.
var restoreLiveScript = redis.NewScript(`
redis.call('HSETNX', KEYS[1], ARGV[2], '1')
for i = 3, #ARGV, 3 do
	if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i+1]) == 1 then
		redis.call('PUBLISH', ARGV[1], ARGV[i+2])
	end
end
return 1`)

// restoreLive writes the last known overlays into Redis, which lost its
// backends hash, and reports whether there were any.
func (s *redisStore) restoreLive(ctx context.Context) bool {
	known := s.hub.allLive()
	if len(known) == 0 {
		return false
	}
	args := []any{s.keys.changes, liveMarker}
	for _, e := range known {
		b, _ := json.Marshal(e)
		n, _ := json.Marshal(liveNotice{BackendsOf: e.App})
		args = append(args, liveField(e), b, n)
	}
	if err := restoreLiveScript.Run(ctx, s.client, []string{s.keys.backends}, args...).Err(); err != nil {
		s.log.Warn("restoring live backends Redis lacked", "err", err)
		return true
	}
	s.log.Info("restored live backends Redis lacked", "entries", len(known))
	return true
}
