package lb

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// net/http's path: one http.Server per listener (or per listener's loops,
// for the connections they hand over), behind the gate (httpgate.go).

// httpServer serves one listener, or the connections its loops hand
// over, with net/http.
type httpServer struct {
	srv  *http.Server
	ln   net.Listener // behind the gate
	addr string
}

// newHTTPServer serves ln (with TLS when tlsCfg is set) for listener l.
func (p *Proxy) newHTTPServer(l *listener, reqCtx context.Context, ln net.Listener, tlsCfg *tls.Config) *httpServer {
	return &httpServer{srv: p.server(l, reqCtx), ln: p.gated(ln, tlsCfg), addr: l.addr}
}

func (s *httpServer) serve() error              { return serveListener(s.srv, s.addr, s.ln) }
func (s *httpServer) drain(ctx context.Context) { _ = s.srv.Shutdown(ctx) }
func (s *httpServer) stop()                     { _ = s.srv.Close() }

func (p *Proxy) server(l *listener, reqCtx context.Context) *http.Server {
	return &http.Server{
		Handler:           l.router,
		TLSConfig:         l.tlsCfg,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    p.limits.headerBytes, // the gate refuses longer heads first
		ErrorLog:          p.errorLog,
		BaseContext:       func(net.Listener) context.Context { return reqCtx },
		ConnContext:       withGate,
	}
}

// gated is ln behind the gate (httpgate.go): after TLS when tlsCfg is set.
func (p *Proxy) gated(ln net.Listener, tlsCfg *tls.Config) net.Listener {
	if tlsCfg != nil {
		return newTLSGateListener(ln, tlsCfg, p.limits)
	}
	return gateListener{ln, p.limits}
}

// serveListener serves srv on ln, which does the TLS handshakes of a TLS
// listener itself (tlsGateListener).
func serveListener(srv *http.Server, addr string, ln net.Listener) error {
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return fmt.Errorf("serving %s: %w", addr, err)
}

// Handler returns the Host router of the listener of a manifest listen
// address (for tests and benchmarks), or nil if no app listens there.
func (p *Proxy) Handler(listen string) http.Handler {
	p.mu.Lock()
	defer p.mu.Unlock()
	if l := p.listener(listen); l != nil {
		return l.router
	}
	return nil
}
