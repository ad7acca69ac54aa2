package manifest

import (
	"path/filepath"
	"strings"
	"time"
)

// Built-in defaults, applied after defaults: is merged under each app.
//
// A setting is unset when it is zero, except where zero is meaningful:
// pointers (cutover.weight, shadow.sample) are unset when nil, and
// health.healthy, health.unhealthy and rollback.min_requests are unset when
// not written, so that an explicit 0 is kept (and, for the health counts,
// reported). passive.max_fails keeps its documented meaning: 0 is the
// default, -1 disables. Booleans (debug_headers, failover,
// cors.credentials) stay nil when unset; read them with Bool.
const (
	defaultListen      = "127.0.0.1:8080"
	defaultAdminListen = "127.0.0.1:9090"
	defaultTokenEnv    = "MIGRATE_ADMIN_TOKEN"
	defaultPrefix      = "migrate"
	defaultDrain       = 30 * time.Second
	defaultCookie      = "migrate_sticky"
	defaultMinRequests = 50

	defaultHeaderBytes       = 16 << 10
	defaultClientBodyTimeout = 60 * time.Second
)

var (
	defaultShadowMethods = []string{"GET", "HEAD"}
	defaultCORSMethods   = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
)

// applyDefaults fills every unset setting with its built-in default and
// normalises what has one spelling: lowercase hosts, uppercase methods and
// DNS types, file paths relative to the manifest that names them.
func (m *Manifest) applyDefaults() {
	g := &m.Global
	setString(&g.Admin.Listen, defaultAdminListen)
	setString(&g.Admin.TokenEnv, defaultTokenEnv)
	setString(&g.Metrics.Prefix, defaultPrefix)
	setString(&g.State.Backend, "embedded")
	setDuration(&g.Drain, defaultDrain)
	if g.Limits.HeaderBytes == 0 {
		g.Limits.HeaderBytes = defaultHeaderBytes
	}
	setDuration(&g.Limits.ClientBodyTimeout, defaultClientBodyTimeout)
	for name, a := range m.Apps {
		m.defaultApp(keyPath("apps", name), a)
	}
}

func (m *Manifest) defaultApp(path string, a *App) {
	setString(&a.Listen, defaultListen)
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
	setDuration(&a.Timeouts.Connect, 5*time.Second)
	setDuration(&a.Timeouts.ResponseHeader, 60*time.Second)
	setDuration(&a.Timeouts.Idle, 90*time.Second)
	if a.Upgrades == nil {
		a.Upgrades = []string{"websocket"}
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
		a.Rollback.MinRequests = defaultMinRequests
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
}

func defaultDNSCheck(d *DNSCheck) {
	setDuration(&d.Timeout, 2*time.Second)
	setInt(&d.Retries, 2)
	if d.Rate == 0 {
		d.Rate = 20
	}
	setDuration(&d.Interval, 5*time.Second)
	setDuration(&d.MaxInterval, 5*time.Minute)
}

func (m *Manifest) defaultFallback(path string, a *App) {
	f := &a.Fallback
	if f.TLS != nil {
		f.TLS.Cert = m.resolve(path+".tls.cert", f.TLS.Cert)
		f.TLS.Key = m.resolve(path+".tls.key", f.TLS.Key)
	}
	f.CA = m.resolve(path+".ca", f.CA)
	if f.RetireBelow == nil {
		one := 1.0
		f.RetireBelow = &one
	}
	setDuration(&f.RetireAfter, time.Hour)
	setString(&f.AccessLog, "/var/log/nginx/"+a.Name+".fallback.access.log")
}

func (m *Manifest) defaultCORS(c *CORS) {
	if c.Methods == nil {
		c.Methods = append([]string(nil), defaultCORSMethods...)
	}
	upper(c.Methods)
	setDuration(&c.MaxAge, 10*time.Minute)
}

func (m *Manifest) defaultPool(path string, p *Pool) {
	setString(&p.Balance, "round_robin")
	h := &p.Health
	setDuration(&h.Interval, 5*time.Second)
	setDuration(&h.Timeout, 2*time.Second)
	if !m.pos.written(path + ".health.healthy") {
		h.Healthy = 2
	}
	if !m.pos.written(path + ".health.unhealthy") {
		h.Unhealthy = 3
	}
	setString(&h.Status, "2xx")
	if p.Passive.MaxFails == 0 {
		p.Passive.MaxFails = 3
	}
	setDuration(&p.Passive.Cooldown, 10*time.Second)
}

func defaultCutover(c *Cutover) {
	if c.Weight == nil {
		c.Weight = new(int)
	}
	setString(&c.Sticky, "ip")
	setString(&c.Cookie, defaultCookie)
}

func defaultShadow(s *Shadow) {
	if s.Sample == nil {
		all := Percent(1)
		s.Sample = &all
	}
	if s.Methods == nil {
		s.Methods = append([]string(nil), defaultShadowMethods...)
	}
	upper(s.Methods)
	setDuration(&s.Timeout, 5*time.Second)
	if s.MaxBody == 0 {
		s.MaxBody = 1 << 20
	}
	setString(&s.Direction, "both")
	for i := range s.Routes {
		upper(s.Routes[i].Methods)
	}
	setInt(&s.Workers, 64)
	setInt(&s.Queue, 1024)
	setInt(&s.Samples, 5)
	if s.Noise.Relative == nil {
		rel := Percent(0.20)
		s.Noise.Relative = &rel
	}
	if s.Noise.Absolute == nil {
		abs := Percent(0.0003)
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
			src.MaxLine = 256 << 10
		}
		setDuration(&src.FlushTimeout, 5*time.Second)
		setString(&src.ReadFrom, "beginning")
	}
	if l.Sink == nil && (l.Old != nil || l.New != nil) {
		l.Sink = &LogSink{Type: "embedded"}
	}
	if s := l.Sink; s != nil {
		setString(&s.Type, "embedded")
		if s.Type == "file" {
			s.Path = m.resolve(path+".sink.path", s.Path)
		}
		setInt(&s.BatchSize, 1000)
		if s.BatchBytes == 0 {
			s.BatchBytes = 1 << 20
		}
		setDuration(&s.BatchWait, time.Second)
		setDuration(&s.Timeout, 10*time.Second)
		setDuration(&s.MaxBackoff, 30*time.Second)
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
	setDuration(&r.Window, 30*time.Second)
	setDuration(&r.Interval, time.Second)
	if r.Confidence == nil {
		c := Percent(0.99)
		r.Confidence = &c
	}
	setInt(&r.Breaches, 2)
	setInt(&r.FastBreaker.MinRequests, 20)
	if r.FastBreaker.ErrorRate == nil {
		e := Percent(0.5)
		r.FastBreaker.ErrorRate = &e
	}
	setDuration(&r.FastBreaker.Window, 5*time.Second)
	setString(&r.Source, "telemetry")
	setString(&r.OnNoData, "hold")
	setString(&r.To, "zero")
	if p := r.Prometheus; p != nil {
		setString(&p.Errors, `sum(increase(migrate_proxy_requests_total{app="{{.App}}",side="{{.Side}}",code_class="5xx"}[{{.Window}}]))`)
		setString(&p.Total, `sum(increase(migrate_proxy_requests_total{app="{{.App}}",side="{{.Side}}"}[{{.Window}}]))`)
		setString(&p.P99, `histogram_quantile(0.99, sum by (le) (rate(migrate_proxy_request_duration_seconds_bucket{app="{{.App}}",side="{{.Side}}"}[{{.Window}}])))`)
		setDuration(&p.Timeout, 5*time.Second)
	}
	for i := range r.Hooks {
		setDuration(&r.Hooks[i].Timeout, 30*time.Second)
	}
}
