package manifest

import (
	"fmt"
	"github.com/migratekit/migrate/logship"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
)

func (c *checker) dns(path string, recs []DNSRecord) {
	seen := map[[2]string]int{}
	for i, r := range recs {
		rp := indexPath(path, i)
		if r.Name == "" {
			c.check(rp+".name", "a name is required")
		} else {
			c.check(rp+".name", hostName(r.Name))
		}
		c.check(rp+".type", choice(r.Type, "A", "AAAA", "CNAME", "TXT", "MX"))
		if len(r.Expect) == 0 {
			c.check(rp+".expect", "at least one expected value is required")
		}
		c.each(rp+".expect", r.Expect, func(v string) string { return dnsValue(r.Type, v) })
		c.each(rp+".old", r.Old, func(v string) string { return dnsValue(r.Type, v) })
		key := [2]string{strings.TrimSuffix(strings.ToLower(r.Name), "."), r.Type}
		if j, dup := seen[key]; dup {
			c.addf(rp, "duplicate record (same as %s)", indexPath("dns", j))
		} else {
			seen[key] = i
		}
	}
}

var mxPreference = regexp.MustCompile(`^[0-9]{1,5}$`)

// dnsValue checks an expected value of a record of type typ.
func dnsValue(typ, v string) string {
	switch typ {
	case "A", "AAAA":
		ip, err := netip.ParseAddr(v)
		if err != nil || ip.Is4() != (typ == "A") || ip.Zone() != "" {
			return fmt.Sprintf("%q is not an %s address", v, map[string]string{"A": "IPv4", "AAAA": "IPv6"}[typ])
		}
	case "CNAME":
		return hostName(v)
	case "MX":
		// "mail.example.com" or "10 mail.example.com".
		pref, host, ok := strings.Cut(v, " ")
		if ok && !mxPreference.MatchString(pref) {
			return fmt.Sprintf("%q is not an MX value (host or \"preference host\")", v)
		}
		if !ok {
			host = v
		}
		return hostName(host)
	case "TXT":
		if v == "" {
			return "empty TXT value"
		}
	}
	return ""
}

// logFormats are the access-log formats logship parses.
var logFormats = logship.Formats()

func (c *checker) logs(path string, l *Logs) {
	c.logSource(path+".old", l.Old)
	c.logSource(path+".new", l.New)
	c.logSink(path+".sink", l.Sink)
}

func (c *checker) logSource(path string, s *LogSource) {
	if s == nil {
		return
	}
	if len(s.Paths) == 0 {
		c.check(path+".paths", "at least one path is required")
	}
	c.each(path+".paths", s.Paths, func(p string) string {
		if _, err := filepath.Match(p, ""); err != nil || p == "" {
			return fmt.Sprintf("%q is not a file path or pattern", p)
		}
		return ""
	})
	switch {
	case s.Format == "":
		c.check(path+".format", "a format is required: one of "+strings.Join(logFormats, ", "))
	case s.Format == "nginx" && s.LogFormat == "":
		c.check(path+".log_format", `format nginx needs log_format, the nginx log_format string ('$remote_addr - $remote_user [$time_local] "$request" ...')`)
	case s.Format == "nginx":
		if _, err := logship.New("nginx", logship.Options{LogFormat: s.LogFormat}); err != nil {
			c.check(path+".log_format", err.Error())
		}
	case s.LogFormat != "":
		c.check(path+".log_format", fmt.Sprintf("log_format is only for format nginx, not %s", s.Format))
		c.check(path+".format", choice(s.Format, logFormats...))
	default:
		c.check(path+".format", choice(s.Format, logFormats...))
	}
	if s.Host != "" {
		c.check(path+".host", hostName(strings.ToLower(s.Host)))
	}
	if s.MaxLine < 1024 {
		c.addf(path+".max_line", "%d bytes is too short for a line; give at least 1KiB", s.MaxLine)
	}
	if s.FlushTimeout < 0 {
		c.check(path+".flush_timeout", "must not be negative")
	}
	c.check(path+".read_from", choice(s.ReadFrom, "beginning", "end"))
}

var sinkTypes = []string{"embedded", "file", "stdout", "loki", "elasticsearch", "otlp"}

// logSink checks a sink's type and that it has the fields its type needs
// and no others.
func (c *checker) logSink(path string, s *LogSink) {
	if s == nil {
		return
	}
	switch {
	case s.Type == "":
		c.check(path+".type", "a type is required: one of "+strings.Join(sinkTypes, ", "))
		return
	case choice(s.Type, sinkTypes...) != "":
		c.check(path+".type", choice(s.Type, sinkTypes...))
		return
	}
	needURL := s.Type == "loki" || s.Type == "elasticsearch" || s.Type == "otlp"
	c.sinkField(path+".path", s.Type, "path", s.Path, s.Type == "file")
	c.sinkField(path+".url", s.Type, "url", s.URL, needURL)
	if s.Index != "" && s.Type != "elasticsearch" {
		c.addf(path+".index", "a %s sink does not use index", s.Type)
	}
	if needURL && s.URL != "" {
		c.check(path+".url", httpURL(s.URL))
	}
	if s.Tenant != "" && s.Type != "loki" {
		c.addf(path+".tenant", "a %s sink does not use tenant", s.Type)
	}
	if len(s.Headers) > 0 && !needURL {
		c.addf(path+".headers", "a %s sink does not use headers", s.Type)
	}
	for _, k := range sortedKeys(s.Headers) {
		c.check(keyPath(path+".headers", k), token(k, "header name"))
	}
	if s.Admin != "" && s.Type != "embedded" {
		c.addf(path+".admin", "a %s sink does not use admin", s.Type)
	} else if s.Admin != "" {
		c.check(path+".admin", httpURL(s.Admin))
	}
	if s.BatchSize < 0 {
		c.addf(path+".batch_size", "%d is negative", s.BatchSize)
	}
	if s.BatchBytes < 0 {
		c.addf(path+".batch_bytes", "%d is negative", s.BatchBytes)
	}
	for key, d := range map[string]Duration{"batch_wait": s.BatchWait, "timeout": s.Timeout, "max_backoff": s.MaxBackoff} {
		if d < 0 {
			c.check(path+"."+key, "must not be negative")
		}
	}
}

func (c *checker) sinkField(path, typ, key, value string, need bool) {
	switch {
	case need && value == "":
		c.addf(path, "a %s sink needs %s", typ, key)
	case !need && value != "":
		c.addf(path, "a %s sink does not use %s", typ, key)
	}
}

var statsdPrefix = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)

// global checks the process-wide settings, written under defaults:.
func (c *checker) global(path string, g *Global) {
	c.check(path+".admin.listen", listenAddr(g.Admin.Listen))
	if !envName.MatchString(g.Admin.TokenEnv) {
		c.addf(path+".admin.token_env", "%q is not an environment variable name", g.Admin.TokenEnv)
	}
	c.each(path+".admin.hosts", g.Admin.Hosts, func(h string) string { return hostPort(h, false) })
	if g.Metrics.Statsd != "" {
		c.check(path+".metrics.statsd", hostPort(g.Metrics.Statsd, true))
	}
	if !statsdPrefix.MatchString(g.Metrics.Prefix) {
		c.addf(path+".metrics.prefix", "%q is not a metric prefix (letters, digits, _, . and -)", g.Metrics.Prefix)
	}
	c.state(path+".state", &g.State)
	c.limits(path+".limits", &g.Limits)
}

// Bounds of limits.header_bytes: a head must hold a request line and a
// few fields, and a loop or the gate buffers a whole head per connection.
const (
	minHeaderBytes = 1 << 10
	maxHeaderBytes = 1 << 20
)

func (c *checker) limits(path string, l *Limits) {
	if l.HeaderBytes < minHeaderBytes || l.HeaderBytes > maxHeaderBytes {
		c.addf(path+".header_bytes", "%d bytes is not between 1KiB and 1MiB", int64(l.HeaderBytes))
	}
}

func (c *checker) state(path string, s *State) {
	switch s.Backend {
	case "embedded":
		if s.URL != "" {
			c.check(path+".url", "the embedded backend does not use url")
		}
	case "redis":
		c.check(path+".url", redisURL(s.URL))
	default:
		c.check(path+".backend", choice(s.Backend, "embedded", "redis"))
	}
}

// redisURL checks a redis://, rediss:// or unix:// URL.
func redisURL(s string) string {
	if s == "" {
		return "the redis backend needs url (redis://host:port/db)"
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
	case u.Scheme == "redis" || u.Scheme == "rediss":
		if u.Host != "" && hostPort(u.Host, false) == "" {
			return ""
		}
	case u.Scheme == "unix":
		if u.Path != "" {
			return ""
		}
	}
	return fmt.Sprintf("%q is not a redis://, rediss:// or unix:// URL", s)
}
