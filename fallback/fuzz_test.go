package fallback

import (
	"bytes"
	"strings"
	"testing"

	"github.com/migratekit/migrate/manifest"
)

// FuzzRenderNginx renders manifests with arbitrary hosts, paths, backends
// and ids: either RenderNginx refuses them, or what it writes has the
// shape of the benign rendering (no injected line, directive or block).
func FuzzRenderNginx(f *testing.F) {
	f.Add("shop.example.com", "/var/log/nginx/shop.log", "https://10.1.0.5:8443/base", "/etc/ca.pem", "fb1", "127.0.0.1:8080")
	f.Add("a;b", "/x\n}", "http://h/\"", "$ca", "a b", ":0")
	f.Add("*.example.com", "/var/log/a b.log", "http://[::1]:80", "", "x.y-z", "[::]:443")
	f.Fuzz(func(t *testing.T, host, accessLog, backend, ca, id, listen string) {
		m := &manifest.Manifest{Apps: map[string]*manifest.App{"shop": {
			Name: "shop", Listen: listen, Hosts: []string{host},
			New:      manifest.Pool{Backends: []string{backend}},
			Fallback: manifest.Fallback{AccessLog: accessLog, CA: ca},
		}}}
		var buf bytes.Buffer
		if err := RenderNginx(&buf, m, "shop", id); err != nil {
			return
		}
		out := buf.String()
		if got, want := strings.Count(out, "{"), strings.Count(out, "}"); got != want {
			t.Fatalf("%d '{' and %d '}' in:\n%s", got, want, out)
		}
		for _, needle := range []string{"\nserver {", "\n    location / {", "return 508;"} {
			if strings.Count(out, needle) != 1 {
				t.Fatalf("%q is not there exactly once in:\n%s", needle, out)
			}
		}
		for i, line := range strings.Split(out, "\n") {
			l := strings.TrimSpace(line)
			if l == "" || strings.HasPrefix(l, "#") || strings.HasSuffix(l, "{") || l == "}" || strings.HasSuffix(l, ";") || strings.HasPrefix(l, "''") || strings.HasPrefix(l, "default") {
				continue
			}
			t.Fatalf("line %d %q is not a whole directive in:\n%s", i+1, line, out)
		}
	})
}
