package dnscheck

import (
	"context"
	"fmt"
	"sync"

	"golang.org/x/time/rate"

	"github.com/migratekit/migrate/manifest"
)

// Limits holds one rate limiter per server, so that every check of a
// process (a watch re-checks many records against the same servers)
// respects the same per-server rate. A nil *Limits does not limit.
type Limits struct {
	limit rate.Limit
	burst int
	mu    sync.Mutex
	by    map[string]*rate.Limiter
}

// NewLimits returns limits of perSecond queries per server ([manifest.DefaultDNSRate]
// when not positive), with a burst of a tenth of that (at least one), so
// that the record and SOA queries of one check go out together while no
// server gets more than perSecond plus the burst in any second.
func NewLimits(perSecond float64) *Limits {
	if perSecond <= 0 {
		perSecond = manifest.DefaultDNSRate
	}
	return &Limits{limit: rate.Limit(perSecond), burst: max(1, int(perSecond/10)), by: make(map[string]*rate.Limiter)}
}

// Wait blocks until a query may be sent to server.
func (l *Limits) Wait(ctx context.Context, server string) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	lim := l.by[server]
	if lim == nil {
		lim = rate.NewLimiter(l.limit, l.burst)
		l.by[server] = lim
	}
	l.mu.Unlock()
	if err := lim.Wait(ctx); err != nil {
		return fmt.Errorf("waiting for the rate limit of %s: %w", server, err)
	}
	return nil
}
