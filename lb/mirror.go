package lb

import (
	"net/http"
)

// Mirror sees every request an app proxies, to tee it to another
// destination (package shadow implements it). It is set per app in
// Options.Mirrors; an app without one pays nothing.
type Mirror interface {
	// Serve is called with the side that serves r (telemetry.SideOld or
	// telemetry.SideNew, after failover) and serve, the handler that
	// proxies to that side exactly as the app would without a mirror.
	// Serve must call serve.ServeHTTP once, with w or a writer wrapping it
	// (that keeps http.ResponseController working through Unwrap) and r or
	// a copy of it, and must not keep serve, w or r after it returns.
	Serve(w http.ResponseWriter, r *http.Request, side string, serve http.Handler)
}

// Sampler is what a Mirror may also implement so that the event loops
// (loop_linux.go) serve the requests it would not mirror: the app's
// listener then stays on the loops, and only the requests the mirror takes
// go, with their connection, to net/http and Serve. The connection stays
// there: one client's connection serves one client, but a trusted proxy's
// kept-alive connection that carries a sampled client's request moves to
// net/http for good, with every client it carries after. A LoopMirror
// keeps those on the loops too.
type Sampler interface {
	// Leaves reports whether the mirror would serve a request of a client
	// served by side (after failover) without mirroring it, given the
	// client's sticky key: its sticky cookie value (one minted for this
	// answer included) in cookie mode, else its IP as text. When it
	// does, it has counted the request as Serve would have.
	Leaves(side string, key []byte) bool
}

// LoopMirror is a Sampler that the event loops can report a mirrored
// request's answer to: they serve the requests it takes themselves, with
// their whole body gathered (up to 1 MiB), instead of handing their
// connection to net/http and Serve, so that a trusted proxy's kept-alive
// connection stays on the loops. Bodies too large to gather still go to
// Serve.
type LoopMirror interface {
	Sampler
	// BeginPrimary starts the mirror of r, whose whole body is body and
	// which side serves (as Leaves was given it), after Leaves said the
	// mirror takes it, and returns what to report its answer to, or nil
	// when it is served without a mirror (counted as Serve would). It must
	// not block. The loop reports the final head once (chunked: the body
	// bytes still carry their framing), the body bytes as they go to the
	// client, and the end once.
	BeginPrimary(r *http.Request, side string, body []byte) MirrorPrimary
}

// MirrorPrimary is what LoopMirror.BeginPrimary returns (an alias, so that
// a mirror can implement it without importing lb).
type MirrorPrimary = interface {
	Header(code int, h http.Header, chunked bool)
	Body(b []byte)
	End(served, clientGone bool)
}
