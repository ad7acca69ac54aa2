package fallback

import (
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"

	"github.com/migratekit/migrate/lb"
	"github.com/migratekit/migrate/telemetry"
)

// guard is the lb middleware of a fallback: it breaks loops and counts
// arrivals before lb proxies a request.
type guard struct {
	id      string
	value   []string // {id}, shared by requests that carry no prior id
	trusted []netip.Prefix
	counter *Counter
	tel     *telemetry.Fallback
	log     *slog.Logger
}

func (g *guard) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.tel.Request()
		prior := r.Header[Header]
		if carries(prior, g.id) {
			g.tel.Loop()
			g.log.Warn("loop detected: the request already went through this fallback", "id", g.id, Header, strings.Join(prior, ", "))
			loopDetected(w)
			return
		}
		g.counter.Record(lb.ClientIP(r, g.trusted))
		if len(prior) == 0 {
			r.Header[Header] = g.value
		} else {
			r.Header[Header] = []string{strings.Join(prior, ", ") + ", " + g.id}
		}
		next.ServeHTTP(w, r)
	})
}

// carries reports whether the header values list id among their
// comma-separated ids.
func carries(values []string, id string) bool {
	for _, v := range values {
		for v != "" {
			var item string
			item, v, _ = strings.Cut(v, ",")
			if strings.TrimSpace(item) == id {
				return true
			}
		}
	}
	return false
}

func loopDetected(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusLoopDetected)
	_, _ = io.WriteString(w, "loop detected: this request already went through the fallback\n")
}
