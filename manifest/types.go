package manifest

import "strings"

// The Go shape of the manifest. The YAML keys are the user-facing contract
// (see DESIGN.md "Manifest contract"); renaming one is a product decision.
//
// Optional scalars whose zero value is meaningful (a weight of 0, false) are
// pointers so that defaults can tell "unset" from "set to zero". After Load,
// every App has its defaults applied and the accessor methods below return
// the effective values.

// Manifest is a loaded, defaulted and validated manifest.
type Manifest struct {
	// Files are the files the manifest was read from, in load order.
	Files []string
	// Defaults is the merged `defaults:` section, as written.
	Defaults Defaults
	// Apps maps an app name to its effective configuration (defaults merged
	// under it).
	Apps map[string]*App
	// Global holds the process-wide settings, which may appear only under
	// `defaults:`.
	Global Global

	// pos maps the key path of every written value to where it was
	// written; nil for a manifest built in Go.
	pos positions
}

// Global is the process-wide part of `defaults:`: one admin listener, one
// metrics mirror, one state store and one drain deadline per process.
type Global struct {
	Admin   Admin   `yaml:"admin"`
	Metrics Metrics `yaml:"metrics"`
	State   State   `yaml:"state"`
	// Drain is how long a shutdown waits for in-flight requests.
	Drain Duration `yaml:"drain"`
	// Limits bound what a client may send, on every listener.
	Limits Limits `yaml:"limits"`
}

// Limits bound what a client may send. They apply on every listener,
// before a request is routed to an app.
type Limits struct {
	// HeaderBytes is the most bytes of a request head (request line and
	// header fields); a longer one is answered 431. Default 16KiB.
	HeaderBytes Size `yaml:"header_bytes"`
	// ClientBodyTimeout is the longest wait for the next bytes of a
	// request body; a body that stalls longer is answered 408 (as nginx's
	// client_body_timeout). Default 60s.
	ClientBodyTimeout Duration `yaml:"client_body_timeout"`
}

// Defaults is the `defaults:` section: everything an app may set, plus the
// process-wide settings.
type Defaults struct {
	App    `yaml:",inline"`
	Global `yaml:",inline"`
}

// App is one application being migrated.
type App struct {
	// Name is the key under `apps:`; set by the loader.
	Name string `yaml:"-"`

	// Listen is the proxy's listen address (host:port).
	Listen string `yaml:"listen"`
	// TLS, when set, terminates TLS on Listen with these files.
	TLS *TLS `yaml:"tls"`
	// Hosts are the Host header values routed to this app. An app with no
	// hosts takes every request on its listener; at most one such app per
	// listener.
	Hosts []string `yaml:"hosts"`
	// TrustedProxies are CIDRs (or bare IPs) whose X-Forwarded-For is
	// honoured when finding the client IP.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// DebugHeaders adds X-Migrate-Side to responses.
	DebugHeaders *bool `yaml:"debug_headers"`
	// Failover sends a side's requests to the other side when every backend
	// of its pool is down (else 502).
	Failover *bool `yaml:"failover"`
	// CORS, when it lists origins, answers preflight requests directly.
	CORS *CORS `yaml:"cors"`
	// Timeouts for talking to backends.
	Timeouts Timeouts `yaml:"timeouts"`
	// Upgrades are the protocols a client may switch its connection to
	// (Upgrade); a request to switch to another is served as a plain one.
	// Default [websocket].
	Upgrades []string `yaml:"upgrades"`

	Old Pool `yaml:"old"`
	New Pool `yaml:"new"`

	Cutover  Cutover     `yaml:"cutover"`
	Shadow   Shadow      `yaml:"shadow"`
	Rollback Rollback    `yaml:"rollback"`
	DNS      []DNSRecord `yaml:"dns"`
	DNSCheck DNSCheck    `yaml:"dns_check"`
	Fallback Fallback    `yaml:"fallback"`
	Logs     Logs        `yaml:"logs"`
	Notify   Notify      `yaml:"notify"`
	// Data names the databases `migrate datacheck` compares (types_data.go).
	Data *Data `yaml:"data"`
}

// TLS names a certificate and key file (PEM).
type TLS struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// CORS configures direct answers to CORS preflight requests.
type CORS struct {
	Origins     []string `yaml:"origins"` // "*" allows any origin
	Methods     []string `yaml:"methods"` // default GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS
	Headers     []string `yaml:"headers"` // allowed request headers; default: echo the requested ones
	MaxAge      Duration `yaml:"max_age"` // default 10m
	Credentials *bool    `yaml:"credentials"`
}

// Timeouts bound the proxy's conversation with a backend.
type Timeouts struct {
	Connect        Duration `yaml:"connect"`         // default 5s
	ResponseHeader Duration `yaml:"response_header"` // default 60s
	Idle           Duration `yaml:"idle"`            // idle keep-alive connections; default 90s
}

// Pool is one side (old or new) of an app.
type Pool struct {
	// Backends are http:// or https:// base URLs.
	Backends []string `yaml:"backends"`
	// Balance is round_robin (default) or least_conn.
	Balance string `yaml:"balance"`
	Health  Health `yaml:"health"`
	// Passive ejection after consecutive failures.
	Passive Passive `yaml:"passive"`
}

// Health is the active health check of every backend of a pool. With no
// path, no active check runs and backends are healthy until passive
// ejection.
type Health struct {
	Path      string   `yaml:"path"`
	Interval  Duration `yaml:"interval"`  // default 5s
	Timeout   Duration `yaml:"timeout"`   // default 2s
	Healthy   int      `yaml:"healthy"`   // consecutive passes to restore; default 2
	Unhealthy int      `yaml:"unhealthy"` // consecutive failures to eject; default 3
	// Status is the expected status class or code: "2xx" (default), "200".
	Status string `yaml:"status"`
}

// Passive ejects a backend after consecutive failed requests (connection
// errors and, if status is set, responses with those codes).
type Passive struct {
	MaxFails int `yaml:"max_fails"` // default 3; 0 keeps the default, -1 disables
	// Cooldown is the longest an ejected backend stays out when its pool
	// has no active health check: it is tried again after 1s, then twice
	// as long at each ejection in a row, up to the cooldown. With a check,
	// it returns when the check passes. The last backend of a pool in
	// rotation is never ejected.
	Cooldown Duration `yaml:"cooldown"` // default 10s
}

// Cutover is the traffic split between old and new.
type Cutover struct {
	// Weight is the share (0-100) of clients sent to new.
	Weight *int `yaml:"weight"`
	// Sticky is "ip" (default) or "cookie".
	Sticky string `yaml:"sticky"`
	// Cookie is the cookie name for sticky: cookie (default migrate_sticky).
	Cookie string `yaml:"cookie"`
	// Plan is the list of weights a progressive cutover steps through.
	Plan    []int    `yaml:"plan"`
	StepMin Duration `yaml:"step_min"`
}

// Shadow configures mirroring and diffing: a sampled share of requests is
// served by one side as usual and copied to the other, and the two answers
// are compared.
type Shadow struct {
	// Sample is the share of clients mirrored (sticky by client, so a
	// session is mirrored whole); default 100%.
	Sample *Percent `yaml:"sample"`
	// Methods are mirrored on every route; default GET, HEAD. Writes are
	// opt-in per route (Route.Methods).
	Methods []string `yaml:"methods"`
	// Timeout is the mirror's own deadline; default 5s.
	Timeout Duration `yaml:"timeout"`
	// MaxBody bounds the request body replayed and each response captured;
	// default 1MiB.
	MaxBody Size `yaml:"max_body"`
	// Direction says which sampled clients are mirrored: both (default:
	// a client served by old is mirrored to new and one served by new to
	// old, whatever the weight), forward (only those served by old) or
	// reverse (only those served by new).
	Direction string `yaml:"direction"`
	// Ignore applies to every route.
	Ignore Ignore `yaml:"ignore"`
	// Routes are endpoint templates ("/users/:id"), optionally with
	// per-route rules; requests matching none get an inferred template.
	Routes []Route `yaml:"routes"`
	// Secondary are backends of a second instance of one side (new's with
	// direction reverse, else old's); differences between the two
	// instances of that side are noise, in either direction.
	Secondary []string `yaml:"secondary"`
	// Workers bounds the mirrors in flight; default 64.
	Workers int `yaml:"workers"`
	// Queue bounds the mirrors waiting for a worker; default 1024. When
	// full, pairs are dropped and counted.
	Queue int `yaml:"queue"`
	// Noise sets when a field's difference counts as real: its raw rate must
	// exceed its noise rate by both thresholds.
	Noise Noise `yaml:"noise"`
	// Samples is how many examples are kept per endpoint and field; default 5.
	Samples int `yaml:"samples"`
	// Redact lists more secrets to blank in stored examples (Authorization,
	// Cookie and Set-Cookie always are).
	Redact Redact `yaml:"redact"`
}

// Route is an endpoint template with its own rules. In YAML it is either
// the template alone ("/users/:id") or a mapping.
type Route struct {
	// Path is the template: literal segments, ":name" for one segment, and
	// a final "*" for any rest.
	Path string `yaml:"path"`
	// Methods mirrored on this route besides shadow.methods: the opt-in for
	// writes (mirrored requests carry X-Migrate-Shadow: 1).
	Methods []string `yaml:"methods"`
	// Ignore adds to shadow.ignore on this route.
	Ignore Ignore `yaml:"ignore"`
}

// SetScalar lets a route be written as its template alone.
func (r *Route) SetScalar(s string) error {
	r.Path = s
	return nil
}

// Ignore lists what the diff engine ignores.
type Ignore struct {
	Headers []string `yaml:"headers"`
	// JSON are JSON Pointer patterns ("*" matches one segment) whose values
	// are not compared.
	JSON []string `yaml:"json"`
	// AnyValue are JSON Pointer patterns that must be present with the same
	// JSON type on both sides, with any value.
	AnyValue []string `yaml:"any_value"`
	// Sets are JSON Pointer patterns of arrays compared as sets (order and
	// duplicates ignored).
	Sets []string `yaml:"sets"`
	// Tolerance is the largest absolute difference between two numbers that
	// still counts as equal; default 0.
	Tolerance float64 `yaml:"tolerance"`
}

// Noise holds the thresholds of noise cancellation.
type Noise struct {
	Relative *Percent `yaml:"relative"` // default 20%
	Absolute *Percent `yaml:"absolute"` // default 0.03%
}

// Redact names secrets blanked before an example is stored.
type Redact struct {
	Headers []string `yaml:"headers"`
	JSON    []string `yaml:"json"` // JSON Pointer patterns
}

// Rollback configures the automated rollback analysis of an app's new
// side, and what happens when it fails.
type Rollback struct {
	// MaxErrorRate is the highest share of 5xx answers (and 4xx with
	// Count4xx) the new side may have.
	MaxErrorRate *Percent `yaml:"max_error_rate"`
	// MaxErrorRateIncrease is the most the new side's error rate may exceed
	// the old side's over the same window.
	MaxErrorRateIncrease *Percent `yaml:"max_error_rate_increase"`
	// MaxP99Increase is how much slower new's p99 may be than old's: a
	// ratio ("50%": 1.5 times) or a duration ("200ms").
	MaxP99Increase string `yaml:"max_p99_increase"`
	// MaxDiffRate is the highest share of mirrored pairs that may differ.
	MaxDiffRate *Percent `yaml:"max_diff_rate"`
	// Count4xx counts 4xx answers as errors too.
	Count4xx *bool `yaml:"count_4xx"`
	// MinRequests in the window below which the verdict is insufficient.
	MinRequests int `yaml:"min_requests"`
	// Window is the sliding window the rates are computed over; default 30s.
	Window Duration `yaml:"window"`
	// Interval is how often the rules are evaluated; default 1s.
	Interval Duration `yaml:"interval"`
	// Confidence of the statistical tests; default 99%.
	Confidence *Percent `yaml:"confidence"`
	// Breaches is how many failing evaluations in a row trigger a rollback;
	// default 2.
	Breaches int `yaml:"breaches"`
	// FastBreaker acts on the first evaluation on gross failure.
	FastBreaker FastBreaker `yaml:"fast_breaker"`
	// Source of the numbers: telemetry (in-process, default), prometheus,
	// logs.
	Source string `yaml:"source"`
	// Prometheus is the server and queries for source prometheus.
	Prometheus *PromSource `yaml:"prometheus"`
	// OnNoData is what a failing or empty source does: hold (default, the
	// verdict is insufficient) or rollback.
	OnNoData string `yaml:"on_no_data"`
	// To is where a rollback sets the weight: zero (default) or last_good
	// (the last plan step that passed).
	To string `yaml:"to"`
	// Hooks are commands run on a rollback, with the event as environment
	// variables and JSON on stdin.
	Hooks []Hook `yaml:"hooks"`
	// DryRun records and notifies without acting.
	DryRun *bool `yaml:"dry_run"`
}

// FastBreaker is the gross-failure breaker: at least MinRequests within
// Window with an error rate of at least ErrorRate acts at once.
type FastBreaker struct {
	MinRequests int      `yaml:"min_requests"` // default 20
	ErrorRate   *Percent `yaml:"error_rate"`   // default 50%
	Window      Duration `yaml:"window"`       // default 5s
	// Disabled turns the breaker off.
	Disabled *bool `yaml:"disabled"`
}

// PromSource reads the numbers from a Prometheus server. Each query is a
// PromQL template in which {{.App}} and {{.Side}} are replaced, and
// {{.Window}} by the window as a PromQL duration ("30s").
type PromSource struct {
	URL    string `yaml:"url"`
	Errors string `yaml:"errors"` // default: the increase of migrate_proxy_requests_total{code_class="5xx"}
	Total  string `yaml:"total"`  // default: the increase of migrate_proxy_requests_total
	P99    string `yaml:"p99"`    // default: histogram_quantile over migrate_proxy_request_duration_seconds
	// Timeout bounds each query; default 5s.
	Timeout Duration `yaml:"timeout"`
}

// Hook is a command run on a rollback.
type Hook struct {
	Command []string `yaml:"command"`
	Timeout Duration `yaml:"timeout"` // default 30s
}

// DNSRecord is one record checked for propagation.
type DNSRecord struct {
	Name   string   `yaml:"name"`
	Type   string   `yaml:"type"`
	Expect []string `yaml:"expect"`
	// Old are the values being replaced: a server still answering one of
	// them is stale rather than wrong. Optional.
	Old []string `yaml:"old"`
}

// DNSCheck configures how the app's dns: records are checked.
type DNSCheck struct {
	// Resolvers (HOST:PORT, or a bare IP for port 53) replace the default
	// panel of public resolvers.
	Resolvers []string `yaml:"resolvers"`
	// SystemResolvers adds the resolvers of the system's resolv.conf to the
	// panel; default true.
	SystemResolvers *bool `yaml:"system_resolvers"`
	// Authoritative (HOST:PORT) overrides the discovery of the zone's name
	// servers.
	Authoritative []string `yaml:"authoritative"`
	// ClientSubnet (a CIDR) is sent as EDNS client subnet, for geo answers.
	ClientSubnet string `yaml:"client_subnet"`
	// DNSSEC sets the DO bit.
	DNSSEC *bool `yaml:"dnssec"`
	// Timeout bounds one query; default 2s.
	Timeout Duration `yaml:"timeout"`
	// Retries after a timeout, with backoff; default 2.
	Retries int `yaml:"retries"`
	// Rate is the most queries per second sent to one server; default 20.
	Rate float64 `yaml:"rate"`
	// Interval is the first interval of `dnscheck watch`, which backs off
	// to MaxInterval; defaults 5s and 5m.
	Interval    Duration `yaml:"interval"`
	MaxInterval Duration `yaml:"max_interval"`
	// Watch has `migrate serve` re-check the records as `dnscheck watch`
	// does, for its dashboard, `migrate status` and the migrate_dns_*
	// gauges; default true when the app has dns: records.
	Watch *bool `yaml:"watch"`
}

// Fallback configures `migrate fallback`, the proxy run on the old host
// that forwards stragglers to the new stack.
type Fallback struct {
	// Listen is where the fallback listens; default the app's listen (see
	// FallbackListen).
	Listen string `yaml:"listen"`
	// TLS terminates TLS on Listen; when nil, the app's tls applies (see
	// FallbackTLS).
	TLS *TLS `yaml:"tls"`
	// Backends are the new side's addresses (http:// or https:// URLs,
	// often by IP); default the app's new.backends (see FallbackBackends).
	Backends []string `yaml:"backends"`
	// ServerName is sent as SNI to an https backend and verified in its
	// certificate; default the app's first host name (see
	// FallbackServerName).
	ServerName string `yaml:"server_name"`
	// CA is a PEM file of the roots trusted for an https backend; default
	// the system's roots.
	CA string `yaml:"ca"`
	// RetireBelow is the rate of arrivals (requests per minute) under
	// which the old host may be retired; default 1.
	RetireBelow *float64 `yaml:"retire_below"`
	// RetireAfter is how long arrivals must stay under RetireBelow;
	// default 1h.
	RetireAfter Duration `yaml:"retire_after"`
	// AccessLog is the access log of the nginx rendering; default
	// /var/log/nginx/<app>.fallback.access.log.
	AccessLog string `yaml:"access_log"`
	// Admin is the http(s) URL of the admin API of the `migrate fallback`
	// running on the old host (its admin.listen); optional. When set,
	// `migrate serve` polls it for the dashboard's straggler panel and
	// `migrate dnscheck watch` reads it by default (--fallback).
	Admin string `yaml:"admin"`
}

// Logs configures log shipping for both sides.
type Logs struct {
	Old  *LogSource `yaml:"old"`
	New  *LogSource `yaml:"new"`
	Sink *LogSink   `yaml:"sink"`
}

// LogSource is a set of files of one side.
type LogSource struct {
	Paths  []string `yaml:"paths"`
	Format string   `yaml:"format"`
	// LogFormat is the nginx log_format string, for format nginx.
	LogFormat string `yaml:"log_format"`
	// Host is the host label of the shipped lines; default the machine's
	// host name.
	Host string `yaml:"host"`
	// MaxLine is the longest line shipped whole; longer ones are split and
	// counted. Default 256KiB.
	MaxLine Size `yaml:"max_line"`
	// FlushTimeout is how long a last line without its newline waits
	// before it is shipped as it is; default 5s.
	FlushTimeout Duration `yaml:"flush_timeout"`
	// ReadFrom is where a file seen for the first time is read from:
	// beginning (default) or end.
	ReadFrom string `yaml:"read_from"`
}

// LogSink is where shipped logs go.
type LogSink struct {
	Type  string `yaml:"type"` // embedded (default), file, stdout, loki, elasticsearch, otlp
	Path  string `yaml:"path"`
	URL   string `yaml:"url"`
	Index string `yaml:"index"`
	// Tenant is Loki's X-Scope-OrgID.
	Tenant string `yaml:"tenant"`
	// Headers are added to every request of an HTTP sink (an API key).
	Headers map[string]string `yaml:"headers"`
	// Admin is the admin URL of the migrate serve that receives an
	// embedded sink's lines; default http:// and the admin listen address.
	Admin string `yaml:"admin"`
	// A batch is sent when it holds BatchSize events or BatchBytes, or
	// BatchWait after its first event; defaults 1000, 1MiB, 1s.
	BatchSize  int      `yaml:"batch_size"`
	BatchBytes Size     `yaml:"batch_bytes"`
	BatchWait  Duration `yaml:"batch_wait"`
	// Timeout bounds one request; default 10s.
	Timeout Duration `yaml:"timeout"`
	// MaxBackoff caps the wait between retries, which go on until the
	// batch is delivered or rejected; default 30s.
	MaxBackoff Duration `yaml:"max_backoff"`
}

// Notify configures notifications.
type Notify struct {
	Webhook string `yaml:"webhook"`
}

// Admin is the admin API listener.
type Admin struct {
	Listen string `yaml:"listen"` // default 127.0.0.1:9090
	// TokenEnv names the environment variable holding the bearer token
	// (default MIGRATE_ADMIN_TOKEN).
	TokenEnv string `yaml:"token_env"`
	// Hosts are other names (or addresses) the admin listener answers to
	// as Host, besides its own address, localhost on loopback and the
	// machine's name (see AdminHosts).
	Hosts []string `yaml:"hosts"`
}

// Metrics configures the statsd mirror of the Prometheus metrics.
type Metrics struct {
	Statsd string `yaml:"statsd"` // host:port; empty disables statsd
	Prefix string `yaml:"prefix"` // default "migrate"
}

// State selects the shared state store.
type State struct {
	Backend string `yaml:"backend"` // embedded (default) or redis
	URL     string `yaml:"url"`
}

// FallbackTLS returns the TLS files of the app's fallback listener: its
// own, else the app's, else nil.
func (a *App) FallbackTLS() *TLS {
	if a.Fallback.TLS != nil {
		return a.Fallback.TLS
	}
	return a.TLS
}

// FallbackListen returns the fallback's listen address: its own, else the
// app's.
func (a *App) FallbackListen() string {
	if a.Fallback.Listen != "" {
		return a.Fallback.Listen
	}
	return a.Listen
}

// FallbackBackends returns the addresses the fallback forwards to: its
// own, else the new side's backends.
func (a *App) FallbackBackends() []string {
	if len(a.Fallback.Backends) > 0 {
		return a.Fallback.Backends
	}
	return a.New.Backends
}

// FallbackServerName returns the name the fallback sends as SNI and
// verifies: its own, else the app's first host that is a name (not an
// IP), else "".
func (a *App) FallbackServerName() string {
	if a.Fallback.ServerName != "" {
		return a.Fallback.ServerName
	}
	for _, h := range a.Hosts {
		if hostName(h) == "" && !isIP(strings.Trim(h, "[]")) {
			return h
		}
	}
	return ""
}

// Bool returns *b, or def when b is nil.
func Bool(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}
