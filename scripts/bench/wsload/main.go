// Command wsload measures websocket traffic through a proxy, for
// scripts/bench/websocket. With -serve it is the websocket echo backend
// (coder/websocket, each message written back as it came); otherwise it is
// the load: -conns workers against -target for -duration, in one of two
// modes:
//
//   - echo: each worker upgrades one connection, then sends a message of
//     -size bytes and waits for its echo, over and over: messages/s and
//     the round trip's p50 and p99;
//   - upgrade: each worker opens a new connection, upgrades it, sends one
//     message, reads its echo and closes (a close frame, then the socket),
//     over and over: upgrades/s and the p50 and p99 of the whole exchange.
//
// The client speaks RFC 6455 on raw sockets (a masked binary frame each
// way, nothing allocated per message), so that the load costs little of
// the shared CPU.
//
//	go run ./scripts/bench/wsload -serve 127.0.0.1:9000
//	go run ./scripts/bench/wsload -target 127.0.0.1:8080 -mode echo -conns 64 -duration 10s
//
// The load prints one line, as scripts/bench/lib.sh's report.lua does:
// "RESULT <per second> <p50 ms> <p99 ms> <errors> <count>".
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"
)

func main() {
	serve := flag.String("serve", "", "run the echo backend on this host:port")
	target := flag.String("target", "", "the proxy (or backend), host:port")
	host := flag.String("host", "127.0.0.1", "the Host header of the upgrade requests")
	mode := flag.String("mode", "echo", "echo or upgrade")
	conns := flag.Int("conns", 64, "workers, one connection each at a time")
	size := flag.Int("size", 64, "message bytes")
	duration := flag.Duration("duration", 10*time.Second, "how long to run")
	flag.Parse()
	var err error
	if *serve != "" {
		err = serveEcho(*serve)
	} else {
		err = load(config{target: *target, host: *host, mode: *mode, conns: *conns, size: *size, duration: *duration})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "wsload:", err)
		os.Exit(1)
	}
}

// config is a load run's settings.
type config struct {
	target, host, mode string
	conns, size        int
	duration           time.Duration
}

// tally is one worker's results: the duration of each exchange, and the
// errors.
type tally struct {
	took   []time.Duration
	errors int
	first  error // the first error
}

// failed counts err.
func (t *tally) failed(err error) {
	if t.errors++; t.first == nil {
		t.first = err
	}
}

// load runs the workers and prints the RESULT line.
func load(cfg config) error {
	if cfg.target == "" {
		return fmt.Errorf("-target or -serve is required")
	}
	if cfg.mode != "echo" && cfg.mode != "upgrade" {
		return fmt.Errorf("mode %q: want echo or upgrade", cfg.mode)
	}
	deadline := time.Now().Add(cfg.duration)
	tallies := make([]tally, cfg.conns)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range tallies {
		wg.Go(func() { work(cfg, deadline, &tallies[i]) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	errs := 0
	var first error
	for _, t := range tallies {
		all = append(all, t.took...)
		errs += t.errors
		if first == nil {
			first = t.first
		}
	}
	if first != nil {
		fmt.Fprintf(os.Stderr, "wsload: %d errors, the first: %v\n", errs, first)
	}
	if len(all) == 0 {
		return fmt.Errorf("no exchange succeeded (%d errors)", errs)
	}
	slices.Sort(all)
	pct := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))]) / 1e6 }
	fmt.Printf("RESULT %.2f %.3f %.3f %d %d\n", float64(len(all))/elapsed.Seconds(), pct(0.50), pct(0.99), errs, len(all))
	return nil
}

// work is one worker until deadline.
func work(cfg config, deadline time.Time, t *tally) {
	if cfg.mode == "upgrade" {
		for time.Now().Before(deadline) {
			begin := time.Now()
			if err := upgradeOnce(cfg); err != nil {
				t.failed(err)
				continue
			}
			t.took = append(t.took, time.Since(begin))
		}
		return
	}
	for time.Now().Before(deadline) {
		if err := echoLoop(cfg, deadline, t); err != nil {
			t.failed(err)
		}
	}
}

// upgradeOnce opens a connection, upgrades it, makes one round trip and
// closes it.
func upgradeOnce(cfg config) error {
	c, err := dial(cfg)
	if err != nil {
		return err
	}
	defer c.close()
	if err := c.roundTrip(); err != nil {
		return err
	}
	return c.sendClose()
}

// echoLoop upgrades one connection and makes round trips on it until
// deadline.
func echoLoop(cfg config, deadline time.Time, t *tally) error {
	c, err := dial(cfg)
	if err != nil {
		return err
	}
	defer c.close()
	for time.Now().Before(deadline) {
		begin := time.Now()
		if err := c.roundTrip(); err != nil {
			return err
		}
		t.took = append(t.took, time.Since(begin))
	}
	return c.sendClose()
}
