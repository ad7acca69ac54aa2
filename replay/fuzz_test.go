package replay

import (
	"strings"
	"testing"

	"github.com/migratekit/migrate/logship"
)

// FuzzParse feeds arbitrary lines of each format through the replay's
// parsing: it never panics, and a line it replays has a method, an absolute
// path and a request that can be sent.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		combined("GET", "/items/1?a=b"),
		combined("GET", "/a%2Fb%zz"),
		combined("OPTIONS", "*"),
		combined("GET", "http://h.example/p?q"),
		`{"method":"GET","path":"/items/7","query":"a=1","host":"h"}`,
		`method=HEAD uri=/x?y=1 host=h`,
		"junk",
	} {
		for _, format := range []string{"nginx_combined", "json", "logfmt"} {
			f.Add(format == "json", format == "logfmt", seed)
		}
	}
	app := testApp("http://127.0.0.1:1", "http://127.0.0.1:2")
	f.Fuzz(func(t *testing.T, json, logfmt bool, line string) {
		format := "nginx_combined"
		switch {
		case json:
			format = "json"
		case logfmt:
			format = "logfmt"
		}
		r, err := newReplayer(Options{App: app, Log: strings.NewReader(""), Format: format})
		if err != nil {
			t.Fatal(err)
		}
		var rec logship.Record
		j, ok := r.parse(1, []byte(line), false, &rec)
		if !ok {
			return
		}
		if j.req.Method == "" || !strings.HasPrefix(j.req.Path, "/") {
			t.Fatalf("replayed %q %q from %q", j.req.Method, j.req.Path, line)
		}
		if u := j.outbound().URL; u.RequestURI() == "" {
			t.Fatalf("no request URI for %q", line)
		}
	})
}
