package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/migratekit/migrate/admin"
	"github.com/migratekit/migrate/dnscheck"
	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/state"
	"github.com/migratekit/migrate/telemetry"
)

// resolvConf is where the system's resolvers are read from by default.
const resolvConf = dnscheck.ResolvConf

// resolvConfFlag adds --resolv-conf to f, into conf.
func resolvConfFlag(f *pflag.FlagSet, conf *string) {
	f.StringVar(conf, "resolv-conf", resolvConf, "the resolv.conf file whose nameservers join the panel (when the default cannot be read, the panel goes on without them)")
}

type dnscheckOptions struct {
	*rootOptions
	Name          string
	Type          string
	Expect, Old   []string
	Resolvers     []string
	Authoritative []string
	System        bool
	ResolvConf    string
	resolvConfSet bool
	Timeout       time.Duration
	Retries       int
	Rate          float64
	ClientSubnet  string
	DNSSEC        bool
	Format        string
}

func newCmdDNSCheck(root *rootOptions) *cobra.Command {
	opts := &dnscheckOptions{rootOptions: root}
	cmd := &cobra.Command{
		Use:   "dnscheck NAME --type T --expect VALUE...",
		Short: "Check that a DNS record has propagated to its authoritative servers and to public resolvers",
		Long: `dnscheck asks every authoritative server of NAME's zone (every address of
every NS, recursion off, AA required, SOA serials compared) and a panel of
resolvers (well-known public ones and the system's, or --resolver) for the
record, and prints per server the answer, its remaining TTL and whether it
matches, is stale (an --old value), wrong, missing or failed; then the
propagated share and the ETA, when the last stale cache expires.

It exits 0 when every authoritative server and every resolver answers the
expected values, 1 when not, 2 on bad input and 3 when the check itself
fails (e.g. the zone's name servers cannot be found).`,
		Example: `  migrate dnscheck www.example.com --type A --expect 203.0.113.10 --old 198.51.100.7
  migrate dnscheck example.com --type MX --expect "10 mail.example.com"
  migrate dnscheck www.example.com --type AAAA --expect 2001:db8::10 --resolver 1.1.1.1 --resolver 8.8.8.8:53
  migrate dnscheck www.example.com --type A --expect 203.0.113.10 --authoritative 192.0.2.53:53 --format json
  migrate dnscheck watch shop --until-propagated --timeout 2h`,
		Args: exactArgs(1, "one record name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if !cmd.Flags().Changed("system-resolvers") && len(opts.Resolvers) > 0 {
				opts.System = false // --resolver replaces the whole panel
			}
			opts.resolvConfSet = cmd.Flags().Changed("resolv-conf")
			return dnscheckRun(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Type, "type", "A", "record type: "+strings.Join(dnscheck.Types, ", "))
	f.StringArrayVar(&opts.Expect, "expect", nil, "an expected value (repeatable; all of them make a match)")
	f.StringArrayVar(&opts.Old, "old", nil, "a value being replaced: a server still answering it is stale (repeatable)")
	f.StringArrayVar(&opts.Resolvers, "resolver", nil, "a resolver HOST:PORT or IP, replacing the default panel (repeatable)")
	f.StringArrayVar(&opts.Authoritative, "authoritative", nil, "an authoritative server HOST:PORT or IP, replacing the discovery of the zone's NS (repeatable)")
	f.BoolVar(&opts.System, "system-resolvers", true, "add the resolvers of --resolv-conf to the panel; with --resolver, only when given explicitly")
	resolvConfFlag(f, &opts.ResolvConf)
	f.DurationVar(&opts.Timeout, "timeout", manifest.DefaultDNSTimeout, "timeout of one query")
	f.IntVar(&opts.Retries, "retries", manifest.DefaultDNSRetries, "retries after a failed query, with backoff")
	f.Float64Var(&opts.Rate, "rate", manifest.DefaultDNSRate, "most queries per second to one server")
	f.StringVar(&opts.ClientSubnet, "client-subnet", "", "EDNS client subnet to send (a CIDR), for geo answers")
	f.BoolVar(&opts.DNSSEC, "dnssec", false, "set the DNSSEC OK bit")
	f.StringVar(&opts.Format, "format", "text", "output format: text or json")
	_ = cmd.MarkFlagRequired("expect")
	cmd.AddCommand(newCmdDNSCheckWatch(root))
	return cmd
}

func dnscheckRun(ctx context.Context, opts *dnscheckOptions) error {
	if err := checkFormat(opts.Format); err != nil {
		return err
	}
	var panel []string
	var err error
	switch {
	case !opts.System:
		panel, err = dnscheck.Panel(opts.Resolvers, "")
	case opts.resolvConfSet:
		panel, err = dnscheck.Panel(opts.Resolvers, opts.ResolvConf)
	default:
		var skipped error
		panel, skipped, err = dnscheck.SystemPanel(opts.Resolvers, opts.ResolvConf)
		if skipped != nil {
			opts.logger().Warn("checking without the system's resolvers: they cannot be read", "err", skipped)
		}
	}
	if err != nil {
		return usageErrorf("%v", err)
	}
	subnet, err := parseSubnet(opts.ClientSubnet)
	if err != nil {
		return err
	}
	retries := opts.Retries
	if retries == 0 {
		retries = -1 // none; 0 is the library's default
	}
	q := dnscheck.Query{Name: opts.Name, Type: opts.Type, Expect: opts.Expect, Old: opts.Old}
	copts := dnscheck.Options{Resolvers: panel, Authoritative: opts.Authoritative, Timeout: opts.Timeout, Retries: retries,
		Rate: opts.Rate, ClientSubnet: subnet, DO: opts.DNSSEC, Logger: opts.logger()}
	if err := dnscheck.Validate(q, copts); err != nil {
		return usageErrorf("%v", err)
	}
	rep, err := dnscheck.Check(ctx, q, copts)
	if err != nil {
		return err
	}
	if opts.Format == "json" {
		err = rep.WriteJSON(opts.IO.Out)
	} else {
		err = dnscheck.WriteText(opts.IO.Out, rep, time.Now())
	}
	if err != nil {
		return err
	}
	if !rep.Done() {
		return checkFailed(fmt.Errorf("%s %s not propagated: %.0f%% of resolvers, %.0f%% of authoritative servers", rep.Name, rep.Type, rep.Propagated*100, rep.Agreement*100))
	}
	return nil
}

func parseSubnet(s string) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return p, usageErrorf("--client-subnet %q: not a CIDR such as 198.51.100.0/24", s)
	}
	return p.Masked(), nil
}

type dnscheckWatchOptions struct {
	*rootOptions
	App             string
	UntilPropagated bool
	Timeout         time.Duration
	MetricsListen   string
	Fallbacks       []string
	Format          string
	ResolvConf      string
	resolvConfSet   bool
}

func newCmdDNSCheckWatch(root *rootOptions) *cobra.Command {
	opts := &dnscheckWatchOptions{rootOptions: root}
	cmd := &cobra.Command{
		Use:   "watch APP",
		Short: "Re-check APP's dns: records until they have propagated",
		Long: `watch checks every record of APP's dns: list as dnscheck does, with the
settings of its dns_check: section, again and again: every interval at
first, backing off to max_interval while nothing changes. On a terminal it
redraws the tables in place; otherwise it prints plain lines (or JSON lines
with --format json). It records an event in the state store when a record
becomes fully propagated and when it regresses, and exports the gauges
migrate_dns_propagated_ratio, migrate_dns_authoritative_agreement_ratio and
migrate_dns_eta_seconds on --metrics-listen.

With --fallback (the admin URL of a running migrate fallback) it also says
when retiring the old host is safe: every record propagated everywhere, the
worst-case ETA passed, and the fallback's arrivals under
fallback.retire_below for fallback.retire_after.

With --until-propagated it exits 0 as soon as every record is propagated;
when --timeout passes first it exits 1. It runs until SIGINT or SIGTERM
otherwise.`,
		Example: `  migrate dnscheck watch shop
  migrate dnscheck watch shop --until-propagated --timeout 2h
  migrate dnscheck watch shop --metrics-listen 127.0.0.1:9464 --fallback http://old-host:9090`,
		Args: exactArgs(1, "one app name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.App = args[0]
			opts.resolvConfSet = cmd.Flags().Changed("resolv-conf")
			ctx, stop := root.signalContext(cmd.Context())
			defer stop()
			return dnscheckWatchRun(ctx, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.UntilPropagated, "until-propagated", false, "exit 0 once every record is propagated")
	f.DurationVar(&opts.Timeout, "timeout", 0, "give up after this long, exiting 1 unless every record is propagated (0: never)")
	f.StringVar(&opts.MetricsListen, "metrics-listen", "", "serve the gauges on http://ADDR/metrics")
	f.StringArrayVar(&opts.Fallbacks, "fallback", nil, "admin URL of a running migrate fallback, for the retirement advice (repeatable; default: the app's fallback.admin)")
	f.StringVar(&opts.Format, "format", "text", "output format: text or json (one object per round)")
	resolvConfFlag(f, &opts.ResolvConf)
	return cmd
}

func dnscheckWatchRun(ctx context.Context, opts *dnscheckWatchOptions) error {
	if err := checkFormat(opts.Format); err != nil {
		return err
	}
	if opts.Timeout < 0 {
		return usageErrorf("--timeout %s is negative", opts.Timeout)
	}
	m, err := opts.loadManifest()
	if err != nil {
		return err
	}
	a, ok := m.Apps[opts.App]
	if !ok {
		return usageErrorf("app %q is not in the manifest (apps: %v)", opts.App, m.AppNames())
	}
	if len(a.DNS) == 0 {
		return usageErrorf("apps.%s.dns: no records to watch", opts.App)
	}
	log := opts.logger()
	var wopts dnscheck.WatchOptions
	if opts.resolvConfSet {
		wopts, err = dnscheck.WatchOptionsFor(a, opts.ResolvConf)
	} else {
		wopts, err = dnscheck.WatchOptionsForSystem(a, opts.ResolvConf, log)
	}
	if err != nil {
		return usageErrorf("%v", err)
	}
	store, err := state.OpenWith(ctx, m.Global.State, state.Options{DataDir: opts.DataDir, Logger: log})
	if err != nil {
		return fmt.Errorf("opening state: %w", err)
	}
	defer store.Close()
	metrics, stopMetrics, err := watchMetrics(opts.MetricsListen)
	if err != nil {
		return err
	}
	defer stopMetrics()
	view := dnscheck.NewView(opts.IO.Out, isTerminal(opts.IO.Out))
	if opts.Format == "json" {
		view = dnscheck.NewJSONView(opts.IO.Out)
	}
	if len(opts.Fallbacks) == 0 && a.Fallback.Admin != "" {
		opts.Fallbacks = []string{a.Fallback.Admin}
	}
	var last dnscheck.Round
	wopts.Events, wopts.Gauges, wopts.Fallbacks, wopts.Logger = store, metrics, opts.Fallbacks, log
	wopts.UntilPropagated = opts.UntilPropagated
	wopts.HTTPClient = bearerClient(m.Global.Admin.TokenEnv) // a fallback on another host answers reads with the token only
	wopts.OnRound = func(r dnscheck.Round) {
		last = r
		if err := view.Render(r); err != nil {
			log.Warn("rendering dns watch", "err", err)
		}
	}
	w, err := dnscheck.NewWatcher(wopts)
	if err != nil {
		return usageErrorf("%v", err)
	}
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	return watchExit(w.Run(ctx), last, opts)
}

// watchExit maps the end of a watch to its exit: 1 when --timeout passed
// before every record propagated, 0 when it passed after or on a signal.
func watchExit(err error, last dnscheck.Round, opts *dnscheckWatchOptions) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.DeadlineExceeded) && !last.Done:
		return checkFailed(fmt.Errorf("%s: dns not propagated within %s", opts.App, opts.Timeout))
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return nil
	}
	return err
}

// watchMetrics creates the metrics on their own registry and, with an
// address, serves them on addr/metrics until stop.
func watchMetrics(addr string) (*telemetry.Metrics, func(), error) {
	reg := prometheus.NewRegistry()
	metrics, err := telemetry.New(reg)
	if err != nil {
		return nil, nil, fmt.Errorf("creating metrics: %w", err)
	}
	if addr == "" {
		return metrics, func() {}, nil
	}
	stop, err := serveMetrics(addr, reg)
	if err != nil {
		return nil, nil, err
	}
	return metrics, stop, nil
}

// serveMetrics serves reg on addr/metrics until the returned stop.
func serveMetrics(addr string, reg *prometheus.Registry) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, &exitError{code: exitRuntime, err: fmt.Errorf("listening for metrics on %s: %w", addr, err)}
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	// Open on loopback as the admin API's reads are, so with its Host check.
	srv := admin.NewHTTPServer(admin.Guard(mux, ln.Addr(), listenHost(addr)))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}

// listenHost is the host named in a listen address, as the names its
// listener takes as Host (none for ":9464").
func listenHost(addr string) []string {
	if h, _, err := net.SplitHostPort(addr); err == nil && h != "" {
		return []string{h}
	}
	return nil
}

// isTerminal says whether w is a terminal (a character device).
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
