package manifest

import (
	"net"
	"regexp"
	"slices"
)

func (c *checker) tls(path string, t *TLS) {
	if t == nil {
		return
	}
	for _, f := range []struct{ key, file, what string }{
		{"cert", t.Cert, "certificate file"},
		{"key", t.Key, "key file"},
	} {
		if f.file == "" {
			c.addf(path+"."+f.key, "a %s is required with tls", f.what)
			continue
		}
		c.check(path+"."+f.key, readable(f.file, f.what))
	}
}

func (c *checker) hosts(path string, hosts []string) {
	first := make(map[string]int, len(hosts))
	for i, h := range hosts {
		if j, dup := first[h]; dup {
			c.addf(indexPath(path, i), "duplicate host (same as %s)", indexPath("hosts", j))
			continue
		}
		first[h] = i
		c.check(indexPath(path, i), hostPort(h, false))
	}
}

func (c *checker) cors(path string, co *CORS) {
	if co == nil {
		return
	}
	c.each(path+".origins", co.Origins, origin)
	if Bool(co.Credentials, false) && slices.Contains(co.Origins, "*") {
		c.check(path+".credentials", `credentials cannot be allowed for every origin ("*"); list the origins`)
	}
	c.each(path+".methods", co.Methods, method)
	c.each(path+".headers", co.Headers, func(h string) string { return token(h, "header name") })
}

func (c *checker) pool(path string, p *Pool) {
	if len(p.Backends) == 0 {
		c.check(path+".backends", "at least one backend is required")
	}
	first := make(map[string]int, len(p.Backends))
	for i, b := range p.Backends {
		if j, dup := first[sameURL(b)]; dup {
			c.addf(indexPath(path+".backends", i), "duplicate backend (same as %s)", indexPath("backends", j))
			continue
		}
		first[sameURL(b)] = i
		c.check(indexPath(path+".backends", i), baseURL(b))
	}
	c.check(path+".balance", choice(p.Balance, "round_robin", "least_conn"))
	c.health(path+".health", &p.Health)
	if p.Passive.MaxFails < -1 {
		c.addf(path+".passive.max_fails", "%d is not -1 (disabled) or more", p.Passive.MaxFails)
	}
}

var statusPattern = regexp.MustCompile(`^[1-5]([0-9][0-9]|xx)$`)

func (c *checker) health(path string, h *Health) {
	if h.Path != "" {
		c.check(path+".path", startsWithSlash(h.Path, "path"))
	}
	if h.Healthy < 1 {
		c.addf(path+".healthy", "%d is less than 1", h.Healthy)
	}
	if h.Unhealthy < 1 {
		c.addf(path+".unhealthy", "%d is less than 1", h.Unhealthy)
	}
	if h.Timeout >= h.Interval {
		c.addf(path+".timeout", "%s is not shorter than interval %s", h.Timeout.D(), h.Interval.D())
	}
	if !statusPattern.MatchString(h.Status) {
		c.addf(path+".status", "%q is not a status class or code such as 2xx or 200", h.Status)
	}
}

// listener is what the apps sharing one listen address have claimed.
type listener struct {
	first    string // the first app on it, by name
	tls      bool   // whether the first app terminates TLS
	catchAll string // the app with no hosts
	hosts    map[string]string
}

// listeners checks the apps sharing each listen address, in name order:
// the later app is the one reported.
func (c *checker) listeners(m *Manifest) {
	byAddr := map[string]*listener{}
	for _, name := range m.AppNames() {
		a, path := m.Apps[name], keyPath("apps", name)
		if a.Listen == m.Global.Admin.Listen && !anyPort(a.Listen) {
			c.addf(path+".listen", "%s is also the admin listener (defaults.admin.listen)", a.Listen)
		}
		ln := byAddr[a.Listen]
		if ln == nil {
			ln = &listener{first: name, tls: a.TLS != nil, hosts: map[string]string{}}
			byAddr[a.Listen] = ln
		}
		if (a.TLS != nil) != ln.tls {
			c.addf(path+".listen", "%s is shared with app %s, and apps on one listener must all set tls or none", a.Listen, ln.first)
		}
		c.claim(path, name, a, ln)
	}
}

// anyPort reports whether addr asks for any free port (port 0): two such
// addresses are never the same socket.
func anyPort(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	return err == nil && port == "0"
}

// claim records the hosts of app name on ln, reporting those another app
// already claimed.
func (c *checker) claim(path, name string, a *App, ln *listener) {
	if len(a.Hosts) == 0 {
		if ln.catchAll != "" {
			c.addf(path+".hosts", "app %s already takes every host on %s; give one of them hosts", ln.catchAll, a.Listen)
			return
		}
		ln.catchAll = name
	}
	for i, h := range a.Hosts {
		owner, ok := ln.hosts[h]
		switch {
		case !ok:
			ln.hosts[h] = name
		case owner != name:
			c.addf(indexPath(path+".hosts", i), "host %q on %s is also claimed by app %s", h, a.Listen, owner)
		}
	}
}
