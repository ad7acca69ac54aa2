package manifest

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Validate checks m, with its defaults applied, as a whole and returns
// every problem found as Problems, or nil. It changes nothing; the only
// files it touches are the TLS files it names, which it checks it can
// open. Load and Parse call it, and report a manifest without apps
// themselves.
//
// On listeners: the apps sharing a listen address must all terminate TLS
// or none; a host may be claimed by one app per listen address; and at most
// one app per listen address may have no hosts, taking every request that
// no other app on it claims. Listen addresses are compared as written; an
// app may not listen on the admin address unless its port is 0 (any free
// port, so never the same socket).
func (m *Manifest) Validate() error {
	c := &checker{pos: m.pos}
	c.global("defaults", &m.Global)
	for _, name := range m.AppNames() {
		c.app(keyPath("apps", name), name, m.Apps[name])
	}
	c.listeners(m)
	if len(c.probs) == 0 {
		return nil
	}
	return c.probs.tidy()
}

// checker collects the problems of Validate, placing each at the value it
// is about.
type checker struct {
	pos   positions
	probs Problems
}

// check records msg about path unless it is "".
func (c *checker) check(path, msg string) {
	if msg != "" {
		c.probs = append(c.probs, c.pos.problem(path, msg))
	}
}

func (c *checker) addf(path, format string, args ...any) {
	c.check(path, fmt.Sprintf(format, args...))
}

// each checks every element of the list at path with fn.
func (c *checker) each(path string, list []string, fn func(string) string) {
	for i, s := range list {
		c.check(indexPath(path, i), fn(s))
	}
}

// choice checks that s is one of opts.
func choice(s string, opts ...string) string {
	if slices.Contains(opts, s) {
		return ""
	}
	if len(opts) == 2 {
		return fmt.Sprintf("%q is not %s or %s", s, opts[0], opts[1])
	}
	return fmt.Sprintf("%q is not one of %s", s, strings.Join(opts, ", "))
}

var appName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

func (c *checker) app(path, name string, a *App) {
	if !appName.MatchString(name) {
		c.addf(path, "%q is not a valid app name (lowercase letters, digits, _ and -, starting with a letter or digit, at most 63)", name)
	}
	c.check(path+".listen", listenAddr(a.Listen))
	c.tls(path+".tls", a.TLS)
	c.hosts(path+".hosts", a.Hosts)
	c.each(path+".trusted_proxies", a.TrustedProxies, ipOrCIDR)
	c.cors(path+".cors", a.CORS)
	c.each(path+".upgrades", a.Upgrades, func(u string) string { return token(u, "protocol name") })
	c.pool(path+".old", &a.Old)
	c.pool(path+".new", &a.New)
	c.cutover(path+".cutover", &a.Cutover)
	c.shadow(path+".shadow", &a.Shadow)
	c.rollback(path+".rollback", &a.Rollback)
	c.dns(path+".dns", a.DNS)
	c.dnsCheck(path+".dns_check", &a.DNSCheck)
	c.fallback(path+".fallback", &a.Fallback)
	c.logs(path+".logs", &a.Logs)
	c.data(path+".data", a.Data)
	if a.Notify.Webhook != "" {
		c.check(path+".notify.webhook", httpURL(a.Notify.Webhook))
	}
}

func (c *checker) cutover(path string, cu *Cutover) {
	if w := cu.Weight; w != nil && (*w < 0 || *w > 100) {
		c.addf(path+".weight", "%d is not between 0 and 100", *w)
	}
	c.check(path+".sticky", choice(cu.Sticky, "ip", "cookie"))
	c.check(path+".cookie", token(cu.Cookie, "cookie name"))
	for i, w := range cu.Plan {
		switch {
		case w < 0 || w > 100:
			c.addf(indexPath(path+".plan", i), "%d is not between 0 and 100", w)
		case i > 0 && w <= cu.Plan[i-1]:
			c.addf(indexPath(path+".plan", i), "%d does not increase on the step before it (%d)", w, cu.Plan[i-1])
		}
	}
}

func (c *checker) shadow(path string, s *Shadow) {
	c.each(path+".methods", s.Methods, method)
	c.check(path+".direction", choice(s.Direction, "both", "forward", "reverse"))
	c.ignore(path+".ignore", &s.Ignore)
	for i := range s.Routes {
		r, rp := &s.Routes[i], indexPath(path+".routes", i)
		if r.Path == "" {
			c.addf(rp, "a route needs a path such as /users/:id")
		} else {
			c.check(rp, startsWithSlash(r.Path, "route"))
		}
		c.each(rp+".methods", r.Methods, method)
		c.ignore(rp+".ignore", &r.Ignore)
	}
	c.each(path+".secondary", s.Secondary, baseURL)
	for key, n := range map[string]int{"workers": s.Workers, "queue": s.Queue, "samples": s.Samples} {
		if n < 1 {
			c.addf(path+"."+key, "%d is less than 1", n)
		}
	}
	c.each(path+".redact.headers", s.Redact.Headers, func(h string) string { return token(h, "header name") })
	c.each(path+".redact.json", s.Redact.JSON, jsonPointer)
}

func (c *checker) ignore(path string, ig *Ignore) {
	c.each(path+".headers", ig.Headers, func(h string) string { return token(h, "header name") })
	c.each(path+".json", ig.JSON, jsonPointer)
	c.each(path+".any_value", ig.AnyValue, jsonPointer)
	c.each(path+".sets", ig.Sets, jsonPointer)
	if ig.Tolerance < 0 {
		c.addf(path+".tolerance", "%v is negative", ig.Tolerance)
	}
}

func jsonPointer(p string) string { return startsWithSlash(p, "JSON pointer") }

func startsWithSlash(s, what string) string {
	if !strings.HasPrefix(s, "/") {
		return fmt.Sprintf("%q is not a %s (start it with /)", s, what)
	}
	return ""
}
