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

// Methods decides which requests of an app may be sent to its other side:
// shadow.methods (default GET, HEAD) on every path, and the methods a route
// opts in (its writes) on the paths it matches, the first matching route
// deciding. It is immutable and safe for concurrent use.
type Methods struct {
	methods []string
	routes  []route
}

// NewMethods reads the methods of an app's shadow section.
func NewMethods(s manifest.Shadow) *Methods {
	ms := &Methods{methods: upper(s.Methods, manifest.DefaultShadowMethods())}
	for _, r := range s.Routes {
		ms.routes = append(ms.routes, parseRoute(r))
	}
	return ms
}

// Allowed reports whether a request with method (upper case) on path may
// be sent to the other side.
func (ms *Methods) Allowed(method, path string) bool {
	if slices.Contains(ms.methods, method) {
		return true
	}
	if rt := ms.route(path); rt != nil {
		return slices.Contains(rt.methods, method)
	}
	return false
}

func (ms *Methods) route(path string) *route {
	for i := range ms.routes {
		if ms.routes[i].match(path) {
			return &ms.routes[i]
		}
	}
	return nil
}

// allowed reports whether method is mirrored on path.
func (m *Mirror) allowed(method, path string) bool { return m.methods.Allowed(method, path) }
