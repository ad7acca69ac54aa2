package lb

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/migratekit/migrate/manifest"
)

// checker is the active health check of one pool. Each backend is probed
// by its own goroutine, every interval on the injected clock: `unhealthy`
// failed probes in a row eject it, `healthy` passing probes in a row bring
// it back (also after a passive ejection). Probes are plain GETs on the
// side's transport, bounded by the check timeout.
type checker struct {
	pool      *pool
	rt        http.RoundTripper
	path      *url.URL
	interval  time.Duration
	timeout   time.Duration
	healthy   int32
	unhealthy int32
	status    statusMatch
	clock     clockwork.Clock
}

func newChecker(p *pool, cfg manifest.Health, rt http.RoundTripper, clock clockwork.Clock) (*checker, error) {
	if cfg.Path == "" {
		return nil, nil
	}
	path, err := url.Parse(cfg.Path)
	if err != nil || !strings.HasPrefix(cfg.Path, "/") || path.Host != "" {
		return nil, fmt.Errorf("health path %q is not an absolute path", cfg.Path)
	}
	st, err := parseStatus(cfg.Status)
	if err != nil {
		return nil, err
	}
	return &checker{
		pool:      p,
		rt:        rt,
		path:      path,
		interval:  cfg.Interval.Or(manifest.DefaultHealthInterval),
		timeout:   cfg.Timeout.Or(manifest.DefaultHealthTimeout),
		healthy:   int32(orDefault(cfg.Healthy, manifest.DefaultHealthy)),
		unhealthy: int32(orDefault(cfg.Unhealthy, manifest.DefaultUnhealthy)),
		status:    st,
		clock:     clock,
	}, nil
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// run probes b until ctx is done: once at once, then every interval.
func (c *checker) run(ctx context.Context, b *backend) {
	probeURL := probeURL(b.url, c.path)
	var fails int32
	for !b.removed.Load() {
		c.check(ctx, b, probeURL, &fails)
		t := c.clock.NewTimer(c.interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.Chan():
		}
	}
}

// probeURL is the health path under the backend's base URL.
func probeURL(base, path *url.URL) string {
	u := *base
	u.Path, u.RawPath = joinURLPath(base, path)
	u.RawQuery = path.RawQuery
	return u.String()
}

// check runs one probe and applies the thresholds.
func (c *checker) check(ctx context.Context, b *backend, probeURL string, fails *int32) {
	err := c.probe(ctx, probeURL)
	if ctx.Err() != nil {
		return // shutting down: the probe says nothing about b
	}
	if err == nil {
		*fails = 0
		if b.pending.Load() {
			c.pool.admit(b, "first health check passed")
			return
		}
		if !b.up.Load() && b.passes.Add(1) >= c.healthy {
			c.pool.restore(b, 0, fmt.Sprintf("health check passed %d times", c.healthy))
		}
		return
	}
	b.passes.Store(0)
	*fails++
	if *fails >= c.unhealthy && b.up.Load() {
		c.pool.eject(b, fmt.Sprintf("health check failed %d times, last: %v", *fails, err))
	}
}

// probe returns nil when the backend answers probeURL with the expected
// status within the timeout.
func (c *checker) probe(ctx context.Context, probeURL string) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, probeURL, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "migrate-health-check")
	res, err := c.rt.RoundTrip(req)
	if err != nil {
		return err
	}
	_, _ = io.CopyN(io.Discard, res.Body, 64<<10)
	res.Body.Close()
	if !c.status.match(res.StatusCode) {
		return fmt.Errorf("status %d, want %s", res.StatusCode, c.status)
	}
	return nil
}

// statusMatch is an expected status: a class ("2xx") or a code ("200").
type statusMatch struct {
	class int // 1-5, or 0 when code is set
	code  int
}

func parseStatus(s string) (statusMatch, error) {
	s = cmp.Or(strings.ToLower(strings.TrimSpace(s)), manifest.DefaultHealthStatus)
	if len(s) == 3 && s[1:] == "xx" && s[0] >= '1' && s[0] <= '5' {
		return statusMatch{class: int(s[0] - '0')}, nil
	}
	code, err := strconv.Atoi(s)
	if err != nil || code < 100 || code > 599 {
		return statusMatch{}, fmt.Errorf("health status %q is not a class (2xx) or a code (200)", s)
	}
	return statusMatch{code: code}, nil
}

func (m statusMatch) match(code int) bool {
	if m.code != 0 {
		return code == m.code
	}
	return code/100 == m.class
}

func (m statusMatch) String() string {
	if m.code != 0 {
		return strconv.Itoa(m.code)
	}
	return strconv.Itoa(m.class) + "xx"
}
