// Package demo runs migrate's embedded default: sample stacks of a small shop
// app (old, a second old instance, and new, with deliberate differences), a
// migrate instance in front of them in the shadow phase (served by old, every
// request mirrored to new and diffed), a crowd of clients, optionally a
// cutover plan, and at the end the diff report and a side-by-side summary.
// `migrate demo` runs it; tests use its sample apps as backends.
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
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/migratekit/migrate/admin"
	"github.com/migratekit/migrate/compare"
	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/rollback"
	"github.com/migratekit/migrate/serve"
)

// App is the name of the demo's app.
const App = "shop"

// Options configure a demo run.
type Options struct {
	Duration time.Duration // 0: until ctx ends
	Listen   string        // proxy address; default 127.0.0.1:0
	Admin    string        // admin API address; default 127.0.0.1:0
	Plan     []int         // weights stepped through evenly over Duration; none: stay in the shadow phase
	Rate     int           // requests per second; default 200
	Clients  int           // distinct clients; default 200
	Out      io.Writer     // progress and summary; nil: discard
	Logger   *slog.Logger  // nil: discard
	// Started, when set, is called once the instance listens, with the
	// proxy's and the admin API's URLs and the admin token (tests drive the
	// dashboard with them).
	Started func(proxyURL, adminURL, token string)
}

// Summary is the outcome of a demo run.
type Summary struct {
	Status  admin.AppStatus
	Traffic TrafficStats
	// Report is the diff report of the shadowed traffic.
	Report compare.Report
}

func (o *Options) defaults() {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	if o.Admin == "" {
		o.Admin = "127.0.0.1:0"
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
}

// Run runs the demo until its duration is over or ctx ends, and returns
// what happened.
func Run(ctx context.Context, opts Options) (Summary, error) {
	opts.defaults()
	if len(opts.Plan) > 0 && opts.Duration <= 0 {
		return Summary{}, errors.New("a cutover plan needs a duration")
	}
	stacks, err := startStacks()
	if err != nil {
		return Summary{}, err
	}
	defer stacks.close()
	m, err := manifest.Parse("demo.yaml", renderManifest(opts, stacks))
	if err != nil {
		return Summary{}, fmt.Errorf("building the demo manifest: %w", err)
	}
	dataDir, err := os.MkdirTemp("", "migrate-demo-")
	if err != nil {
		return Summary{}, fmt.Errorf("creating the demo's data dir: %w", err)
	}
	defer os.RemoveAll(dataDir)
	token := randomToken()
	inst, err := serve.New(ctx, serve.Options{Manifest: m, Shadow: true, DataDir: dataDir, Token: token, Logger: opts.Logger})
	if err != nil {
		return Summary{}, err
	}
	proxyURL := "http://" + inst.Proxy.Addrs()[opts.Listen].String()
	adminURL := "http://" + inst.AdminAddr().String()
	printIntro(opts, stacks, proxyURL, adminURL, token)
	if opts.Started != nil {
		opts.Started(proxyURL, adminURL, token)
	}

	// The end of the duration, of the plan or of ctx stops the traffic and
	// the instance.
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	if opts.Duration > 0 {
		runCtx, stop = context.WithTimeout(runCtx, opts.Duration+time.Second)
		defer stop()
	}
	adminTransport := &http.Transport{}
	defer adminTransport.CloseIdleConnections()
	client := &admin.Client{BaseURL: adminURL, Token: token, HTTP: &http.Client{Timeout: 10 * time.Second, Transport: adminTransport}}
	traffic := &Traffic{URL: proxyURL, Rate: opts.Rate, Clients: opts.Clients}
	var sum Summary
	g, gctx := errgroup.WithContext(runCtx)
	g.Go(func() error { return inst.Run(gctx) })
	g.Go(func() error { traffic.Run(gctx); return nil })
	g.Go(func() error {
		defer stop()
		err := drive(gctx, opts, client)
		// Read the report while the instance still runs.
		sum.Report, _, _ = inst.DiffReport(context.WithoutCancel(gctx), App)
		sum.Status, _ = inst.Admin.Status(App)
		return err
	})
	err = g.Wait()
	sum.Traffic = traffic.Stats()
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return sum, err
	}
	printSummary(opts.Out, sum)
	return sum, nil
}

// drive runs the plan when there is one, else prints progress every few
// seconds until the duration is over or ctx ends.
func drive(ctx context.Context, opts Options, client *admin.Client) error {
	if len(opts.Plan) > 0 {
		return runPlan(ctx, opts, client)
	}
	start := time.Now()
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	var end <-chan time.Time
	if opts.Duration > 0 {
		t := time.NewTimer(opts.Duration)
		defer t.Stop()
		end = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-end:
			return nil
		case <-tick.C:
			if st, err := client.App(ctx, App); err == nil {
				printStep(opts.Out, time.Since(start), st)
			}
		}
	}
}

func printIntro(opts Options, s *stacks, proxyURL, adminURL, token string) {
	fmt.Fprintf(opts.Out, "migrate demo: app %q in the %s phase: served by old %s, mirrored to new %s\n", App, rollback.PhaseShadow, s.oldURL, s.newURL)
	fmt.Fprintf(opts.Out, "  (a second old instance %s answers too, so that what differs between two olds counts as noise)\n", s.secondaryURL)
	fmt.Fprintf(opts.Out, "  proxy      %s/api/products\n", proxyURL)
	fmt.Fprintf(opts.Out, "  dashboard  %s/dashboard/\n", adminURL)
	fmt.Fprintf(opts.Out, "  status     %s/api/v1/apps/%s\n", adminURL, App)
	fmt.Fprintf(opts.Out, "  diffs      %s/api/v1/apps/%s/diffs?format=text\n", adminURL, App)
	fmt.Fprintf(opts.Out, "  metrics    %s/metrics\n", adminURL)
	fmt.Fprintf(opts.Out, "  try        MIGRATE_ADMIN_TOKEN=%s migrate cutover %s --admin %s --weight 25\n", token, App, strings.TrimPrefix(adminURL, "http://"))
	if opts.Duration > 0 {
		fmt.Fprintf(opts.Out, "running for %s\n\n", opts.Duration)
	} else {
		fmt.Fprintln(opts.Out, "running until Ctrl-C")
		fmt.Fprintln(opts.Out)
	}
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

// printStep prints the requests each side served and, once a side has
// answered mirrored requests, those too: in the shadow phase new serves
// nothing, and its answers to the mirror are what there is to watch.
func printStep(w io.Writer, at time.Duration, st admin.AppStatus) {
	o, n := st.Sides["old"], st.Sides["new"]
	fmt.Fprintf(w, "%5.1fs    old %6d req %5.2f%% 5xx p99 %5.1f ms | new %6d req %5.2f%% 5xx p99 %5.1f ms",
		at.Seconds(), o.Requests, o.ErrorRate*100, o.P99Ms, n.Requests, n.ErrorRate*100, n.P99Ms)
	for _, side := range []string{"new", "old"} {
		if m := st.Sides[side].Mirrored; m.Requests > 0 {
			fmt.Fprintf(w, " | mirrored to %s %6d req %5.2f%% 5xx p99 %5.1f ms", side, m.Requests, m.ErrorRate*100, m.P99Ms)
		}
	}
	fmt.Fprintln(w)
}

func printSummary(w io.Writer, sum Summary) {
	fmt.Fprintln(w, "\ndiff report")
	_ = compare.WriteReport(w, compare.FormatText, sum.Report)
	for _, e := range sum.Report.Endpoints {
		if fields := Regressions(e); len(fields) > 0 {
			fmt.Fprintf(w, "regression on %s: %s (%.1f%% of mirrored requests differ, %s)\n", e.Endpoint, strings.Join(fields, ", "), e.DiffRate*100, e.Direction.Arrow())
		}
	}
	fmt.Fprintln(w, "\nsummary")
	_ = sum.Status.WriteText(w)
	fmt.Fprintf(w, "\nclients' requests sent %d, transport failures %d, clients moved back from new to old %d\n",
		sum.Traffic.Sent, sum.Traffic.Failed, sum.Traffic.MovedBack)
}

func renderManifest(opts Options, s *stacks) []byte {
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
    shadow:
      sample: 100%%
      secondary: [%s]
      routes: [/api/products/:id, /api/cart/:id]
`, opts.Listen, opts.Admin, App, s.oldURL, s.newURL, s.secondaryURL)
}

func randomToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// stacks are the sample apps, served on loopback.
type stacks struct {
	oldURL, newURL, secondaryURL string
	servers                      []*http.Server
}

func startStacks() (*stacks, error) {
	s := &stacks{}
	for _, url := range []*string{&s.oldURL, &s.newURL, &s.secondaryURL} {
		h := OldApp()
		if url == &s.newURL {
			h = NewApp()
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			s.close()
			return nil, fmt.Errorf("starting a sample stack: %w", err)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		s.servers = append(s.servers, srv)
		*url = "http://" + ln.Addr().String()
	}
	return s, nil
}

func (s *stacks) close() {
	for _, srv := range s.servers {
		srv.Close()
	}
}

// Regressions are the fields of e that differ and are not noise.
func Regressions(e compare.EndpointStats) []string {
	var out []string
	for _, f := range e.Fields {
		if !f.Noise && f.Count > 0 {
			out = append(out, f.Path)
		}
	}
	return out
}
