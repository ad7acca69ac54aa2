package manifest

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

	Old Pool `yaml:"old"`
	New Pool `yaml:"new"`

	Cutover  Cutover     `yaml:"cutover"`
	Shadow   Shadow      `yaml:"shadow"`
	Rollback Rollback    `yaml:"rollback"`
	DNS      []DNSRecord `yaml:"dns"`
	Logs     Logs        `yaml:"logs"`
	Notify   Notify      `yaml:"notify"`
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
	// Cooldown is how long an ejected backend stays out when its pool has no
	// active health check; with a check, it returns when the check passes.
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

// Shadow configures mirroring and diffing (issue: shadow traffic).
type Shadow struct {
	Sample    *Percent `yaml:"sample"`
	Methods   []string `yaml:"methods"`
	Timeout   Duration `yaml:"timeout"`
	MaxBody   Size     `yaml:"max_body"`
	Direction string   `yaml:"direction"` // forward (default) or reverse
	Ignore    Ignore   `yaml:"ignore"`
	Routes    []string `yaml:"routes"`
	Secondary []string `yaml:"secondary"`
}

// Ignore lists what the diff engine ignores.
type Ignore struct {
	Headers []string `yaml:"headers"`
	JSON    []string `yaml:"json"` // JSON pointers, "*" matches one segment
}

// Rollback configures the automated rollback analysis.
type Rollback struct {
	MaxErrorRate         *Percent `yaml:"max_error_rate"`
	MaxErrorRateIncrease *Percent `yaml:"max_error_rate_increase"`
	MinRequests          int      `yaml:"min_requests"`
	Window               Duration `yaml:"window"`
}

// DNSRecord is one record checked for propagation.
type DNSRecord struct {
	Name   string   `yaml:"name"`
	Type   string   `yaml:"type"`
	Expect []string `yaml:"expect"`
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
}

// LogSink is where shipped logs go.
type LogSink struct {
	Type  string `yaml:"type"` // embedded, file, stdout, loki, elasticsearch, otlp
	Path  string `yaml:"path"`
	URL   string `yaml:"url"`
	Index string `yaml:"index"`
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

// Bool returns *b, or def when b is nil.
func Bool(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}
