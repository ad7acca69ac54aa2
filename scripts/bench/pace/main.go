// Command pace is the open-loop load generator of the benchmark scripts
// (scripts/bench/lib.sh uses it instead of wrk when RATE is set): it sends
// GET requests to one loopback URL at a constant rate, request i due at
// start + i/rate, over a fixed pool of keep-alive HTTP/1.1 connections, and
// counts each request's latency from the time it was due, not from the
// time it was sent, so that a server that falls behind is charged for the
// requests queued behind it (no coordinated omission, as wrk2 measures).
//
// After an unmeasured warmup and the measured duration it prints a short
// summary on stderr (offered and achieved rate, latency percentiles,
// errors, requests it could not send in time) and one machine-readable
// line on stdout, the one the wrk report script of the benchmarks prints:
//
//	RESULT <req/s achieved> <p50 ms> <p99 ms> <errors> <requests>
//
// Usage:
//
//	pace -url http://127.0.0.1:8080/ -rate 5000 -duration 10s -connections 64 [-warmup 2s] [-timeout 2s] [-sources]
//
// Go's timers wake a sleeping goroutine up to about 1 ms late when the
// process is otherwise idle, which would be part of every latency counted
// from a due time; on Linux each worker waits the last 2 ms before a due
// time on a timerfd instead, which the network poller wakes on time. The
// summary shows how late requests went out all the same ("send lag").
//
// It talks to loopback addresses only and stops by itself.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// maxRequests bounds rate × (warmup + duration): every latency of a run is
// kept in memory (8 bytes each) to be sorted at the end.
const maxRequests = 50_000_000

// options are the command line of pace.
type options struct {
	url         string
	rate        float64
	duration    time.Duration
	warmup      time.Duration
	connections int
	timeout     time.Duration
	sources     bool
}

func main() {
	opts, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pace:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := Run(ctx, configOf(opts), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pace:", err)
		os.Exit(1)
	}
	res.WriteSummary(os.Stderr)
	res.WriteResult(os.Stdout)
}

// parseFlags reads and checks the command line; usage and flag errors go
// to out.
func parseFlags(args []string, out io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("pace", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.url, "url", "", "URL to GET, on a loopback address (e.g. http://127.0.0.1:8080/)")
	fs.Float64Var(&o.rate, "rate", 0, "requests per second offered, constant (e.g. 5000)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured time after the warmup")
	fs.DurationVar(&o.warmup, "warmup", 0, "unmeasured time at the same rate before the measured one")
	fs.IntVar(&o.connections, "connections", 64, "keep-alive connections, so requests in flight at most")
	fs.DurationVar(&o.timeout, "timeout", 2*time.Second, "time a request may take from its sending, counted as an error beyond")
	fs.BoolVar(&o.sources, "sources", false, "give each connection a source address of its own (127.1.x.y), so that a proxy keyed on the client address sees one client per connection (IPv4 -url only)")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("parsing flags: unexpected argument %q", fs.Arg(0))
	}
	if err := o.check(); err != nil {
		return options{}, fmt.Errorf("parsing flags: %w", err)
	}
	return o, nil
}

// check reports the first flag whose value pace cannot run with.
func (o options) check() error {
	switch {
	case o.url == "":
		return errors.New("-url is required")
	case !(o.rate > 0) || o.rate > 1e9:
		return fmt.Errorf("-rate %v is not a number of requests per second above 0 (and at most 1e9)", o.rate)
	case o.duration <= 0:
		return fmt.Errorf("-duration %v is not above 0", o.duration)
	case o.warmup < 0:
		return fmt.Errorf("-warmup %v is negative", o.warmup)
	case o.connections < 1:
		return fmt.Errorf("-connections %d is below 1", o.connections)
	case o.timeout <= 0:
		return fmt.Errorf("-timeout %v is not above 0", o.timeout)
	case o.rate*(o.warmup+o.duration).Seconds() > maxRequests:
		return fmt.Errorf("-rate %v over -warmup %v and -duration %v is more than %d requests", o.rate, o.warmup, o.duration, maxRequests)
	}
	t, err := loopbackTarget(o.url)
	if err != nil {
		return err
	}
	if o.sources {
		if o.connections > maxSources {
			return fmt.Errorf("-sources: -connections %d is more than the %d source addresses", o.connections, maxSources)
		}
		if host, _, _ := net.SplitHostPort(t.Addr); net.ParseIP(host).To4() == nil {
			return fmt.Errorf("-sources: -url %q is not on an IPv4 address (the sources are 127.1.x.y)", o.url)
		}
	}
	return nil
}

// configOf turns checked options into the generator's configuration.
func configOf(o options) Config {
	target, _ := loopbackTarget(o.url) // checked by parseFlags
	return Config{
		Target:      target,
		Rate:        o.rate,
		Duration:    o.duration,
		Warmup:      o.warmup,
		Connections: o.connections,
		Timeout:     o.timeout,
		Sources:     o.sources,
	}
}

// loopbackTarget parses raw, an http URL on a loopback IP address or
// localhost, into the address to dial and the request to send.
func loopbackTarget(raw string) (Target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Target{}, fmt.Errorf("parsing -url: %w", err)
	}
	if u.Scheme != "http" {
		return Target{}, fmt.Errorf("-url %q: scheme %q is not http (pace speaks plain HTTP/1.1)", raw, u.Scheme)
	}
	if u.User != nil {
		return Target{}, fmt.Errorf("-url %q: user info is not supported", raw)
	}
	host := u.Hostname()
	if !isLoopback(host) {
		return Target{}, fmt.Errorf("-url %q: host %q is not a loopback address (127.0.0.0/8, ::1 or localhost): pace loads loopback only", raw, host)
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	path := u.RequestURI()
	// url.Parse keeps a raw query as it is: a space or a control byte
	// there would cut the request line.
	if i := strings.IndexFunc(path, func(r rune) bool { return r <= ' ' || r == 0x7f }); i >= 0 {
		return Target{}, fmt.Errorf("-url %q: %q in the path or query cuts the request line; escape it (%%20 for a space)", raw, path[i])
	}
	return Target{Addr: net.JoinHostPort(host, port), Host: u.Host, Path: path}, nil
}

// isLoopback reports whether host is a loopback IP literal or localhost.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
