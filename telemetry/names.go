package telemetry

import (
	"net/url"
	"strconv"
	"strings"
)

// sideNames are the statsd names of one app's side, built once per Side so
// the mirror does not build strings per request.
type sideNames struct {
	base      string // app.side
	requests  [5]string
	duration  string
	retries   string
	failovers string
}

func newSideNames(app, side string) *sideNames {
	base := token(app) + "." + token(side)
	n := &sideNames{
		base:      base,
		duration:  base + ".request_duration",
		retries:   base + ".retries",
		failovers: base + ".failovers",
	}
	for i := range n.requests {
		n.requests[i] = base + ".requests." + strconv.Itoa(i+1) + "xx"
	}
	return n
}

// backend is the name prefix of one backend's series.
func (n *sideNames) backend(b string) string {
	return n.base + ".backend." + backendToken(b)
}

// token makes s one statsd name segment: runs of anything but ASCII
// letters, digits and '-' (underscores included) become one '_', and none
// is left at either end. Dots, colons, pipes and '@' would change the name's meaning in the
// statsd line protocol.
func token(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	under := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '_' && isNameByte(c) {
			if under && b.Len() > 0 {
				b.WriteByte('_')
			}
			b.WriteByte(c)
			under = false
			continue
		}
		under = true
	}
	if b.Len() == 0 {
		return "unknown"
	}
	return b.String()
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// backendToken names a backend URL by its host, port and path:
// "http://10.0.0.5:3000" becomes "10_0_0_5_3000".
func backendToken(b string) string {
	if u, err := url.Parse(b); err == nil && u.Host != "" {
		return token(u.Host + u.Path)
	}
	return token(b)
}

// cleanPrefix keeps the dots of a hierarchical prefix ("migrate.prod") and
// makes each segment safe.
func cleanPrefix(p string) string {
	var segs []string
	for s := range strings.SplitSeq(p, ".") {
		if s = strings.TrimSpace(s); s != "" {
			segs = append(segs, token(s))
		}
	}
	if len(segs) == 0 {
		return DefaultPrefix
	}
	return strings.Join(segs, ".")
}
