package dnscheck

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/miekg/dns"

	"github.com/migratekit/migrate/manifest"
)

// Defaults of Options.
const (
	DefaultConcurrency = 64
	DefaultBackoff     = 100 * time.Millisecond
)

// Query is the record checked.
type Query struct {
	Name   string
	Type   string   // A, AAAA, CNAME, TXT or MX
	Expect []string // the new values
	// Old are the values being replaced: a server still answering one of
	// them is stale rather than wrong. Optional.
	Old []string
}

// Options configure a check. The zero value of a field is its default.
type Options struct {
	// Resolvers (HOST:PORT, or an IP for port 53) are the panel; see
	// Panel for the default one.
	Resolvers []string
	// Authoritative (HOST:PORT, or an IP for port 53) replace the
	// discovery of the zone's name servers.
	Authoritative []string
	// AuthoritativePort is the port of discovered name servers; default
	// 53.
	AuthoritativePort int
	Timeout           time.Duration // per attempt; default [manifest.DefaultDNSTimeout]
	Retries           int           // after a failed attempt; default [manifest.DefaultDNSRetries], negative for none
	Backoff           time.Duration // before the first retry, doubled each time; default DefaultBackoff
	// Rate is the most queries per second to one server; default
	// [manifest.DefaultDNSRate]. Ignored when Limits is set.
	Rate float64
	// Limits shares the per-server rate limits between checks.
	Limits *Limits
	// ClientSubnet is sent as EDNS client subnet when valid.
	ClientSubnet netip.Prefix
	DO           bool // sets the DNSSEC OK bit
	Concurrency  int  // servers queried at once; default DefaultConcurrency
	MaxChain     int  // CNAME links followed; default DefaultMaxChain
	// ChangedAt is when the record was changed, for the worst-case ETA;
	// default the time of the check.
	ChangedAt time.Time
	// OldTTL is the TTL the old record had, for the worst-case ETA;
	// default the largest TTL the check sees.
	OldTTL time.Duration
	Clock  clockwork.Clock
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = manifest.DefaultDNSTimeout
	}
	if o.Retries == 0 {
		o.Retries = manifest.DefaultDNSRetries
	}
	o.Retries = max(o.Retries, 0)
	if o.Backoff <= 0 {
		o.Backoff = DefaultBackoff
	}
	if o.Limits == nil {
		o.Limits = NewLimits(o.Rate)
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.MaxChain <= 0 {
		o.MaxChain = DefaultMaxChain
	}
	if o.AuthoritativePort <= 0 {
		o.AuthoritativePort = 53
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// ErrNoServers is returned for a check with neither resolvers nor a way to
// find authoritative servers.
var ErrNoServers = errors.New("no servers to ask")

// Check checks q on the authoritative servers and the resolver panel of
// opts. Failures of single servers are results, not errors; Check returns
// an error for a bad query or options, or when the zone's name servers
// cannot be found.
func Check(ctx context.Context, q Query, opts Options) (Report, error) {
	ck, err := newChecker(q, opts.withDefaults())
	if err != nil {
		return Report{}, err
	}
	return ck.run(ctx)
}

// Validate reports what is wrong with a query and its options, as Check
// would, without asking any server.
func Validate(q Query, opts Options) error {
	_, err := newChecker(q, opts.withDefaults())
	return err
}

// checker is one check in progress.
type checker struct {
	q     Query
	qt    uint16
	fqdn  string
	opts  Options
	cl    *client
	res   []string
	auths []authServer
}

// authServer is one address of an authoritative server.
type authServer struct {
	Addr string
	Host string // NS name, when discovered
}

func newChecker(q Query, opts Options) (*checker, error) {
	q.Type = strings.ToUpper(q.Type)
	qt, err := qtype(q.Type)
	if err != nil {
		return nil, fmt.Errorf("checking %s: %w", q.Name, err)
	}
	name, err := parseHost(q.Name)
	if err != nil {
		return nil, fmt.Errorf("checking record: %w", err)
	}
	q.Name = name
	if len(q.Expect) == 0 {
		return nil, fmt.Errorf("checking %s %s: no expected value", name, q.Type)
	}
	if q.Expect, err = ParseValues(q.Type, q.Expect); err != nil {
		return nil, fmt.Errorf("checking %s %s: expected %w", name, q.Type, err)
	}
	if q.Old, err = ParseValues(q.Type, q.Old); err != nil {
		return nil, fmt.Errorf("checking %s %s: old %w", name, q.Type, err)
	}
	ck := &checker{q: q, qt: qt, fqdn: dns.Fqdn(name), opts: opts}
	if ck.res, err = Servers(opts.Resolvers); err != nil {
		return nil, fmt.Errorf("checking %s: resolver %w", name, err)
	}
	auths, err := Servers(opts.Authoritative)
	if err != nil {
		return nil, fmt.Errorf("checking %s: authoritative server %w", name, err)
	}
	for _, a := range auths {
		ck.auths = append(ck.auths, authServer{Addr: a})
	}
	if len(ck.res) == 0 && len(ck.auths) == 0 {
		return nil, fmt.Errorf("checking %s: %w", name, ErrNoServers)
	}
	ck.cl = &client{timeout: opts.Timeout, retries: opts.Retries, backoff: opts.Backoff,
		limits: opts.Limits, subnet: opts.ClientSubnet, do: opts.DO}
	return ck, nil
}

// Servers normalizes server addresses: HOST:PORT, or an IP for port 53.
func Servers(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, s := range in {
		a, err := serverAddr(s, 53)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

func serverAddr(s string, port int) (string, error) {
	if ip, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return netip.AddrPortFrom(ip, uint16(port)).String(), nil
	}
	host, p, err := net.SplitHostPort(s)
	if err != nil || host == "" || p == "" {
		return "", fmt.Errorf("%q: want HOST:PORT or an IP address", s)
	}
	return net.JoinHostPort(host, p), nil
}

func (ck *checker) run(ctx context.Context) (Report, error) {
	now := ck.opts.Clock.Now()
	rep := Report{Name: ck.q.Name, Type: ck.q.Type, Expect: ck.q.Expect, Old: ck.q.Old, CheckedAt: now}
	if len(ck.auths) == 0 {
		zone, auths, err := ck.discover(ctx)
		if err != nil {
			return rep, fmt.Errorf("finding the name servers of %s: %w", ck.q.Name, err)
		}
		rep.Zone, ck.auths = zone, auths
	}
	rep.Authoritative = make([]Result, len(ck.auths))
	rep.Resolvers = make([]Result, len(ck.res))
	sem := make(chan struct{}, ck.opts.Concurrency)
	var wg sync.WaitGroup
	each := func(fn func()) {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			fn()
		})
	}
	for i, a := range ck.auths {
		each(func() { rep.Authoritative[i] = ck.authoritative(ctx, a) })
	}
	for i, r := range ck.res {
		each(func() { rep.Resolvers[i] = ck.resolver(ctx, r) })
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("checking %s: %w", ck.q.Name, err)
	}
	if rep.Zone == "" {
		rep.Zone = zoneOf(rep.Authoritative)
	}
	rep.summarize()
	rep.ETA = ck.eta(&rep)
	ck.opts.Logger.Debug("dns check", "name", rep.Name, "type", rep.Type, "propagated", rep.Propagated, "agreement", rep.Agreement, "done", rep.Complete)
	return rep, nil
}
