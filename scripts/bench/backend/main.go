// Command backend is the origin server of the benchmarks (scripts/bench/proxy,
// scripts/bench/shadow): it answers every request with 200 and the same
// 100-byte body, over keep-alive connections, doing as little work as it can
// so that the CPU goes to the proxy being measured. With -delay it holds
// each answer that long first, to play a slow backend (the slow new side of
// scripts/bench/shadow); a request whose client goes away stops waiting.
// For scripts/bench/rollback it can fail: with -fail-after every answer from
// that long after start on is a 500 (a new side that breaks at a known
// time), with -error-rate a random share of answers is (healthy but noisy
// traffic). With -read-body it reads each request's whole body before
// answering, as an upload handler does (scripts/bench/slowbody). It prints
// the time of its first 500 on stdout, once:
//
//	first_failure_unix_ms=1764087000123 at=2026-11-25T16:10:00.123Z
//
//	backend -listen 127.0.0.1:8000
//	backend -listen 127.0.0.1:8001 -delay 200ms
//	backend -listen 127.0.0.1:8002 -fail-after 5s
//	backend -listen 127.0.0.1:8003 -error-rate 0.01
//	backend -listen 127.0.0.1:8004 -read-body
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
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
	listen    string
	delay     time.Duration
	failAfter time.Duration
	failRate  float64
	errorRate float64
	readBody  bool
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
	clock := clockwork.NewRealClock()
	f := &faults{
		start:     clock.Now(),
		failAfter: opts.failAfter,
		failRate:  opts.failRate,
		errorRate: opts.errorRate,
		random:    rand.Float64,
		report: func(t time.Time) {
			fmt.Printf("first_failure_unix_ms=%d at=%s\n", t.UnixMilli(), t.UTC().Format(time.RFC3339Nano))
		},
	}
	h := newHandler(opts.delay, clock, f)
	if opts.readBody {
		h = readingBody(h)
	}
	if err := serve(ctx, opts.listen, h); err != nil {
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
	fs.DurationVar(&o.failAfter, "fail-after", 0, "answer 500 to every request from this long after start on (e.g. 5s); 0 never")
	fs.Float64Var(&o.failRate, "fail-rate", 1, "share of answers, above 0 up to 1, that are a 500 at random from -fail-after on (e.g. 0.1); 1 fails them all")
	fs.Float64Var(&o.errorRate, "error-rate", 0, "share of answers, 0 to 1, that are a 500 at random (e.g. 0.01)")
	fs.BoolVar(&o.readBody, "read-body", false, "read each request's whole body before answering, as an upload handler does")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("parsing flags: unexpected argument %q", fs.Arg(0))
	}
	if o.delay < 0 {
		return options{}, fmt.Errorf("parsing flags: -delay %v is negative", o.delay)
	}
	if o.failAfter < 0 {
		return options{}, fmt.Errorf("parsing flags: -fail-after %v is negative", o.failAfter)
	}
	if !(o.failRate > 0 && o.failRate <= 1) {
		return options{}, fmt.Errorf("parsing flags: -fail-rate %v is not above 0 and at most 1", o.failRate)
	}
	if !(o.errorRate >= 0 && o.errorRate <= 1) {
		return options{}, fmt.Errorf("parsing flags: -error-rate %v is not between 0 and 1", o.errorRate)
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
// when delay is positive, or with a 500 when f says so (nil f: never). The
// request body, if any, is left to net/http, which drains a small one to
// keep the connection.
func newHandler(delay time.Duration, clock clockwork.Clock, f *faults) http.Handler {
	length := []string{strconv.Itoa(len(body))}
	contentType := []string{"application/json"}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if delay > 0 && !wait(r.Context(), clock, delay) {
			return
		}
		if f.fail(clock.Now()) {
			writeFailure(w)
			return
		}
		h := w.Header()
		h["Content-Length"] = length
		h["Content-Type"] = contentType
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
	})
}

// readingBody reads each request's whole body before h answers it; a body
// that breaks off gets no answer.
func readingBody(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			panic(http.ErrAbortHandler) // no answer to a broken request
		}
		h.ServeHTTP(w, r)
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
