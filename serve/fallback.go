package serve

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/migratekit/migrate/admin"
	"github.com/migratekit/migrate/dashboards"
	"github.com/migratekit/migrate/manifest"
)

// fallbackPollEvery is how often the admin API of each app's `migrate
// fallback` (fallback.admin) is read for the straggler panel.
const fallbackPollEvery = 5 * time.Second

// remoteFallbacks feeds the dashboard's straggler panel from the admin API
// of the `migrate fallback` running on each app's old host (fallback.admin).
// Run polls them; FallbackStatus answers from the last reading and never
// waits on the network. An app whose last reading failed, or is older than
// three polls, has no panel (ok false) until a reading succeeds again.
type remoteFallbacks struct {
	clients map[string]*admin.Client // by app
	every   time.Duration
	clock   clockwork.Clock
	log     *slog.Logger

	mu   sync.Mutex
	last map[string]fallbackReading
}

// fallbackReading is the outcome of one poll of an app's fallback.
type fallbackReading struct {
	st  admin.FallbackStatus
	at  time.Time
	err error
}

// newRemoteFallbacks returns the poller of the named apps that set
// fallback.admin, or nil when none does. token is sent as the bearer token
// (the old host is not loopback: its reads need it). clock nil: the real
// clock.
func newRemoteFallbacks(m *manifest.Manifest, names []string, token string, clock clockwork.Clock, log *slog.Logger) *remoteFallbacks {
	clients := map[string]*admin.Client{}
	for _, name := range names {
		if a := m.Apps[name]; a != nil && a.Fallback.Admin != "" {
			clients[name] = &admin.Client{BaseURL: a.Fallback.Admin, Token: token}
		}
	}
	if len(clients) == 0 {
		return nil
	}
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &remoteFallbacks{clients: clients, every: fallbackPollEvery, clock: clock, log: log, last: map[string]fallbackReading{}}
}

// Run polls every fallback now and every few seconds until ctx ends.
func (r *remoteFallbacks) Run(ctx context.Context) error {
	r.poll(ctx)
	t := r.clock.NewTicker(r.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.Chan():
			r.poll(ctx)
		}
	}
}

// poll reads every app's fallback once, each within one poll interval.
func (r *remoteFallbacks) poll(ctx context.Context) {
	for app, c := range r.clients {
		rctx, cancel := context.WithTimeout(ctx, r.every)
		st, err := c.Fallback(rctx, app)
		cancel()
		if err != nil {
			err = fmt.Errorf("reading the fallback of %s at %s: %w", app, c.BaseURL, err)
		}
		r.record(app, fallbackReading{st: st, at: r.clock.Now(), err: err})
	}
}

// record keeps a reading and logs when an app's fallback starts failing,
// fails differently, or answers again.
func (r *remoteFallbacks) record(app string, cur fallbackReading) {
	r.mu.Lock()
	prev, seen := r.last[app]
	r.last[app] = cur
	r.mu.Unlock()
	switch {
	case cur.err != nil && (prev.err == nil || prev.err.Error() != cur.err.Error()):
		r.log.Warn("fallback unavailable: the dashboard hides its straggler panel", "app", app, "err", cur.err)
	case cur.err == nil && seen && prev.err != nil:
		r.log.Info("fallback answers again", "app", app)
	}
}

// FallbackStatus implements dashboards.FallbackProvider.
func (r *remoteFallbacks) FallbackStatus(ctx context.Context, app string) (dashboards.FallbackStatus, bool) {
	r.mu.Lock()
	rd, ok := r.last[app]
	r.mu.Unlock()
	if !ok || rd.err != nil || r.clock.Since(rd.at) > 3*r.every {
		return dashboards.FallbackStatus{}, false
	}
	return dashboards.FallbackFrom(rd.st), true
}

var _ dashboards.FallbackProvider = (*remoteFallbacks)(nil)
