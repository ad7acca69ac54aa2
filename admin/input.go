package admin

// What the admin listener takes from its clients: JSON bodies decoded
// strictly, bodies that must keep arriving, and Host headers that must
// name the listener (a browser's request after DNS rebinding names the
// attacker's host).

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/go-json-experiment/json"
)

// maxJSONBody bounds the JSON body of a write.
const maxJSONBody = 64 << 10

// errBodyTooLarge is a JSON body over maxJSONBody.
var errBodyTooLarge = fmt.Errorf("request body is over %d KiB", maxJSONBody>>10)

// decodeBody decodes r's JSON body into v strictly: one JSON value and
// nothing after it, its object keys exactly the names of v's fields (case
// included), none twice, no other. An empty body is io.EOF; bodyStatus
// gives the status of the other errors.
func decodeBody(r *http.Request, v any) error {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBody+1))
	switch {
	case err != nil:
		return fmt.Errorf("reading request body: %w", err)
	case len(data) > maxJSONBody:
		return errBodyTooLarge
	case len(bytes.TrimSpace(data)) == 0:
		return io.EOF
	}
	if err := json.Unmarshal(data, v, json.RejectUnknownMembers(true)); err != nil {
		return fmt.Errorf("decoding request body: %w", err)
	}
	return nil
}

// bodyStatus is the answer to a body decodeBody refused: 408 for one that
// stopped arriving, 413 for one too large, 400 otherwise.
func bodyStatus(err error) int {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return http.StatusRequestTimeout
	case errors.Is(err, errBodyTooLarge):
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

// DefaultBodyTimeout is the longest wait for a request body's next bytes.
const DefaultBodyTimeout = 10 * time.Second

// bodyDeadline has every request body keep arriving: at most timeout
// between two reads and six times that for the whole body, after which a
// read fails with os.ErrDeadlineExceeded. A body that never comes held
// the connection for good (and a handler that does not read it still had
// the server read it after the answer). The deadline is lifted once the
// body has ended, so that it cannot end a slow answer.
func bodyDeadline(h http.Handler, timeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			b := &deadlineBody{ReadCloser: r.Body, rc: http.NewResponseController(w), timeout: timeout, end: time.Now().Add(6 * timeout)}
			b.extend() // also bounds the server's read of a body the handler left
			r.Body = b
		}
		h.ServeHTTP(w, r)
	})
}

type deadlineBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	timeout time.Duration
	end     time.Time // the whole body's deadline
	done    bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	if b.done {
		return b.ReadCloser.Read(p)
	}
	b.extend()
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.done = true
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			_ = b.rc.SetReadDeadline(time.Time{})
		}
	}
	return n, err
}

// extend sets the read deadline timeout from now, or at the whole body's.
func (b *deadlineBody) extend() {
	next := time.Now().Add(b.timeout)
	if next.After(b.end) {
		next = b.end
	}
	_ = b.rc.SetReadDeadline(next)
}

// hostCheck answers 421 to a request whose Host is not one of the
// listener's own names or addresses (hostAllowed), except /healthz,
// which tells nothing.
func hostCheck(h http.Handler, ln net.Addr, names []string) http.Handler {
	allow := newHostAllow(ln, names)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" && !allow.allowed(r.Host) {
			writeError(w, http.StatusMisdirectedRequest, fmt.Sprintf(
				"Host %q is not a name or address of this listener (%s); list other names in defaults.admin.hosts", r.Host, allow.listen))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// hostAllow is what a listener takes as Host.
type hostAllow struct {
	listen string
	ip     netip.Addr      // the listener's address
	names  map[string]bool // lower case, without a trailing dot
}

// newHostAllow allows, besides names: the listener's own address; on a
// loopback listener, every loopback address and localhost; on a wildcard
// one (0.0.0.0, ::), every address (which the machine's interfaces and
// NATs have is not known here), localhost and the machine's host name.
func newHostAllow(ln net.Addr, names []string) *hostAllow {
	a := &hostAllow{listen: ln.String(), names: map[string]bool{}}
	if tcp, ok := ln.(*net.TCPAddr); ok {
		a.ip, _ = netip.AddrFromSlice(tcp.IP)
		a.ip = a.ip.Unmap()
	}
	for _, n := range names {
		a.names[canonicalHost(n)] = true
	}
	if a.ip.IsLoopback() || a.ip.IsUnspecified() {
		a.names["localhost"] = true
	}
	if !a.ip.IsLoopback() {
		if h, err := os.Hostname(); err == nil {
			a.names[canonicalHost(h)] = true
			short, _, _ := strings.Cut(h, ".")
			a.names[canonicalHost(short)] = true
		}
	}
	return a
}

// allowed reports whether hostport, a request's Host, names the listener.
// An empty Host (HTTP/1.0) is allowed: a browser always sends one.
func (a *hostAllow) allowed(hostport string) bool {
	if hostport == "" {
		return true
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = canonicalHost(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	if a.names[host] {
		return true
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap().WithZone("")
	switch {
	case a.ip.IsUnspecified(), ip == a.ip:
		return true
	case a.ip.IsLoopback():
		return ip.IsLoopback()
	}
	return false
}

func canonicalHost(h string) string {
	return strings.ToLower(strings.TrimSuffix(h, "."))
}

// Guard wraps h, the handler of a listener at ln that is not the admin
// API's (a metrics or dashboard listener), with the admin listener's
// rules: Host must be one of its own names or addresses (or names), and
// request bodies must keep arriving.
func Guard(h http.Handler, ln net.Addr, names []string) http.Handler {
	return hostCheck(bodyDeadline(h, DefaultBodyTimeout), ln, names)
}

// NewHTTPServer is an http.Server for h with the admin listener's
// timeouts: 10 s for a request's head, 2 minutes for an idle kept-alive
// connection (with neither, a client that sends nothing holds its
// connection for good).
func NewHTTPServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
}
