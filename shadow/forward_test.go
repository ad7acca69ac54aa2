package shadow

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestMirroredHopByHop checks that a mirrored request reaches the new
// side's backend with the headers the proxied one reaches the old side's
// with: the same hop-by-hop fields dropped (those a Connection field
// names, Expect, Forwarded, Keep-Alive, Proxy-*), "TE: trailers" kept, the
// same X-Forwarded-*. The mirror once had a list of its own, which kept
// Expect and dropped TE: trailers.
func TestMirroredHopByHop(t *testing.T) {
	for _, netHTTP := range []bool{false, true} {
		name := "loops"
		if netHTTP {
			name = "nethttp"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			old, newB := newBackend(t, "old", nil), newBackend(t, "new", nil)
			e := &env{cmp: newFakeComparer(), sink: &fakeSink{}, netHTTP: netHTTP}
			startWith(t, testApp(old.URL, newB.URL), e, e.cmp, e.sink)
			hdr := http.Header{
				"Te":                  {"trailers, deflate;q=0.5"},
				"Expect":              {"100-continue"},
				"Connection":          {"X-Hop"},
				"X-Hop":               {"1"},
				"Keep-Alive":          {"300"},
				"Proxy-Authorization": {"Basic eDp5"},
				"Forwarded":           {"for=192.0.2.1"},
				"X-Forwarded-For":     {"192.0.2.2"},
				"X-Custom":            {"kept"},
			}
			e.do(t, http.MethodGet, "/a", nil, hdr)
			waitFor(t, "the mirrored request", func() bool { return newB.hits() == 1 })
			proxied, mirrored := old.requests()[0].Header, newB.requests()[0].Header
			if got := mirrored.Get(Header); got != "1" {
				t.Errorf("mirrored request has %s %q, want 1", Header, got)
			}
			mirrored.Del(Header)
			if diff := cmp.Diff(proxied, mirrored); diff != "" {
				t.Errorf("mirrored request's header differs from the proxied one's (-proxied +mirrored):\n%s", diff)
			}
			for _, name := range []string{"Expect", "X-Hop", "Keep-Alive", "Proxy-Authorization", "Forwarded", "Connection"} {
				if v, ok := proxied[name]; ok {
					t.Errorf("the backend got hop-by-hop %s: %q", name, v)
				}
			}
			if got := proxied["Te"]; len(got) != 1 || got[0] != "trailers" {
				t.Errorf("the backend got TE %q, want [trailers]", got)
			}
		})
	}
}
