package lb

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/migratekit/migrate/manifest"
)

// corsPolicy answers CORS preflight requests on the proxy, so that both
// sides present the same policy during the migration.
type corsPolicy struct {
	anyOrigin   bool
	origins     []string // without a trailing slash; compared case-insensitively
	methods     string
	headers     string // "": echo Access-Control-Request-Headers
	maxAge      string // seconds
	credentials bool
}

// newCORS returns nil when c lists no origins: preflights are then proxied
// like any request.
func newCORS(c *manifest.CORS) *corsPolicy {
	if c == nil || len(c.Origins) == 0 {
		return nil
	}
	p := &corsPolicy{
		methods:     strings.Join(manifest.DefaultCORSMethods(), ", "),
		headers:     strings.Join(c.Headers, ", "),
		maxAge:      strconv.Itoa(int(c.MaxAge.Or(manifest.DefaultCORSMaxAge) / time.Second)),
		credentials: manifest.Bool(c.Credentials, false),
	}
	for _, o := range c.Origins {
		o = strings.TrimSuffix(strings.TrimSpace(o), "/")
		if o == "*" {
			p.anyOrigin = true
			continue
		}
		p.origins = append(p.origins, o)
	}
	if len(c.Methods) > 0 {
		p.methods = strings.ToUpper(strings.Join(c.Methods, ", "))
	}
	return p
}

// preflight is the rule of isPreflight on every path: a request with this
// method, first Origin and first Access-Control-Request-Method is a CORS
// preflight.
func preflight(method, origin, requestMethod string) bool {
	return method == http.MethodOptions && origin != "" && requestMethod != ""
}

func (p *corsPolicy) allows(origin string) bool {
	if p.anyOrigin {
		return true
	}
	for _, o := range p.origins {
		if strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

const corsForbidden = "cors origin not allowed\n"

// answer sets the headers of the answer to a preflight from origin that
// asks for the headers requested (comma-separated, "" for none), and
// reports whether the origin is allowed: a 204 with these headers, or a 403
// with only Vary.
func (p *corsPolicy) answer(origin, requested string, set func(k, v string)) bool {
	if !p.allows(origin) {
		set("Vary", "Origin")
		return false
	}
	vary := "Origin, Access-Control-Request-Method"
	allowOrigin := "*"
	if !p.anyOrigin || p.credentials {
		allowOrigin = origin
	}
	set("Access-Control-Allow-Origin", allowOrigin)
	set("Access-Control-Allow-Methods", p.methods)
	if p.headers != "" {
		set("Access-Control-Allow-Headers", p.headers)
	} else if requested != "" {
		set("Access-Control-Allow-Headers", requested)
		vary += ", Access-Control-Request-Headers"
	}
	set("Access-Control-Max-Age", p.maxAge)
	if p.credentials {
		set("Access-Control-Allow-Credentials", "true")
	}
	set("Vary", vary)
	return true
}
