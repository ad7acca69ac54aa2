package lb

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
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

// growBody makes room in b for more of a body of which more bytes are
// still to be read: its capacity doubles, from bodyChunk, but never
// past what the body will need (slices.Grow's growth overshoots it by up
// to half, for each of many slow clients).
func growBody(b []byte, more int) []byte {
	if len(b) < cap(b) {
		return b
	}
	c := min(max(2*cap(b), bodyChunk), len(b)+more)
	return append(make([]byte, 0, c), b...)
}

// bodyChunk is the first room made for a body read into memory.
const bodyChunk = 64 << 10

// failed is the answer to a request that could not be proxied, on every
// path: err classified (classifyErr; canceled says the client went away),
// counted and logged with attrs.
func (s *side) failed(err error, canceled bool, attrs ...any) (code int, body string) {
	reason, code, body := s.classifyErr(err, canceled)
	s.proxyError(reason, code)
	if reason == reasonCanceled {
		s.log.Debug("client went away", append(attrs, "err", err)...)
	} else {
		s.log.Warn("proxying request failed", append(attrs, "reason", reason, "status", code, "err", err)...)
	}
	return code, body
}

// proxyError counts an answer of the proxy's own, on every path: its
// reason, and a refusal by the rules (a body that stalled: 408) on the
// app's listener.
func (s *side) proxyError(reason string, code int) {
	s.tel.ProxyError(reason)
	if code == http.StatusRequestTimeout {
		s.app.refused.Request(code)
	}
}

// classifyErr maps a proxying error to its reason, status and body;
// canceled says the client went away (the loops end such a request
// without an answer).
func (s *side) classifyErr(err error, canceled bool) (reason string, code int, body string) {
	switch {
	case errors.Is(err, errNoBackend):
		return reasonNoBackend, http.StatusBadGateway, s.unavailable
	case errors.Is(err, errBodyTimeout):
		return reasonClientBody, http.StatusRequestTimeout, ruleAnswer(http.StatusRequestTimeout)
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

// isTimeout reports a timeout.
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isConnError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// ownFields are the header fields of every answer of the proxy's own, on
// every path (plainError, appendLoopError, ownHeader).
var ownFields = [...][2]string{{"Content-Type", "text/plain; charset=utf-8"}, {"X-Content-Type-Options", "nosniff"}}

// ownHeader is a new header of ownFields.
func ownHeader() http.Header {
	h := make(http.Header, len(ownFields))
	for _, f := range ownFields {
		h[f[0]] = []string{f[1]}
	}
	return h
}

// timeoutError is a net.Error that timed out.
type timeoutError struct{ what string }

func (e timeoutError) Error() string   { return e.what }
func (e timeoutError) Timeout() bool   { return true }
func (e timeoutError) Temporary() bool { return true }
