// Command loopproxy is a bare HTTP/1.1 reverse proxy built as event loops
// over epoll, as nginx is: one loop per core on a locked OS thread, each
// with its own epoll instance, its own SO_REUSEPORT listening socket and
// its own pool of keep-alive backend connections; non-blocking sockets,
// edge-triggered, no goroutine per connection. It is the peer that shows
// whether a Go proxy without the goroutine-per-connection model reaches
// nginx's throughput, for scripts/bench/proxy (TARGETS=loopproxy).
//
// It parses request heads in place, adds X-Forwarded-For, forwards
// Content-Length bodies (a request body with a Transfer-Encoding gets 501),
// copies answers through as their bytes arrive (Content-Length, chunked,
// no body, or until the backend closes) and answers 502 when the backend
// fails before any of the answer went out. It has no TLS, no HTTP/2, no
// upgrades, no retries and no timeouts: it is a floor to measure against,
// not a product.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"

	"github.com/migratekit/migrate/internal/hostport"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "loopproxy:", err)
		os.Exit(2)
	}
}

// options are the command line flags.
type options struct {
	listen, backend, cpuprofile string
	loops                       int
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("loopproxy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8080", "address to listen on (host:port)")
	fs.StringVar(&o.backend, "backend", "", "backend host:port (required)")
	fs.IntVar(&o.loops, "loops", runtime.GOMAXPROCS(0), "event loops (OS threads), one listening socket each; GOMAXPROCS is raised to loops+1")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if err := hostport.Check(o.backend); err != nil {
		return o, fmt.Errorf("-backend %q is not host:port: %w", o.backend, err)
	}
	if o.loops < 1 {
		return o, fmt.Errorf("-loops %d: want 1 or more", o.loops)
	}
	return o, nil
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	srv, err := newServer(o.listen, o.backend, o.loops, log)
	if err != nil {
		return err
	}
	spareP(o.loops)
	if o.cpuprofile != "" {
		stop, err := startProfile(o.cpuprofile)
		if err != nil {
			srv.closeLoops()
			return err
		}
		defer stop()
	}
	log.Info("proxying", "listen", srv.addr, "backend", o.backend, "loops", o.loops)
	return srv.run(ctx)
}

// spareP makes GOMAXPROCS at least loops+1. Each loop holds a P while
// it blocks in epoll_wait; with no P idle, the runtime's sysmon takes the P
// of every such loop after 20 µs and keeps waking every 20 µs to do it
// again, and the loop must win a P back on each wake-up: at 8,000 req/s
// that was 3.5 context switches and 57 µs of CPU per request against 2.6
// and 47 µs with one P spare. The spare P runs no Go code of the data
// path (the loops are the only goroutines with work), so the loops stay
// the only threads proxying.
func spareP(loops int) {
	if runtime.GOMAXPROCS(0) <= loops {
		runtime.GOMAXPROCS(loops + 1)
	}
}

// startProfile starts a CPU profile into file; stop ends and writes it.
func startProfile(file string) (stop func(), err error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, fmt.Errorf("creating -cpuprofile file: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting CPU profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
