package lb

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"

	"github.com/valyala/fasthttp"
)

// The reasons of migrate_proxy_errors_total: a fixed set, one per way the
// proxy answers a request itself.
const (
	// reasonUnavailable: every backend of the side is down and failover is
	// off (or the other side is down too).
	reasonUnavailable = "unavailable"
	// reasonNoBackend: the pool went down between the split and the pick.
	reasonNoBackend = "no_backend"
	// reasonConnect: the backend could not be reached or dropped the
	// connection.
	reasonConnect = "connect"
	// reasonTimeout: connecting or waiting for response headers timed out.
	reasonTimeout = "timeout"
	// reasonBadGateway: the backend answered something unusable.
	reasonBadGateway = "bad_gateway"
	// reasonCanceled: the client went away before the response.
	reasonCanceled = "canceled"
	// reasonClientBody: the client's request body could not be read.
	reasonClientBody = "client_body"
	// reasonCORS: a CORS preflight from an origin that is not allowed.
	reasonCORS = "cors_forbidden"
)

// statusClientClosed is recorded (nginx's convention) when the client left
// before its response; nobody receives it.
const statusClientClosed = 499

var (
	errNoBackend  = errors.New("no backend in rotation")
	errClientBody = errors.New("client body")
)

// handleError is the ReverseProxy ErrorHandler of a side: a short, honest
// answer to the client, the details in the log, the reason in telemetry.
func (s *side) handleError(w http.ResponseWriter, r *http.Request, err error) {
	reason, code, body := s.classify(r, err)
	s.tel.ProxyError(reason)
	if reason == reasonCanceled {
		s.log.Debug("client went away", "method", r.Method, "path", r.URL.Path, "err", err)
	} else {
		s.log.Warn("proxying request failed", "method", r.Method, "path", r.URL.Path, "reason", reason, "status", code, "err", err)
	}
	s.writeError(w, code, body)
}

// classify maps a proxying error to its reason, status and body.
func (s *side) classify(r *http.Request, err error) (reason string, code int, body string) {
	return s.classifyErr(err, r.Context().Err() != nil && errors.Is(err, context.Canceled))
}

// classifyErr is classify for both data paths; canceled says the client
// went away (the fasthttp path cannot tell).
func (s *side) classifyErr(err error, canceled bool) (reason string, code int, body string) {
	switch {
	case errors.Is(err, errNoBackend):
		return reasonNoBackend, http.StatusBadGateway, s.unavailable
	case errors.Is(err, errClientBody):
		return reasonClientBody, http.StatusBadRequest, "bad request body\n"
	case canceled:
		return reasonCanceled, statusClientClosed, ""
	case isTimeout(err):
		return reasonTimeout, http.StatusGatewayTimeout, "gateway timeout\n"
	case isConnError(err):
		return reasonConnect, http.StatusBadGateway, "bad gateway\n"
	}
	return reasonBadGateway, http.StatusBadGateway, "bad gateway\n"
}

// isTimeout reports a timeout, fasthttp's included (it reports any
// deadline as ErrTimeout).
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, fasthttp.ErrTimeout) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isConnError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, fasthttp.ErrConnectionClosed)
}

// writeError writes a short plain-text answer of the proxy's own.
func (s *side) writeError(w http.ResponseWriter, code int, body string) {
	if s.app.debug {
		w.Header()["X-Migrate-Side"] = s.debugValue
	}
	plainError(w, code, body)
}

func plainError(w http.ResponseWriter, code int, body string) {
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, body)
}
