// Package demo runs migrate's embedded default: two sample stacks of a small
// shop app (old and new, with a few deliberate differences), a migrate
// instance in front of them, a crowd of clients, and a progressive cutover
// from old to new, with a side-by-side summary at the end. `migrate demo`
// runs it; tests use its sample apps as backends.
//
// It prints progress to Options.Out and logs through Options.Logger.
package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/migratekit/migrate/admin"
	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/serve"
)

// App is the name of the demo's app.
const App = "shop"

// Options configure a demo run.
type Options struct {
	Duration time.Duration // default 30s
	Listen   string        // proxy address; default 127.0.0.1:0
	Admin    string        // admin API address; default 127.0.0.1:0
	Plan     []int         // weights stepped through; default 0, 10, 50, 100
	Rate     int           // requests per second; default 200
	Clients  int           // distinct clients; default 200
	Out      io.Writer     // progress and summary; nil: discard
	Logger   *slog.Logger  // nil: discard
}

// Summary is the outcome of a demo run.
type Summary struct {
	Status  admin.AppStatus
	Traffic TrafficStats
}

func (o *Options) defaults() {
	if o.Duration <= 0 {
		o.Duration = 30 * time.Second
	}
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	if o.Admin == "" {
		o.Admin = "127.0.0.1:0"
	}
	if len(o.Plan) == 0 {
		o.Plan = []int{0, 10, 50, 100}
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
}

// Run runs the demo until its duration is over or ctx ends, and returns
// what happened.
func Run(ctx context.Context, opts Options) (Summary, error) {
	opts.defaults()
	stacks, err := startStacks()
	if err != nil {
		return Summary{}, err
	}
	defer stacks.close()
	m, err := manifest.Parse("demo.yaml", renderManifest(opts, stacks.oldURL, stacks.newURL))
	if err != nil {
		return Summary{}, fmt.Errorf("building the demo manifest: %w", err)
	}
	dataDir, err := os.MkdirTemp("", "migrate-demo-")
	if err != nil {
		return Summary{}, fmt.Errorf("creating the demo's data dir: %w", err)
	}
	defer os.RemoveAll(dataDir)
	token := randomToken()
	inst, err := serve.New(ctx, serve.Options{Manifest: m, DataDir: dataDir, Token: token, Logger: opts.Logger})
	if err != nil {
		return Summary{}, err
	}
	proxyURL := "http://" + inst.Proxy.Addrs()[opts.Listen].String()
	adminURL := "http://" + inst.AdminAddr().String()
	fmt.Fprintf(opts.Out, "migrate demo: app %q, old stack %s, new stack %s\n", App, stacks.oldURL, stacks.newURL)
	fmt.Fprintf(opts.Out, "  proxy      %s/api/products\n  status     %s/api/v1/apps/%s\n  metrics    %s/metrics\n", proxyURL, adminURL, App, adminURL)
	fmt.Fprintf(opts.Out, "  try        MIGRATE_ADMIN_TOKEN=%s migrate cutover %s --admin %s --weight 25\n\n", token, App, inst.AdminAddr())

	// The plan's end stops the traffic and the instance.
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	client := &admin.Client{BaseURL: adminURL, Token: token}
	traffic := &Traffic{URL: proxyURL, Rate: opts.Rate, Clients: opts.Clients}
	g, gctx := errgroup.WithContext(runCtx)
	g.Go(func() error { return inst.Run(gctx) })
	g.Go(func() error { traffic.Run(gctx); return nil })
	var sum Summary
	g.Go(func() error {
		defer stop()
		return runPlan(gctx, opts, client)
	})
	planErr := g.Wait()
	sum.Traffic = traffic.Stats()
	st, _ := inst.Admin.Status(App)
	sum.Status = st
	if planErr != nil && !errors.Is(planErr, context.Canceled) && !errors.Is(planErr, context.DeadlineExceeded) {
		return sum, planErr
	}
	printSummary(opts.Out, sum)
	return sum, nil
}

// runPlan steps the weight through the plan, one step per equal share of
// the duration, printing the numbers of each step as it goes.
func runPlan(ctx context.Context, opts Options, client *admin.Client) error {
	step := opts.Duration / time.Duration(len(opts.Plan))
	start := time.Now()
	for i, w := range opts.Plan {
		st, err := client.SetWeight(ctx, App, w, "demo plan step")
		if err != nil {
			return fmt.Errorf("setting weight %d: %w", w, err)
		}
		if i > 0 {
			printStep(opts.Out, time.Since(start), st)
		}
		fmt.Fprintf(opts.Out, "%5.1fs  weight -> %d%% on new\n", time.Since(start).Seconds(), w)
		t := time.NewTimer(step)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	st, err := client.App(ctx, App)
	if err == nil {
		printStep(opts.Out, time.Since(start), st)
	}
	return err
}

func printStep(w io.Writer, at time.Duration, st admin.AppStatus) {
	o, n := st.Sides["old"], st.Sides["new"]
	fmt.Fprintf(w, "%5.1fs    old %6d req %5.2f%% 5xx p99 %5.1f ms | new %6d req %5.2f%% 5xx p99 %5.1f ms\n",
		at.Seconds(), o.Requests, o.ErrorRate*100, o.P99Ms, n.Requests, n.ErrorRate*100, n.P99Ms)
}

func printSummary(w io.Writer, sum Summary) {
	fmt.Fprintln(w, "\nsummary")
	_ = sum.Status.WriteText(w)
	fmt.Fprintf(w, "\nclients' requests sent %d, transport failures %d, clients moved back from new to old %d\n",
		sum.Traffic.Sent, sum.Traffic.Failed, sum.Traffic.MovedBack)
}

func renderManifest(opts Options, oldURL, newURL string) []byte {
	return fmt.Appendf(nil, `defaults:
  listen: %s
  admin: {listen: %s}
  drain: 5s
apps:
  %s:
    trusted_proxies: [127.0.0.1, "::1"]
    debug_headers: true
    old: {backends: [%s], health: {path: /healthz, interval: 1s, timeout: 500ms}}
    new: {backends: [%s], health: {path: /healthz, interval: 1s, timeout: 500ms}}
    cutover: {weight: 0, sticky: ip}
`, opts.Listen, opts.Admin, App, oldURL, newURL)
}

func randomToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// stacks are the two sample apps, served on loopback.
type stacks struct {
	oldURL, newURL string
	servers        []*http.Server
}

func startStacks() (*stacks, error) {
	s := &stacks{}
	for _, h := range []http.Handler{OldApp(), NewApp()} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			s.close()
			return nil, fmt.Errorf("starting a sample stack: %w", err)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		s.servers = append(s.servers, srv)
		if s.oldURL == "" {
			s.oldURL = "http://" + ln.Addr().String()
		} else {
			s.newURL = "http://" + ln.Addr().String()
		}
	}
	return s, nil
}

func (s *stacks) close() {
	for _, srv := range s.servers {
		srv.Close()
	}
}
