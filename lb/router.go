package lb

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/migratekit/migrate/telemetry"
)

// router sends the requests of one listener to an app by Host. A host no
// app claims gets 421 and goes nowhere: the proxy is never an open proxy,
// whatever the request line says (an absolute-form URI sets the Host, and
// the backend URL always comes from the app's pool). It answers the
// requests the rules refuse (the gate's, CONNECT, an unknown host) and
// counts each in refused.
type router struct {
	table    atomic.Pointer[hostTable] // replaced whole by a reload
	inflight *tracker
	// bodyTimeout is the client body timeout of HTTP/2 requests (the
	// gate applies it to HTTP/1.x).
	bodyTimeout time.Duration
	// refused counts the listener's requests refused by the rules, its
	// apps' 408s included (nil: not counted).
	refused *telemetry.Refused
}

// hostTable is the apps of one listener by host, at one time.
type hostTable struct {
	hosts    map[string]*App // normalised host, or host:port, to app
	withPort bool            // some entry has a port
	catchAll *App            // the app with no hosts, if any
}

func newRouter(inflight *tracker, bodyTimeout time.Duration, refused *telemetry.Refused) *router {
	rt := &router{inflight: inflight, bodyTimeout: bodyTimeout, refused: refused}
	rt.table.Store(newHostTable())
	return rt
}

func newHostTable() *hostTable { return &hostTable{hosts: make(map[string]*App)} }

// all reports whether f holds for every app of the router.
func (rt *router) all(f func(*App) bool) bool { return rt.table.Load().all(f) }

// add registers app's hosts (while the proxy is built).
func (rt *router) add(a *App, hosts []string) error { return rt.table.Load().add(a, hosts) }

func (t *hostTable) all(f func(*App) bool) bool {
	if t.catchAll != nil && !f(t.catchAll) {
		return false
	}
	for _, a := range t.hosts {
		if !f(a) {
			return false
		}
	}
	return true
}

func (t *hostTable) add(a *App, hosts []string) error {
	if len(hosts) == 0 {
		if t.catchAll != nil {
			return fmt.Errorf("apps %s and %s both have no hosts on one listener", t.catchAll.name, a.name)
		}
		t.catchAll = a
		return nil
	}
	for _, h := range hosts {
		key, port := hostKey(h)
		if key == "" {
			return fmt.Errorf("app %s: empty host", a.name)
		}
		if other := t.hosts[key]; other != nil {
			return fmt.Errorf("host %q is claimed by apps %s and %s", h, other.name, a.name)
		}
		t.hosts[key] = a
		t.withPort = t.withPort || port
	}
	return nil
}

// hostKey normalises a manifest host entry; port reports whether it kept
// a port.
func hostKey(h string) (key string, port bool) {
	h = strings.ToLower(strings.TrimSpace(h))
	if hasPort(h) {
		return h, true
	}
	return stripPort(h), false
}

func hasPort(h string) bool {
	if strings.HasPrefix(h, "[") {
		i := strings.IndexByte(h, ']')
		return i > 0 && strings.HasPrefix(h[i+1:], ":")
	}
	return strings.Count(h, ":") == 1
}

// admit is the router's rule for a request with this method and Host,
// on every path: the app that serves it, or nil with the status and body
// of its refusal (CONNECT: 405; a host no app claims: 421).
func (rt *router) admit(method, host string) (a *App, code int, body string) {
	return rt.table.Load().admit(method, host)
}

// admit is the router's admit on the listener's apps of one time.
func (t *hostTable) admit(method, host string) (a *App, code int, body string) {
	if method == http.MethodConnect {
		return nil, http.StatusMethodNotAllowed, "method not allowed\n"
	}
	if a = t.route(host); a == nil {
		return nil, http.StatusMisdirectedRequest, "misdirected request: no app is served for this host\n"
	}
	return a, 0, ""
}

// route returns the app for a Host header value, or nil.
func (rt *router) route(host string) *App { return rt.table.Load().route(host) }

func (t *hostTable) route(host string) *App {
	if hasUpper(host) {
		host = strings.ToLower(host)
	}
	if t.withPort {
		if a := t.hosts[host]; a != nil {
			return a
		}
	}
	if a := t.hosts[stripPort(host)]; a != nil {
		return a
	}
	return t.catchAll
}

// stripPort returns the host of "host", "host:port", "[v6]" or "[v6]:port",
// without brackets or a trailing dot.
func stripPort(h string) string {
	if strings.HasPrefix(h, "[") {
		if i := strings.IndexByte(h, ']'); i > 0 {
			return h[1:i]
		}
		return h
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 && strings.IndexByte(h, ':') == i {
		h = h[:i]
	}
	return strings.TrimSuffix(h, ".")
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return true
		}
	}
	return false
}
