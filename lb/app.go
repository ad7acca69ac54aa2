package lb

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"sync/atomic"

	"github.com/migratekit/migrate/telemetry"
)

// ErrWeightRange is returned for a weight outside 0..100.
var ErrWeightRange = errors.New("weight must be between 0 and 100")

const (
	sideOld = 0
	sideNew = 1
)

// App is one application served by the proxy: its old and new pools and
// the weighted sticky split between them.
type App struct {
	name     string
	weight   *atomic.Int32 // shared with the app of the same name before a reload
	cookie   string        // sticky cookie name; "" means sticky by client IP
	trusted  []netip.Prefix
	debug    bool
	failover bool
	cors     *corsPolicy
	sides    [2]*side
	mirror   Mirror       // nil: requests are only proxied
	handler  http.Handler // its handler on net/http's path, wrapped by Options.Middleware (paths.go)
	wrapped  bool         // handler has a middleware
	upgrades []string     // the protocols a client may switch to (Upgrade)

	live    *liveChecks // the proxy's, for backends added live (backends.go)
	metrics *telemetry.Metrics
	refused *telemetry.Refused // its listener's (a stalled body's 408)
	log     *slog.Logger
}

// Name returns the app's name in the manifest.
func (a *App) Name() string { return a.name }

// Weight returns the share (0-100) of clients sent to the new side.
func (a *App) Weight() int { return int(a.weight.Load()) }

// SetWeight sets the share (0-100) of clients sent to the new side. The next
// request sees it.
func (a *App) SetWeight(w int) error {
	if w < 0 || w > 100 {
		return fmt.Errorf("setting weight of %s to %d: %w", a.name, w, ErrWeightRange)
	}
	a.weight.Store(int32(w))
	a.metrics.SetWeight(a.name, w)
	a.log.Info("weight set", "weight", w)
	return nil
}

// Backends returns the state of every backend, old side first.
func (a *App) Backends() []BackendStatus {
	return append(a.sides[sideOld].pool.status(), a.sides[sideNew].pool.status()...)
}

// choose is the split of every path (see sticky.go): the side (sideOld
// or sideNew) of a client at the app's weight, and the value of a sticky
// cookie minted for it ("" if none). With a sticky cookie, the client's
// point is that of its cookie's value (cookie; false: it sent no valid
// one), else that of a new value when mint says so, else PointScale (the
// old side); without one, ip (the point of its address).
func choose[T string | []byte](a *App, cookie func() (T, bool), ip func() int, mint bool) (index int, minted string) {
	wt := int(a.weight.Load())
	switch wt {
	case 0:
		return sideOld, ""
	case 100:
		return sideNew, ""
	}
	point := PointScale
	if a.cookie == "" {
		point = ip()
	} else if v, ok := cookie(); ok {
		point = stickyPoint(v)
	} else if mint {
		minted = rand.Text()
		point = stickyPoint(minted)
	}
	if point < wt*(PointScale/100) {
		return sideNew, minted
	}
	return sideOld, minted
}

// serving returns the side that serves a client split to s: s while its
// pool is up, else the other side if failover is on and it is up (counted
// as a failover on s), else nil.
func (a *App) serving(s *side) *side {
	serving := a.servingSide(s)
	if serving != nil && serving != s {
		s.tel.Failover()
	}
	return serving
}

// servingSide is serving without counting a failover. With failover on,
// a side whose only backend left is failing (kept in rotation, the last
// of its pool, but suspect) hands its clients to a healthy other side
// until its backoff is over; without one, it keeps them.
func (a *App) servingSide(s *side) *side {
	other := a.sides[1-s.index]
	switch {
	case !a.failover:
	case s.pool.healthy():
		return s
	case other.pool.healthy():
		return other
	}
	if s.pool.up() {
		return s
	}
	if a.failover && other.pool.up() {
		return other
	}
	return nil
}

func (a *App) setCookie(v string, secure bool) string {
	c := a.cookie + "=" + v + "; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax"
	if secure {
		c += "; Secure"
	}
	return c
}
