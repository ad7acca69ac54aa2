package lb

import (
	"net/http"
	"time"
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

// sideServe is the handler a Mirror calls: it proxies to one side,
// timing the request from when the app received it, mirror work included.
type sideServe struct {
	a     *App
	s     *side
	start time.Time
}

func (h *sideServe) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.a.proxy(w, r, h.s, h.start)
}
