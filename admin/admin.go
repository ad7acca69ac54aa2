// Package admin serves migrate's admin API: app status and weights as JSON,
// Prometheus metrics and a health check, on a listener separate from the
// proxied traffic (loopback by default).
//
// Reads are open to loopback clients; every write, and every read from a
// non-loopback client, needs "Authorization: Bearer <token>" and is answered
// 401 without it. With no token configured, writes are refused.
//
// The admin listener also serves Go profiles under /debug/pprof/ (read
// access).
//
// It emits one structured log line per write (weight changes, rollbacks,
// plan starts).
package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/migratekit/migrate/compare"
	"github.com/migratekit/migrate/lb"
	"github.com/migratekit/migrate/rollback"
	"github.com/migratekit/migrate/state"
	"github.com/migratekit/migrate/telemetry"
)

// Options are the admin server's dependencies.
type Options struct {
	Logger   *slog.Logger        // nil: discard
	Token    string              // bearer token for writes; empty refuses writes
	TokenEnv string              // the variable Token is read from (admin.token_env): a write's 401 without a token names it
	Proxy    *lb.Proxy           // the apps this process serves
	Metrics  *telemetry.Metrics  // per-side numbers for status; nil: zeros
	Control  Control             // carries out weight changes and rollbacks; required for writes
	Gatherer prometheus.Gatherer // served on /metrics; nil: no /metrics
	Diffs    DiffReporter        // diff reports; nil: every app has none
	// Fallback answers GET /api/v1/apps/{app}/fallback; nil: no app has
	// a fallback here.
	Fallback FallbackReporter
	// Dashboard is the web dashboard (package dashboards), served with
	// read access at /dashboard/, its event stream included; nil: none.
	Dashboard http.Handler
	// Logs receives embedded sinks' lines and serves them (logs.go); nil:
	// no logs here.
	Logs LogStore
	// DNS answers the status's dns field; nil: no app has one.
	DNS DNSReporter
	// Hosts are names (or addresses) that Serve takes as Host besides the
	// listener's own (see input.go): the names clients reach it by.
	Hosts []string
	// Reloader reloads the manifest (POST /api/v1/reload); nil: 501.
	Reloader Reloader
	// BodyTimeout is the longest wait for a request body's next bytes
	// (six times that for the whole body); 0: DefaultBodyTimeout.
	BodyTimeout time.Duration
}

// Control carries out the writes of the API and answers for the analysis
// (*rollback.Manager).
type Control interface {
	SetWeight(ctx context.Context, app string, w int, actor, reason string) error
	Rollback(ctx context.Context, app, actor, reason string) error
	Verdict(app string) (rollback.Verdict, bool)
	Events(ctx context.Context, q state.Query) ([]state.Event, error)
	// StartPlan starts or resumes app's progressive plan, at its first
	// step or at fromStep (1-based) when not 0.
	StartPlan(ctx context.Context, app, actor string, fromStep int) error
	// PromotePlan moves app's running plan to its next step now (its last
	// with full).
	PromotePlan(ctx context.Context, app, actor string, full bool) error
	// PlanStatus says where app's plan stands; ok is false without one.
	PlanStatus(app string) (rollback.PlanStatus, bool)
}

// DiffReporter builds an app's diff report; ok is false when the app is not
// shadowed.
type DiffReporter interface {
	Report(ctx context.Context, app string) (r compare.Report, ok bool, err error)
}

// Server is the admin API.
type Server struct {
	opts Options
	log  *slog.Logger
	mux  *http.ServeMux
	// streams ends the log streams on shutdown (logs.go).
	streams streamStop
}

// New builds the admin API.
func New(opts Options) *Server {
	s := &Server{opts: opts, log: opts.Logger, mux: http.NewServeMux()}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.routes()
	return s
}

func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	if s.opts.Gatherer != nil {
		s.mux.Handle("GET /metrics", s.read(promhttp.HandlerFor(s.opts.Gatherer, promhttp.HandlerOpts{})))
	}
	// Profiles, as Caddy's and Prometheus's admin listeners offer them.
	s.mux.Handle("GET /debug/pprof/", s.read(http.HandlerFunc(pprof.Index)))
	s.mux.Handle("GET /debug/pprof/profile", s.read(http.HandlerFunc(pprof.Profile)))
	s.mux.Handle("GET /debug/pprof/trace", s.read(http.HandlerFunc(pprof.Trace)))
	s.mux.Handle("GET /api/v1/apps", s.read(http.HandlerFunc(s.listApps)))
	s.mux.Handle("GET /api/v1/apps/{app}", s.read(http.HandlerFunc(s.getApp)))
	s.mux.Handle("GET /api/v1/apps/{app}/diffs", s.read(http.HandlerFunc(s.getDiffs)))
	s.mux.Handle("GET /api/v1/apps/{app}/fallback", s.read(http.HandlerFunc(s.getFallback)))
	s.mux.Handle("GET /api/v1/events", s.read(http.HandlerFunc(s.getEvents)))
	s.mux.Handle("PUT /api/v1/apps/{app}/weight", s.write(http.HandlerFunc(s.putWeight)))
	s.mux.Handle("POST /api/v1/apps/{app}/rollback", s.write(http.HandlerFunc(s.postRollback)))
	s.mux.Handle("POST /api/v1/apps/{app}/plan", s.write(http.HandlerFunc(s.postPlan)))
	s.mux.Handle("POST /api/v1/apps/{app}/plan/promote", s.write(http.HandlerFunc(s.postPromote)))
	s.mux.Handle("POST /api/v1/reload", s.write(http.HandlerFunc(s.postReload)))
	s.logRoutes()
	if s.opts.Dashboard != nil {
		s.mux.Handle("GET /dashboard/", s.read(s.opts.Dashboard))
		s.mux.Handle("GET /dashboard", s.read(s.opts.Dashboard))
	}
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// Serve answers on ln until ctx is done, then shuts down within 5 seconds.
// It takes only requests whose Host names the listener (its address,
// Options.Hosts; 421 otherwise) and whose bodies keep arriving (408).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	bt := s.opts.BodyTimeout
	if bt <= 0 {
		bt = DefaultBodyTimeout
	}
	srv := NewHTTPServer(hostCheck(bodyDeadline(s, bt), ln.Addr(), s.opts.Hosts))
	srv.ErrorLog = slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)
	srv.RegisterOnShutdown(s.streams.stop)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving admin API: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		return fmt.Errorf("serving admin API: %w", serr)
	}
	if err != nil {
		return fmt.Errorf("shutting down admin API: %w", err)
	}
	return nil
}
