// Command backend is the origin server of the benchmarks (scripts/bench/proxy,
// scripts/bench/shadow): it answers every request with 200 and the same
// 100-byte body, over keep-alive connections, doing as little work as it can
// so that the CPU goes to the proxy being measured. With -delay it holds
// each answer that long first, to play a slow backend (the slow new side of
// scripts/bench/shadow); a request whose client goes away stops waiting.
//
//	backend -listen 127.0.0.1:8000
//	backend -listen 127.0.0.1:8001 -delay 200ms
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/jonboulle/clockwork"
)

// body is the fixed response: 100 bytes with the newline, like a small JSON
// API answer.
var body = []byte(`{"ok":true,"service":"bench-backend","items":[1,2,3,4,5,6,7,8,9,10],"note":"fixed response body.."}` + "\n")

// options are the command line of the backend.
type options struct {
	listen string
	delay  time.Duration
}

func main() {
	opts, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "backend:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, opts.listen, newHandler(opts.delay, clockwork.NewRealClock())); err != nil {
		fmt.Fprintln(os.Stderr, "backend:", err)
		os.Exit(1)
	}
}

// parseFlags reads the command line; usage and flag errors go to out.
func parseFlags(args []string, out io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("backend", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8000", "address to listen on (host:port)")
	fs.DurationVar(&o.delay, "delay", 0, "time to wait before each answer (e.g. 200ms); 0 answers at once")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("parsing flags: unexpected argument %q", fs.Arg(0))
	}
	if o.delay < 0 {
		return options{}, fmt.Errorf("parsing flags: -delay %v is negative", o.delay)
	}
	return o, nil
}

// serve answers on addr with h until ctx is done.
func serve(ctx context.Context, addr string, h http.Handler) error {
	srv := &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving %s: %w", addr, err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving %s: %w", addr, err)
	}
	return nil
}

// newHandler answers every request with 200 and body, after delay on clock
// when delay is positive. The request body, if any, is left to net/http,
// which drains a small one to keep the connection.
func newHandler(delay time.Duration, clock clockwork.Clock) http.Handler {
	length := []string{strconv.Itoa(len(body))}
	contentType := []string{"application/json"}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if delay > 0 && !wait(r.Context(), clock, delay) {
			return
		}
		h := w.Header()
		h["Content-Length"] = length
		h["Content-Type"] = contentType
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
	})
}

// wait waits d on clock and reports whether it did (false: ctx ended first).
func wait(ctx context.Context, clock clockwork.Clock, d time.Duration) bool {
	t := clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.Chan():
		return true
	case <-ctx.Done():
		return false
	}
}
