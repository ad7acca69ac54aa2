package lb

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/migratekit/migrate/internal/h1"
)

// Rules every data path applies to a client's request, one function each
// (the paths only adapt them): the head rules are h1.CheckHead's (see
// httphttpgate.go for net/http, loopconn_linux.go for the loops); these are what
// goes on to a backend.

// Request headers the toolkit reserves to mark its own requests, which a
// backend may trust (skip side effects for a mirror or a replay): a
// client's copy is dropped on every path, so that only the toolkit's own
// requests, which do not go through the proxy, carry them. The gate's own
// (gateRejectHeader) is dropped too. X-Migrate-Fallback is not: the
// fallback's loop guard must cross every hop, and a client that forges it
// only gets itself a 508.
const (
	ShadowHeader = "X-Migrate-Shadow" // shadow's mirrored requests
	ReplayHeader = "X-Migrate-Replay" // replayed log requests
)

// reservedHeaders are the reserved request headers, canonical.
var reservedHeaders = [...]string{ShadowHeader, ReplayHeader, gateRejectHeader}

// reserved reports whether a request header is one the toolkit reserves.
func reserved(name []byte) bool {
	for _, r := range reservedHeaders {
		if len(name) == len(r) && h1.EqualFold(name, r) {
			return true
		}
	}
	return false
}

// dropReserved deletes the reserved headers from h (canonical keys, as
// net/http reads them).
func dropReserved(h http.Header) {
	for _, k := range reservedHeaders {
		if _, ok := h[k]; ok {
			delete(h, k)
		}
	}
}

// upgradeAllowed reports whether every protocol an Upgrade value offers
// (by name, without its version) is in allowed (lower case).
func upgradeAllowed(allowed []string, value string) bool {
	offered := false
	for tok := range strings.SplitSeq(value, ",") {
		name, _, _ := strings.Cut(strings.TrimSpace(tok), "/")
		if name == "" {
			continue
		}
		offered = true
		if !containsFold(allowed, name) {
			return false
		}
	}
	return offered
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// refuseUpgrade turns a request to switch to a protocol the app does not
// allow into a plain request: its Upgrade header and the Connection token
// naming it go, and the backend answers it as any other.
func refuseUpgrade(h http.Header) {
	delete(h, "Upgrade")
	conn := h["Connection"]
	if len(conn) == 0 {
		return
	}
	var keep []string
	for _, v := range conn {
		for tok := range strings.SplitSeq(v, ",") {
			if tok = strings.TrimSpace(tok); tok != "" && !strings.EqualFold(tok, "upgrade") {
				keep = append(keep, tok)
			}
		}
	}
	if len(keep) == 0 {
		delete(h, "Connection")
		return
	}
	h["Connection"] = []string{strings.Join(keep, ", ")}
}

// Lingering close, as nginx's lingering_close, on every path: a client
// connection closed while its client may still be sending (the rest of a
// body its answer did not wait for, bytes after a refused head) is shut
// for writing first, and what still comes is read and dropped until the
// client's end of stream, for up to lingerTime and lingerBytes.
const (
	lingerTime  = 5 * time.Second
	lingerBytes = 4 << 20
)

// ruleAnswer is the body of the answer to a request the rules refuse.
func ruleAnswer(code int) string {
	switch code {
	case http.StatusRequestHeaderFieldsTooLarge:
		return "request header fields too large\n"
	case http.StatusHTTPVersionNotSupported:
		return "http version not supported\n"
	case http.StatusNotImplemented:
		return "transfer encoding not implemented\n"
	case http.StatusRequestTimeout:
		return "request body timeout\n"
	}
	return "bad request\n"
}

// appendTarget appends the request target as it goes to backend b, on
// every path: the client's origin-form target as it sent it, its path
// prefixed by the backend's base path and its query after the backend's
// (appendURI).
func (b *backend) appendTarget(dst, target []byte) []byte {
	if b.basePath == "" && b.baseQuery == "" {
		return append(dst, target...)
	}
	return b.appendURI(dst, target)
}

// framingDoubtful reports whether the answer head h frames its body by
// Transfer-Encoding while it also has a Content-Length (RFC 9112 6.3: the
// Transfer-Encoding frames it, and the message may be an attempt at
// response splitting): on every path the body is read as the
// Transfer-Encoding says and the backend connection closes after it.
func framingDoubtful(h *h1.Response) bool {
	return (h.Chunked || h.OtherCoding) && hasHeader(h.Headers, "Content-Length")
}

// setBase sets what appendURI puts before a request's target.
func (b *backend) setBase() {
	if path := b.url.EscapedPath(); path != "" && path != "/" {
		b.basePath = path
	}
	b.baseQuery = b.url.RawQuery
}

// appendURI appends the request target uri as it goes to backend b: its
// path prefixed by the backend's and its query after the backend's, as
// target does on net/http's path (FuzzAppendURI).
func (b *backend) appendURI(dst, uri []byte) []byte {
	path, query, hasQuery := bytes.Cut(uri, []byte("?"))
	if b.basePath != "" {
		dst = append(dst, strings.TrimSuffix(b.basePath, "/")...)
		if len(path) == 0 || path[0] != '/' {
			dst = append(dst, '/')
		}
	}
	dst = append(dst, path...)
	switch {
	case b.baseQuery != "" && hasQuery && len(query) > 0:
		dst = append(append(append(append(dst, '?'), b.baseQuery...), '&'), query...)
	case b.baseQuery != "":
		dst = append(append(dst, '?'), b.baseQuery...)
	case hasQuery:
		dst = append(append(dst, '?'), query...)
	}
	return dst
}

// hasHeader reports whether hs has a field called name.
func hasHeader(hs []h1.Header, name string) bool {
	for _, h := range hs {
		if len(h.Name) == len(name) && h1.EqualFold(h.Name, name) {
			return true
		}
	}
	return false
}

// requestLimits are the request rules' settings, from the manifest.
type requestLimits struct {
	headerBytes int           // the longest head (431 beyond)
	bodyTimeout time.Duration // the longest stall of a body (408)
}

// errBodyTimeout is the read error of a request body that stalled.
var errBodyTimeout error = &timeoutError{"request body timeout"}

// gateRejectHeader carries a refused head's status to the router.
const gateRejectHeader = "X-Migrate-Rejected"

func joinURLPath(a, b *url.URL) (path, rawpath string) {
	if a.RawPath == "" && b.RawPath == "" {
		return singleJoiningSlash(a.Path, b.Path), ""
	}
	apath, bpath := a.EscapedPath(), b.EscapedPath()
	aslash, bslash := strings.HasSuffix(apath, "/"), strings.HasPrefix(bpath, "/")
	switch {
	case aslash && bslash:
		return a.Path + b.Path[1:], apath + bpath[1:]
	case !aslash && !bslash:
		return a.Path + "/" + b.Path, apath + "/" + bpath
	}
	return a.Path + b.Path, apath + bpath
}

func singleJoiningSlash(a, b string) string {
	aslash, bslash := strings.HasSuffix(a, "/"), strings.HasPrefix(b, "/")
	switch {
	case aslash && bslash:
		return a + b[1:]
	case !aslash && !bslash:
		return a + "/" + b
	}
	return a + b
}
