package shadow

import (
	"slices"
	"strings"

	"github.com/migratekit/migrate/manifest"
)

// route is a shadow route: a template ("/users/:id", "/static/*") and the
// methods it opts in besides shadow.methods.
type route struct {
	path    string
	segs    []string // ":name" matches one segment
	rest    bool     // a final "*" matches any rest
	methods []string
}

func parseRoute(r manifest.Route) route {
	rt := route{path: r.Path, methods: upper(r.Methods, nil)}
	segs := strings.Split(strings.Trim(r.Path, "/"), "/")
	if n := len(segs); n > 0 && segs[n-1] == "*" {
		segs, rt.rest = segs[:n-1], true
	}
	if len(segs) == 1 && segs[0] == "" {
		segs = nil
	}
	rt.segs = segs
	return rt
}

// match reports whether path fits the template, without allocating.
func (rt *route) match(path string) bool {
	rest := strings.Trim(path, "/")
	for _, seg := range rt.segs {
		if rest == "" {
			return false
		}
		part, after, _ := strings.Cut(rest, "/")
		if part == "" || (!strings.HasPrefix(seg, ":") && part != seg) {
			return false
		}
		rest = after
	}
	return rest == "" || rt.rest
}

// allowed reports whether method is mirrored on path: one of
// shadow.methods, or opted in by the first route matching path.
func (m *Mirror) allowed(method, path string) bool {
	if slices.Contains(m.methods, method) {
		return true
	}
	if rt := m.route(path); rt != nil {
		return slices.Contains(rt.methods, method)
	}
	return false
}

func (m *Mirror) route(path string) *route {
	for i := range m.routes {
		if m.routes[i].match(path) {
			return &m.routes[i]
		}
	}
	return nil
}
