package lb

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/migratekit/migrate/internal/h1"
	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/telemetry"
)

// maxRetryBody is the largest request body buffered so that an idempotent
// request can be retried on another backend.
const maxRetryBody = 1 << 20

// side is one side (old or new) of an app: its pool of backends, their
// timeouts and TLS settings, and its telemetry. Each data path proxies to
// it in its own way (loopup_linux.go, httpside.go).
type side struct {
	app         *App
	index       int    // sideOld or sideNew
	name        string // telemetry.SideOld or telemetry.SideNew
	pool        *pool
	tel         *telemetry.Side
	log         *slog.Logger
	unavailable string // body of the 502 when the pool is down
	timeouts    manifest.Timeouts
	tlsConfig   *tls.Config // for https backends; nil: the system's roots
	check       *checker    // the active health check; nil: none

	// Its timeouts to its backends, defaults applied.
	connectTimeout, headerTimeout, idleTimeout time.Duration

	// Header values shared by every request, never modified (capacity 1:
	// an append copies).
	debugValue []string // X-Migrate-Side
}

func newSide(a *App, index int, cfg manifest.Pool, timeouts manifest.Timeouts, deps sideDeps) (*side, error) {
	name := telemetry.SideOld
	if index == sideNew {
		name = telemetry.SideNew
	}
	tel := deps.metrics.Side(a.name, name)
	p, err := newPool(name, cfg, deps.clock, tel, a.log)
	if err != nil {
		return nil, fmt.Errorf("configuring %s pool: %w", name, err)
	}
	s := &side{
		app:         a,
		index:       index,
		name:        name,
		pool:        p,
		tel:         tel,
		log:         a.log.With("side", name),
		timeouts:    timeouts,
		unavailable: name + " backend unavailable\n",

		connectTimeout: timeouts.Connect.Or(manifest.DefaultConnectTimeout),
		headerTimeout:  timeouts.ResponseHeader.Or(manifest.DefaultResponseHeaderTimeout),
		idleTimeout:    timeouts.Idle.Or(manifest.DefaultIdleTimeout),
		debugValue:     []string{name},
	}
	if c := deps.tls[PoolKey{App: a.name, Side: name}]; c != nil {
		s.tlsConfig = c.Clone()
	}
	return s, nil
}

// newTransport is a new http.Transport to the side's backends (see
// newTransport), with its TLS settings.
func (s *side) newTransport(resolver *net.Resolver) *http.Transport {
	t := newTransport(s.timeouts, s.pool.hasHTTPS(), resolver)
	if s.tlsConfig != nil {
		t.TLSClientConfig = s.tlsConfig.Clone()
	}
	return t
}

// newTransport is the tuned transport of one side: many idle connections
// per backend (the proxy multiplexes all clients onto them), the manifest's
// timeouts, no compression (bodies pass through as the backend sent them)
// and no environment proxy.
func newTransport(t manifest.Timeouts, https bool, resolver *net.Resolver) *http.Transport {
	connect := t.Connect.Or(manifest.DefaultConnectTimeout)
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second, Resolver: resolver}).DialContext,
		MaxIdleConns:          0,
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       t.Idle.Or(manifest.DefaultIdleTimeout),
		ResponseHeaderTimeout: t.ResponseHeader.Or(manifest.DefaultResponseHeaderTimeout),
		TLSHandshakeTimeout:   connect,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		ForceAttemptHTTP2:     https,
		WriteBufferSize:       16 << 10,
		ReadBufferSize:        16 << 10,
	}
}

func (p *pool) hasHTTPS() bool {
	for _, b := range p.backends() {
		if b.url.Scheme == "https" {
			return true
		}
	}
	return false
}

// resendable reports whether a request may be sent again on a new
// connection after a kept-alive one broke before any answer: one lb
// retries on another backend (idempotent), or one keyed (it carries a
// field of idempotencyKeys).
func resendable(method string, keyed bool) bool { return idempotent(method) || keyed }

// idempotencyKeys are the fields that mark a request as safe to send
// twice (the IETF draft's, and the older X- name), canonical.
var idempotencyKeys = [...]string{"Idempotency-Key", "X-Idempotency-Key"}

// isIdempotencyKey reports whether name is one of idempotencyKeys (ASCII
// case-insensitive).
func isIdempotencyKey(name []byte) bool {
	for _, k := range idempotencyKeys {
		if h1.EqualFold(name, k) {
			return true
		}
	}
	return false
}

// idempotent reports whether a request with this method may be sent twice
// (retried on another backend).
func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodDelete, http.MethodPut:
		return true
	}
	return false
}

// retries reports whether a request whose backend failed before any
// answer may go to another backend of s, once, on every path: an
// idempotent one whose body is at hand again (replayable: none, or one
// read whole), when the pool has another backend.
func (s *side) retries(method string, replayable bool) bool {
	return replayable && idempotent(method) && len(s.pool.backends()) > 1
}

// retryableErr is retryable without the client's part, which the loops
// tell apart themselves (a client that leaves ends its request).
func retryableErr(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return !isTimeout(err)
}

// backendError names the backend a request failed on, for the logs.
type backendError struct {
	backend string
	err     error
}

func (e *backendError) Error() string { return "proxying to " + e.backend + ": " + e.err.Error() }

func (e *backendError) Unwrap() error { return e.err }
