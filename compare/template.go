package compare

import (
	"fmt"
	"strings"
)

// maxSegments bounds a template's depth: deeper paths keep their first
// maxSegments segments and end in "/**". Routes may not be deeper.
const maxSegments = 16

// Templater turns request paths into endpoint templates, so that metrics,
// stats and reports never carry a raw path: the first route pattern that
// matches wins; without one, segments that look like identifiers become
// ":id" and positions that take many values are inferred from the traffic
// it has named (infer.go: /blog/:slug). It is safe for concurrent use.
type Templater struct {
	routes []routePattern
	tree   *inferTree // nil: no learning (the zero Templater)
}

type routePattern struct {
	pattern string
	segs    []string
	rest    bool // ends with "**"
}

// NewTemplater checks and compiles route patterns: "/users/:id",
// "/giveaways/:id/entries", "/static/**". In a pattern, ":name" and "*"
// match one non-empty segment and a final "**" matches what is left (none
// included); other segments match literally.
func NewTemplater(routes []string) (*Templater, error) {
	t := &Templater{tree: newInferTree()}
	for _, r := range routes {
		rp, err := compileRoute(r)
		if err != nil {
			return nil, fmt.Errorf("parsing route %q: %w", r, err)
		}
		t.routes = append(t.routes, rp)
	}
	return t, nil
}

// fork returns a Templater with t's routes and a tree of its own: one per
// app.
func (t *Templater) fork() *Templater {
	return &Templater{routes: t.routes, tree: newInferTree()}
}

// Inferred reports whether endpoint, a name t gave, was inferred (a
// parameter learned from traffic or from an identifier's shape) rather
// than a route's pattern or a literal path.
func (t *Templater) Inferred(endpoint string) bool {
	for i := range t.routes {
		if t.routes[i].pattern == endpoint {
			return false
		}
	}
	return inferredName(endpoint)
}

func compileRoute(r string) (routePattern, error) {
	if !strings.HasPrefix(r, "/") {
		return routePattern{}, fmt.Errorf("must start with /")
	}
	rp := routePattern{pattern: r, segs: strings.Split(r[1:], "/")}
	if n := len(rp.segs); rp.segs[n-1] == "**" {
		rp.segs, rp.rest = rp.segs[:n-1], true
	}
	if len(rp.segs) > maxSegments {
		return routePattern{}, fmt.Errorf("more than %d segments", maxSegments)
	}
	for _, s := range rp.segs {
		switch {
		case s == "**":
			return routePattern{}, fmt.Errorf(`"**" must be the last segment`)
		case strings.Contains(s, "*") && s != "*":
			return routePattern{}, fmt.Errorf("segment %q: * must be a whole segment", s)
		case strings.HasPrefix(s, ":") && !validParam(s[1:]):
			return routePattern{}, fmt.Errorf("segment %q: a parameter needs a name of letters, digits or _", s)
		}
	}
	return rp, nil
}

func validParam(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range name {
		if !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// Template is the endpoint template of a request path (its query and
// fragment dropped; the method is not part of it).
func (t *Templater) Template(path string) string {
	path = cleanPath(path)
	for i := range t.routes {
		if t.routes[i].match(path[1:]) {
			return t.routes[i].pattern
		}
	}
	if t.tree != nil {
		return t.tree.template(path)
	}
	return infer(strings.Split(path[1:], "/"))
}

// Template is the endpoint template of path under routes: see Templater.
// Invalid routes are skipped; build a Templater once to check them and to
// avoid compiling them on every call.
func Template(path string, routes []string) string {
	t := &Templater{}
	for _, r := range routes {
		if rp, err := compileRoute(r); err == nil {
			t.routes = append(t.routes, rp)
		}
	}
	return t.Template(path)
}

func cleanPath(p string) string {
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return p
}

// match reports whether path (without its leading "/") matches.
func (rp *routePattern) match(path string) bool {
	rest, done := path, false
	for _, want := range rp.segs {
		if done {
			return false // fewer segments than the pattern
		}
		var got string
		got, rest, done = nextSegment(rest)
		switch {
		case want == "*" || strings.HasPrefix(want, ":"):
			if got == "" {
				return false
			}
		case got != want:
			return false
		}
	}
	return rp.rest || done
}

// infer replaces identifier-like segments with ":id" and cuts the path at
// maxSegments.
func infer(segs []string) string {
	var b strings.Builder
	for i, s := range segs {
		b.WriteByte('/')
		if i == maxSegments {
			b.WriteString("**")
			break
		}
		if isID(s) {
			s = ":id"
		}
		b.WriteString(s)
	}
	return b.String()
}

// isID reports a segment that names one thing among many: a number, a
// UUID, a hex string of 8 or more with a digit, an opaque token of 20 or
// more (base64 or URL-safe characters with a digit), an email address, or
// anything over 64 bytes.
func isID(s string) bool {
	switch {
	case s == "":
		return false
	case len(s) > 64, strings.Contains(s, "@"):
		return true
	case isUUID(s):
		return true
	}
	digits, hex, token := false, true, true
	for i := 0; i < len(s); i++ {
		c := s[i]
		isDigit := c >= '0' && c <= '9'
		digits = digits || isDigit
		hex = hex && (isDigit || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F')
		token = token && (isDigit || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte("-_=+.~%", c) >= 0)
	}
	switch {
	case !digits:
		return false
	case hex && (len(s) >= 8 || allDigits(s)):
		return true
	default:
		return token && len(s) >= 20
	}
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
			continue
		}
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
