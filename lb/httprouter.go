package lb

import (
	"io"
	"net/http"
	"time"
)

func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt.inflight.enter()
	defer rt.inflight.leave()
	if g := gateOf(r.Context()); g != nil {
		if code := g.rejection(r.Header); code != 0 {
			rt.refuse(w, code, ruleAnswer(code)) // net/http closes after it
			return
		}
		if _, up := r.Header["Upgrade"]; up {
			defer g.endUpgrade() // a switch would have made it a tunnel
		}
		if r.TLS == nil {
			r.TLS = g.tls
		}
	} else if r.ProtoMajor == 2 && r.Body != nil && r.Body != http.NoBody && rt.bodyTimeout > 0 {
		r.Body = &h2Body{ReadCloser: r.Body, rc: http.NewResponseController(w), timeout: rt.bodyTimeout}
	}
	a, code, body := rt.admit(r.Method, r.Host)
	if a == nil {
		rt.refuse(w, code, body)
		return
	}
	a.handler.ServeHTTP(w, r)
}

// h2Body is an HTTP/2 request body read with the client body timeout: the
// stream's read deadline moves before each read (HTTP/2 has no gate, and
// no background read that a deadline would break).
type h2Body struct {
	io.ReadCloser
	rc      *http.ResponseController
	timeout time.Duration
}

func (b *h2Body) Read(p []byte) (int, error) {
	_ = b.rc.SetReadDeadline(time.Now().Add(b.timeout))
	n, err := b.ReadCloser.Read(p)
	if err != nil && isTimeout(err) {
		err = errBodyTimeout
	}
	return n, err
}

func plainError(w http.ResponseWriter, code int, body string) {
	h := w.Header()
	h.Del("Content-Length")
	for _, f := range ownFields {
		h[f[0]] = []string{f[1]}
	}
	w.WriteHeader(code)
	_, _ = io.WriteString(w, body)
}

// refuse answers a request the rules refuse, and counts it.
func (rt *router) refuse(w http.ResponseWriter, code int, body string) {
	rt.refused.Request(code)
	plainError(w, code, body)
}
