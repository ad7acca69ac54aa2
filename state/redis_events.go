package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// eventField is the stream entry field holding the event as JSON.
const eventField = "e"

// eventPage is how many stream entries Events reads per round trip.
const eventPage = 500

// AppendEvent adds e to the events stream, then writes it with its ID to
// the audit log. While Redis is down the event goes to the audit log and
// is kept for Redis (in the local file too), appended when Redis is back;
// it comes back without ID, with an error wrapping ErrStoreDown and
// ErrPending.
func (s *redisStore) AppendEvent(ctx context.Context, e Event) (Event, error) {
	e, err := e.prepare(s.clock.Now())
	if err != nil {
		return Event{}, err
	}
	op := "appending " + e.Kind + " event"
	if s.closed.Load() {
		return Event{}, fmt.Errorf("%s: %w", op, ErrClosed)
	}
	cause := s.downCause()
	if cause == nil {
		var id string
		if id, err = s.addEvent(ctx, e); err != nil {
			if err = s.failed(ctx, op, err); errors.Is(err, ErrStoreDown) {
				cause = err
			}
		}
		e.ID = id
	}
	if cause != nil {
		s.local.queue(e)
		s.logSaveError(s.saveLocal())
		err = fmt.Errorf("%s: %w: %w: %w", op, ErrStoreDown, ErrPending, cause)
	}
	if werr := s.audit.write(e); werr != nil && err == nil {
		err = werr
	}
	return e, err
}

// addEvent appends e to the stream and returns its ID.
func (s *redisStore) addEvent(ctx context.Context, e Event) (string, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return "", fmt.Errorf("encoding event: %w", err)
	}
	return s.client.XAdd(ctx, &redis.XAddArgs{
		Stream: s.keys.events,
		MaxLen: s.maxEvents,
		Approx: true,
		Values: []any{eventField, b},
	}).Result()
}

// Events pages backwards through the stream from the newest entry until it
// has q.Limit matches or passes q.After, and returns them oldest first.
func (s *redisStore) Events(ctx context.Context, q Query) ([]Event, error) {
	if err := s.downError("reading events"); err != nil {
		return nil, err
	}
	stop := "-"
	if q.After != "" {
		if !validStreamID(q.After) {
			return nil, fmt.Errorf("reading events: cursor %q: %w", q.After, ErrInvalid)
		}
		stop = "(" + q.After
	}
	out, limit := []Event{}, q.limit()
	for start := "+"; ; {
		msgs, err := s.client.XRevRangeN(ctx, s.keys.events, start, stop, eventPage).Result()
		if err != nil {
			return nil, s.failed(ctx, "reading events", err)
		}
		for _, m := range msgs {
			if e, ok := s.decodeEvent(m); ok && q.match(e) {
				out = append(out, e)
				if len(out) == limit {
					slices.Reverse(out)
					return out, nil
				}
			}
		}
		if len(msgs) < eventPage {
			break
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
	slices.Reverse(out)
	return out, nil
}

func (s *redisStore) decodeEvent(m redis.XMessage) (Event, bool) {
	v, _ := m.Values[eventField].(string)
	var e Event
	if err := json.Unmarshal([]byte(v), &e); err != nil || e.Kind == "" {
		s.log.Warn("skipping unreadable event", "id", m.ID, "err", err)
		return Event{}, false
	}
	e.ID = m.ID
	return e, true
}

// validStreamID reports whether id is a stream entry ID, "ms-seq".
func validStreamID(id string) bool {
	ms, seq, ok := strings.Cut(id, "-")
	if !ok {
		return false
	}
	_, err1 := strconv.ParseUint(ms, 10, 64)
	_, err2 := strconv.ParseUint(seq, 10, 64)
	return err1 == nil && err2 == nil
}
