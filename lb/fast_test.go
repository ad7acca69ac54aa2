package lb

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/migratekit/migrate/manifest"
)

// noMirror is a Mirror that only serves.
type noMirror struct{}

func (noMirror) Serve(w http.ResponseWriter, r *http.Request, _ string, serve http.Handler) {
	serve.ServeHTTP(w, r)
}

// sampler is a mirror that mirrors nothing and says so (Sampler).
type sampler struct{ noMirror }

func (sampler) Leaves(string, []byte) bool { return true }

// TestPathChosen: the loops front a plain listener with an app they can
// serve; the rest is net/http's.
func TestPathChosen(t *testing.T) {
	oldB, newB := newBackend(t, "old"), newBackend(t, "new")
	tests := []struct {
		name string
		app  func() *manifest.App
		opts Options
		loop bool // on event loops (on Linux)
	}{
		{"plain app", func() *manifest.App { return testApp(oldB, newB) }, Options{}, true},
		{"localhost backend", func() *manifest.App {
			a := testApp(oldB, newB)
			a.New.Backends = []string{"http://localhost:1/base"}
			return a
		}, Options{}, true},
		{"mirrored app", func() *manifest.App { return testApp(oldB, newB) }, Options{Mirrors: map[string]Mirror{"web": noMirror{}}}, false},
		{"mirrored app that samples", func() *manifest.App { return testApp(oldB, newB) }, Options{Mirrors: map[string]Mirror{"web": sampler{}}}, true},
		{"wrapped app", func() *manifest.App { return testApp(oldB, newB) },
			Options{Middleware: map[string]func(http.Handler) http.Handler{"web": func(h http.Handler) http.Handler { return h }}}, false},
		{"https backend", func() *manifest.App {
			a := testApp(oldB, newB)
			a.New.Backends = []string{"https://127.0.0.1:1"}
			return a
		}, Options{}, false},
		{"backend by name", func() *manifest.App {
			a := testApp(oldB, newB)
			a.Old.Backends = []string{"http://app.internal:8080"}
			return a
		}, Options{}, true},
		{"TLS listener", func() *manifest.App {
			a := testApp(oldB, newB)
			a.TLS = &manifest.TLS{Cert: "c", Key: "k"}
			return a
		}, Options{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(oneApp(tt.app()), nil, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := p.listeners[0].loop, tt.loop && loopSupported; got != want {
				t.Errorf("event-loop listener = %v, want %v", got, want)
			}
		})
	}
}

// FuzzFastURI checks the fasthttp path's request URI on a backend with a
// path or query against target, the net/http path's, for request URIs
// already in the form net/http would send (it re-escapes the others,
// which the fasthttp path passes as they are).
func FuzzFastURI(f *testing.F) {
	for _, s := range [][2]string{{"/api", "/users?x=1"}, {"/api/", "/u"}, {"/?k=v", "/p?x=1"}, {"/a?k=v", "/"}, {"/", "/x?"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, base, uri string) {
		b, err := parseBackend("http://b" + base)
		if err != nil || b.url.Fragment != "" || b.url.Opaque != "" || !strings.HasPrefix(uri, "/") {
			return
		}
		in, err := url.ParseRequestURI(uri)
		if err != nil || in.RequestURI() != uri || in.ForceQuery {
			return
		}
		if p := b.url.EscapedPath(); p != "" && p != "/" {
			b.fastPath = p
		}
		b.fastQuery = b.url.RawQuery
		want := *in
		target(&want, b.url)
		if got := string(b.fastURI([]byte(uri))); got != want.RequestURI() {
			t.Errorf("backend %q, request %q: fasthttp path sends %q, net/http %q", base, uri, got, want.RequestURI())
		}
	})
}

// TestHeadScan checks when headerConn sees the final answer head begin,
// whatever the reads' boundaries.
func TestHeadScan(t *testing.T) {
	tests := []struct {
		name, in string
		want     bool
	}{
		{"200", "HTTP/1.1 200 OK\r\n", true},
		{"status not complete", "HTTP/1.1 20", false},
		{"103 alone", "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n", false},
		{"103 then 200", "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\n", true},
		{"100 then 103 then 204", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", true},
		{"101 is final", "HTTP/1.1 101 Switching Protocols\r\n", true},
		{"100 then part of the next", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 2", false},
		{"bare CRs in a value", "HTTP/1.1 103 x\r\nA: b\r\r\n\r\nHTTP/1.1 500 x\r\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for size := 1; size <= len(tt.in); size++ {
				var h headScan
				got := false
				for in := []byte(tt.in); len(in) > 0 && !got; {
					n := min(size, len(in))
					got = h.final(in[:n])
					in = in[n:]
				}
				if got != tt.want {
					t.Fatalf("in reads of %d bytes: final = %v, want %v", size, got, tt.want)
				}
			}
		})
	}
}
