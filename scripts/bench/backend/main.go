// Command backend is the origin server of the proxy benchmarks
// (scripts/bench/proxy): it answers every request with 200 and the same
// 100-byte body, over keep-alive connections, doing as little work as it can
// so that the CPU goes to the proxy being measured.
//
//	backend -listen 127.0.0.1:8000
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// body is the fixed response: 100 bytes with the newline, like a small JSON
// API answer.
var body = []byte(`{"ok":true,"service":"bench-backend","items":[1,2,3,4,5,6,7,8,9,10],"note":"fixed response body.."}` + "\n")

func main() {
	listen := flag.String("listen", "127.0.0.1:8000", "address to listen on (host:port)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, *listen); err != nil {
		fmt.Fprintln(os.Stderr, "backend:", err)
		os.Exit(1)
	}
}

// serve answers on addr until ctx is done.
func serve(ctx context.Context, addr string) error {
	srv := &http.Server{
		Addr:              addr,
		Handler:           newHandler(),
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

// newHandler answers every request with 200 and body. The request body, if
// any, is left to net/http, which drains a small one to keep the connection.
func newHandler() http.Handler {
	length := []string{strconv.Itoa(len(body))}
	contentType := []string{"application/json"}
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h["Content-Length"] = length
		h["Content-Type"] = contentType
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
	})
}
