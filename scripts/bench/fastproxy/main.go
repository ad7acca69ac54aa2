// Command fastproxy is a minimal reverse proxy on fasthttp (its server and
// its HostClient), not net/http: the peer that shows what a Go proxy costs
// per request without net/http and httputil.ReverseProxy, for
// scripts/bench/proxy (TARGETS=fastproxy). It forwards every request to one
// backend over keep-alive connections, sets X-Forwarded-For, and answers
// 502 when the backend cannot be reached. It has none of migrate's
// features (no split, no health checks, no metrics): it is a floor to
// measure against, not a product.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"

	"github.com/valyala/fasthttp"

	"github.com/migratekit/migrate/internal/hostport"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "fastproxy:", err)
		os.Exit(2)
	}
}

func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("fastproxy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "address to listen on (host:port)")
	backend := fs.String("backend", "", "backend host:port (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := hostport.Check(*backend); err != nil {
		return fmt.Errorf("-backend %q is not host:port: %w", *backend, err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", *listen, err)
	}
	return newServer(*backend).Serve(ln)
}

// newServer proxies every request to backend.
func newServer(backend string) *fasthttp.Server {
	hc := &fasthttp.HostClient{Addr: backend, MaxConns: 1024}
	return &fasthttp.Server{
		Name: "fastproxy",
		Handler: func(ctx *fasthttp.RequestCtx) {
			ctx.Request.Header.Set("X-Forwarded-For", ctx.RemoteIP().String())
			if err := hc.Do(&ctx.Request, &ctx.Response); err != nil {
				ctx.Error("502 backend unavailable", fasthttp.StatusBadGateway)
			}
		},
	}
}
