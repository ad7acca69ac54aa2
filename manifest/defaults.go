package manifest

import (
	"path/filepath"
	"strings"
	"time"

	"github.com/migratekit/migrate/logship"
	"github.com/migratekit/migrate/telemetry"
)

// Built-in defaults, applied after defaults: is merged under each app. Each
// is declared once, here (or, for the keys of a package that manifest
// imports, logship's and telemetry's, in that package and named here): the
// packages that serve a setting read its default from here when they are
// given a manifest built in Go, and the defaults the README, the commands'
// help and the starter manifest state are checked against these values (the
// tests of cmd/migrate, docdefaults_test.go).
//
// A setting is unset when it is zero, except where zero is meaningful:
// pointers (cutover.weight, shadow.sample) are unset when nil, and
// health.healthy, health.unhealthy and rollback.min_requests are unset when
// not written, so that an explicit 0 is kept (and, for the health counts,
// reported). passive.max_fails keeps its documented meaning: 0 is the
// default, -1 disables. Booleans (debug_headers, failover,
// cors.credentials) stay nil when unset; read them with Bool.
const (
	DefaultAdminListen            = "127.0.0.1:9090"        // admin.listen
	DefaultTokenEnv               = "MIGRATE_ADMIN_TOKEN"   // admin.token_env
	DefaultMetricsPrefix          = telemetry.DefaultPrefix // metrics.prefix, declared by telemetry (which manifest imports)
	DefaultStateBackend           = "embedded"              // state.backend
	DefaultDrain                  = 30 * time.Second        // drain
	DefaultHeaderBytes       Size = 16 << 10                // limits.header_bytes
	DefaultClientBodyTimeout      = 60 * time.Second        // limits.client_body_timeout

	DefaultListen                = "127.0.0.1:8080" // listen
	DefaultConnectTimeout        = 5 * time.Second  // timeouts.connect
	DefaultResponseHeaderTimeout = 60 * time.Second // timeouts.response_header
	DefaultIdleTimeout           = 90 * time.Second // timeouts.idle
	DefaultCORSMaxAge            = 10 * time.Minute // cors.max_age
	DefaultBalance               = "round_robin"    // balance
	DefaultHealthInterval        = 5 * time.Second  // health.interval
	DefaultHealthTimeout         = 2 * time.Second  // health.timeout
	DefaultHealthy               = 2                // health.healthy
	DefaultUnhealthy             = 3                // health.unhealthy
	DefaultHealthStatus          = "2xx"            // health.status
	DefaultMaxFails              = 3                // passive.max_fails
	DefaultCooldown              = 10 * time.Second // passive.cooldown
	DefaultSticky                = "ip"             // cutover.sticky
	DefaultCookie                = "migrate_sticky" // cutover.cookie
	DefaultStepMin               = 5 * time.Minute  // cutover.step_min

	DefaultShadowSample  Percent = 1               // shadow.sample
	DefaultShadowTimeout         = 5 * time.Second // shadow.timeout
	DefaultShadowMaxBody Size    = 1 << 20         // shadow.max_body
	DefaultDirection             = "both"          // shadow.direction
	DefaultShadowWorkers         = 64              // shadow.workers
	DefaultShadowQueue           = 1024            // shadow.queue
	DefaultShadowSamples         = 5               // shadow.samples
	DefaultNoiseRelative Percent = 0.20            // shadow.noise.relative (Diffy's)
	DefaultNoiseAbsolute Percent = 0.0003          // shadow.noise.absolute (Diffy's)

	DefaultRollbackWindow           = 30 * time.Second // rollback.window
	DefaultRollbackInterval         = time.Second      // rollback.interval
	DefaultConfidence       Percent = 0.99             // rollback.confidence
	DefaultBreaches                 = 2                // rollback.breaches
	DefaultMinRequests              = 50               // rollback.min_requests
	DefaultFastMinRequests          = 20               // rollback.fast_breaker.min_requests
	DefaultFastErrorRate    Percent = 0.5              // rollback.fast_breaker.error_rate
	DefaultFastWindow               = 5 * time.Second  // rollback.fast_breaker.window
	DefaultRollbackSource           = "telemetry"      // rollback.source
	DefaultOnNoData                 = "hold"           // rollback.on_no_data
	DefaultRollbackTo               = "zero"           // rollback.to
	DefaultPromTimeout              = 5 * time.Second  // rollback.prometheus.timeout
	DefaultHookTimeout              = 30 * time.Second // rollback.hooks[].timeout

	DefaultDNSTimeout     = 2 * time.Second // dns_check.timeout
	DefaultDNSRetries     = 2               // dns_check.retries
	DefaultDNSRate        = 20              // dns_check.rate
	DefaultDNSInterval    = 5 * time.Second // dns_check.interval
	DefaultDNSMaxInterval = 5 * time.Minute // dns_check.max_interval

	DefaultRetireBelow = 1.0       // fallback.retire_below
	DefaultRetireAfter = time.Hour // fallback.retire_after

	DefaultSinkType = "embedded" // logs.sink.type

	DefaultDataSettle    = 5 * time.Second // data.settle
	DefaultDataInterval  = time.Minute     // data.interval
	DefaultDataChunkRows = 100000          // data.chunk_rows

	// The logs: keys whose defaults logship declares (manifest imports
	// logship, which so cannot import manifest).
	DefaultMaxLine      Size = logship.DefaultMaxLine      // logs.old/new.max_line
	DefaultFlushTimeout      = logship.DefaultFlushTimeout // logs.old/new.flush_timeout
	DefaultReadFrom          = logship.DefaultReadFrom     // logs.old/new.read_from
	DefaultBatchSize         = logship.DefaultBatchSize    // logs.sink.batch_size
	DefaultBatchBytes   Size = logship.DefaultBatchBytes   // logs.sink.batch_bytes
	DefaultBatchWait         = logship.DefaultBatchWait    // logs.sink.batch_wait
	DefaultSinkTimeout       = logship.DefaultSinkTimeout  // logs.sink.timeout
	DefaultMaxBackoff        = logship.DefaultMaxBackoff   // logs.sink.max_backoff
)

// The default queries of rollback.prometheus.
const (
	DefaultPromErrors = `sum(increase(migrate_proxy_requests_total{app="{{.App}}",side="{{.Side}}",code_class="5xx"}[{{.Window}}]))`
	DefaultPromTotal  = `sum(increase(migrate_proxy_requests_total{app="{{.App}}",side="{{.Side}}"}[{{.Window}}]))`
	DefaultPromP99    = `histogram_quantile(0.99, sum by (le) (rate(migrate_proxy_request_duration_seconds_bucket{app="{{.App}}",side="{{.Side}}"}[{{.Window}}])))`
)

// DefaultUpgrades returns the default of upgrades: the protocols a client
// may switch its connection to. A tunnel passes whatever follows, past host
// routing, so only websockets (not h2c: an h2c tunnel would let a client
// send any request to the backend unseen).
func DefaultUpgrades() []string { return []string{"websocket"} }

// DefaultShadowMethods returns the default of shadow.methods: the methods
// mirrored on every route.
func DefaultShadowMethods() []string { return []string{"GET", "HEAD"} }

// DefaultCORSMethods returns the default of cors.methods: the methods a
// preflight is told are allowed.
func DefaultCORSMethods() []string {
	return []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
}

// DefaultFallbackAccessLog is the default of fallback.access_log for app.
func DefaultFallbackAccessLog(app string) string {
	return "/var/log/nginx/" + app + ".fallback.access.log"
}

// applyDefaults fills every unset setting with its built-in default and
// normalises what has one spelling: lowercase hosts, uppercase methods and
// DNS types, file paths relative to the manifest that names them.
func (m *Manifest) applyDefaults() {
	g := &m.Global
	setString(&g.Admin.Listen, DefaultAdminListen)
	setString(&g.Admin.TokenEnv, DefaultTokenEnv)
	setString(&g.Metrics.Prefix, DefaultMetricsPrefix)
	setString(&g.State.Backend, DefaultStateBackend)
	setDuration(&g.Drain, DefaultDrain)
	if g.Limits.HeaderBytes == 0 {
		g.Limits.HeaderBytes = DefaultHeaderBytes
	}
	setDuration(&g.Limits.ClientBodyTimeout, DefaultClientBodyTimeout)
	for name, a := range m.Apps {
		m.defaultApp(keyPath("apps", name), a)
	}
}

func (m *Manifest) defaultApp(path string, a *App) {
	setString(&a.Listen, DefaultListen)
	for i, h := range a.Hosts {
		a.Hosts[i] = strings.ToLower(h)
	}
	if a.TLS != nil {
		a.TLS.Cert = m.resolve(path+".tls.cert", a.TLS.Cert)
		a.TLS.Key = m.resolve(path+".tls.key", a.TLS.Key)
	}
	if a.CORS != nil {
		m.defaultCORS(a.CORS)
	}
	setDuration(&a.Timeouts.Connect, DefaultConnectTimeout)
	setDuration(&a.Timeouts.ResponseHeader, DefaultResponseHeaderTimeout)
	setDuration(&a.Timeouts.Idle, DefaultIdleTimeout)
	if a.Upgrades == nil {
		a.Upgrades = DefaultUpgrades()
	}
	for i, u := range a.Upgrades {
		a.Upgrades[i] = strings.ToLower(u)
	}
	m.defaultPool(path+".old", &a.Old)
	m.defaultPool(path+".new", &a.New)
	defaultCutover(&a.Cutover)
	defaultShadow(&a.Shadow)
	defaultRollback(&a.Rollback)
	if !m.pos.written(path + ".rollback.min_requests") {
		a.Rollback.MinRequests = DefaultMinRequests
	}
	for i := range a.DNS {
		a.DNS[i].Type = strings.ToUpper(a.DNS[i].Type)
	}
	defaultDNSCheck(&a.DNSCheck)
	if a.DNSCheck.Watch == nil && len(a.DNS) > 0 {
		watch := true
		a.DNSCheck.Watch = &watch
	}
	m.defaultFallback(path+".fallback", a)
	m.defaultLogs(path+".logs", &a.Logs)
	defaultData(a.Data)
}

func defaultDNSCheck(d *DNSCheck) {
	setDuration(&d.Timeout, DefaultDNSTimeout)
	setInt(&d.Retries, DefaultDNSRetries)
	if d.Rate == 0 {
		d.Rate = DefaultDNSRate
	}
	setDuration(&d.Interval, DefaultDNSInterval)
	setDuration(&d.MaxInterval, DefaultDNSMaxInterval)
}

func (m *Manifest) defaultFallback(path string, a *App) {
	f := &a.Fallback
	if f.TLS != nil {
		f.TLS.Cert = m.resolve(path+".tls.cert", f.TLS.Cert)
		f.TLS.Key = m.resolve(path+".tls.key", f.TLS.Key)
	}
	f.CA = m.resolve(path+".ca", f.CA)
	if f.RetireBelow == nil {
		below := DefaultRetireBelow
		f.RetireBelow = &below
	}
	setDuration(&f.RetireAfter, DefaultRetireAfter)
	setString(&f.AccessLog, DefaultFallbackAccessLog(a.Name))
}

func (m *Manifest) defaultCORS(c *CORS) {
	if c.Methods == nil {
		c.Methods = DefaultCORSMethods()
	}
	upper(c.Methods)
	setDuration(&c.MaxAge, DefaultCORSMaxAge)
}

func (m *Manifest) defaultPool(path string, p *Pool) {
	setString(&p.Balance, DefaultBalance)
	h := &p.Health
	setDuration(&h.Interval, DefaultHealthInterval)
	setDuration(&h.Timeout, DefaultHealthTimeout)
	if !m.pos.written(path + ".health.healthy") {
		h.Healthy = DefaultHealthy
	}
	if !m.pos.written(path + ".health.unhealthy") {
		h.Unhealthy = DefaultUnhealthy
	}
	setString(&h.Status, DefaultHealthStatus)
	if p.Passive.MaxFails == 0 {
		p.Passive.MaxFails = DefaultMaxFails
	}
	setDuration(&p.Passive.Cooldown, DefaultCooldown)
}

func defaultCutover(c *Cutover) {
	if c.Weight == nil {
		c.Weight = new(int)
	}
	setString(&c.Sticky, DefaultSticky)
	setString(&c.Cookie, DefaultCookie)
	setDuration(&c.StepMin, DefaultStepMin)
}

func defaultShadow(s *Shadow) {
	if s.Sample == nil {
		all := DefaultShadowSample
		s.Sample = &all
	}
	if s.Methods == nil {
		s.Methods = DefaultShadowMethods()
	}
	upper(s.Methods)
	setDuration(&s.Timeout, DefaultShadowTimeout)
	if s.MaxBody == 0 {
		s.MaxBody = DefaultShadowMaxBody
	}
	setString(&s.Direction, DefaultDirection)
	for i := range s.Routes {
		upper(s.Routes[i].Methods)
	}
	setInt(&s.Workers, DefaultShadowWorkers)
	setInt(&s.Queue, DefaultShadowQueue)
	setInt(&s.Samples, DefaultShadowSamples)
	if s.Noise.Relative == nil {
		rel := DefaultNoiseRelative
		s.Noise.Relative = &rel
	}
	if s.Noise.Absolute == nil {
		abs := DefaultNoiseAbsolute
		s.Noise.Absolute = &abs
	}
}

// setInt sets *p to def when it is 0 (unset: a count of 0 is never useful
// here, and Validate reports negative ones).
func setInt(p *int, def int) {
	if *p == 0 {
		*p = def
	}
}

// defaultLogs resolves log paths and gives an app that ships logs the
// embedded sink when it names none.
func (m *Manifest) defaultLogs(path string, l *Logs) {
	for side, src := range map[string]*LogSource{"old": l.Old, "new": l.New} {
		if src == nil {
			continue
		}
		for i, p := range src.Paths {
			src.Paths[i] = m.resolve(indexPath(path+"."+side+".paths", i), p)
		}
		if src.MaxLine == 0 {
			src.MaxLine = DefaultMaxLine
		}
		setDuration(&src.FlushTimeout, DefaultFlushTimeout)
		setString(&src.ReadFrom, DefaultReadFrom)
	}
	if l.Sink == nil && (l.Old != nil || l.New != nil) {
		l.Sink = &LogSink{Type: DefaultSinkType}
	}
	if s := l.Sink; s != nil {
		setString(&s.Type, DefaultSinkType)
		if s.Type == "file" {
			s.Path = m.resolve(path+".sink.path", s.Path)
		}
		setInt(&s.BatchSize, DefaultBatchSize)
		if s.BatchBytes == 0 {
			s.BatchBytes = DefaultBatchBytes
		}
		setDuration(&s.BatchWait, DefaultBatchWait)
		setDuration(&s.Timeout, DefaultSinkTimeout)
		setDuration(&s.MaxBackoff, DefaultMaxBackoff)
	}
}

// resolve makes file, a relative file path written at path, relative to
// the directory of the manifest file that wrote it.
func (m *Manifest) resolve(path, file string) string {
	l, ok := m.pos[path]
	if file == "" || filepath.IsAbs(file) || !ok || l.file == "" {
		return file
	}
	return filepath.Join(filepath.Dir(l.file), file)
}

func setString(s *string, def string) {
	if *s == "" {
		*s = def
	}
}

func setDuration(d *Duration, def time.Duration) {
	if *d == 0 {
		*d = Duration(def)
	}
}

func upper(ss []string) {
	for i, s := range ss {
		ss[i] = strings.ToUpper(s)
	}
}

func defaultRollback(r *Rollback) {
	setDuration(&r.Window, DefaultRollbackWindow)
	setDuration(&r.Interval, DefaultRollbackInterval)
	if r.Confidence == nil {
		c := DefaultConfidence
		r.Confidence = &c
	}
	setInt(&r.Breaches, DefaultBreaches)
	setInt(&r.FastBreaker.MinRequests, DefaultFastMinRequests)
	if r.FastBreaker.ErrorRate == nil {
		e := DefaultFastErrorRate
		r.FastBreaker.ErrorRate = &e
	}
	setDuration(&r.FastBreaker.Window, DefaultFastWindow)
	setString(&r.Source, DefaultRollbackSource)
	setString(&r.OnNoData, DefaultOnNoData)
	setString(&r.To, DefaultRollbackTo)
	if p := r.Prometheus; p != nil {
		setString(&p.Errors, DefaultPromErrors)
		setString(&p.Total, DefaultPromTotal)
		setString(&p.P99, DefaultPromP99)
		setDuration(&p.Timeout, DefaultPromTimeout)
	}
	for i := range r.Hooks {
		setDuration(&r.Hooks[i].Timeout, DefaultHookTimeout)
	}
}
