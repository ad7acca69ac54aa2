package compare

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/migratekit/migrate/telemetry"
)

var slugWords = []string{"alpha", "cloud", "river", "stone", "quiet", "amber", "delta", "maple", "orbit", "pixel"}

// slugPath is one request of the slug traffic of issue 17: blog posts by
// multi-word slug, files by a random mixed-case name, searches by query,
// and now and then the blog's feed, a static page among the slugs.
func slugPath(r *rand.Rand) string {
	letters := func(n int, set string) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = set[r.IntN(len(set))]
		}
		return string(b)
	}
	switch r.IntN(20) {
	case 0:
		return "/blog/feed"
	case 1, 2, 3, 4, 5, 6:
		return "/blog/" + slugWords[r.IntN(len(slugWords))] + "-" + slugWords[r.IntN(len(slugWords))] + "-" + letters(6, "abcdefghijklmnopqrstuvwxyz")
	case 7, 8, 9, 10, 11, 12, 13:
		return "/files/" + letters(10, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") + ".txt"
	default:
		return "/search?q=" + letters(5, "abcdefghijklmnopqrstuvwxyz")
	}
}

// TestSlugTrafficEndpoints reproduces issue 17's figure: 60,000 requests
// to slug-like paths, through the engine and the real telemetry registry,
// gave 500 report endpoints then an overflow bucket and about 20,600
// series for one app. They now give a few templates, each saying it was
// inferred, and well under 1,000 series.
func TestSlugTrafficEndpoints(t *testing.T) {
	t.Parallel()
	e, err := NewEngine(Config{})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	metrics, err := telemetry.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	tel := metrics.Shadow("shop")
	r := rand.New(rand.NewPCG(17, 60000))
	for range 60000 {
		res := e.Compare(Pair{App: "shop", Request: Request{Method: "GET", Path: slugPath(r)},
			Primary:   Response{Status: 200, Latency: 3 * time.Millisecond},
			Candidate: Response{Status: 200, Latency: 4 * time.Millisecond}})
		tel.Pair(string(res.Direction), res.Endpoint, string(res.Outcome))
		tel.Latency(string(res.Direction), res.Endpoint, res.CandidateLatency, res.PrimaryLatency)
	}
	stats := e.Stats("shop")
	byName := map[string]EndpointStats{}
	for _, s := range stats {
		byName[s.Endpoint] = s
	}
	if len(stats) > 24 {
		t.Errorf("%d report endpoints, want at most 24", len(stats))
	}
	for name, inferred := range map[string]bool{"/blog/:slug": true, "/files/:name.txt": true, "/search": false, "/blog/feed": false} {
		s, ok := byName[name]
		if !ok || s.Requests < 100 || s.Inferred != inferred {
			t.Errorf("endpoint %s: %+v (found %v), want over 100 pairs and inferred %v", name, s.Requests, ok, inferred)
		}
	}
	if series := appSeries(t, reg, "shop"); series >= 1000 {
		t.Errorf("%d metric series for the app, want under 1,000", series)
	} else {
		t.Logf("%d report endpoints, %d metric series", len(stats), series)
	}
}

// appSeries counts the series the registry exposes with label app=app.
func appSeries(t *testing.T, reg *prometheus.Registry, app string) int {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() != "app" || l.GetValue() != app {
					continue
				}
				switch {
				case m.GetHistogram() != nil:
					n += len(m.GetHistogram().GetBucket()) + 3 // the buckets, +Inf, _sum and _count
				default:
					n++
				}
			}
		}
	}
	return n
}

func TestInferTemplates(t *testing.T) {
	slugs := func(prefix string, n int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("%s/%s-%s-x%c", prefix, slugWords[i%10], slugWords[(i/10)%10], 'a'+i%26))
		}
		return out
	}
	tests := []struct {
		name   string
		routes []string
		learn  []string
		path   string
		want   string
	}{
		{"few slugs stay literal", nil, slugs("/blog", 3), "/blog/alpha-alpha-xa", "/blog/alpha-alpha-xa"},
		{"many slugs collapse", nil, slugs("/blog", 10), "/blog/never-seen-before", "/blog/:slug"},
		{"a folded slug goes to the parameter", nil, slugs("/blog", 10), "/blog/alpha-alpha-xa", "/blog/:slug"},
		{"a static sibling stays", nil, append([]string{"/blog/feed"}, slugs("/blog", 10)...), "/blog/feed", "/blog/feed"},
		{"a static sibling seen after stays", nil, slugs("/blog", 10), "/blog/archive", "/blog/archive"},
		{"deeper segments under the parameter", nil, slugs("/blog", 10), "/blog/some-new-post/comments", "/blog/:slug/comments"},
		{"files keep their extension", nil, []string{"/files/QeRtyUiOpA.txt", "/files/ZxCvBnMaSd.txt", "/files/PoIuYtReWq.txt", "/files/LkJhGfDsAq.txt"},
			"/files/MnBvCxZaSd.txt", "/files/:name.txt"},
		{"another extension, another parameter", nil, []string{"/files/QeRtyUiOpA.txt", "/files/ZxCvBnMaSd.txt", "/files/PoIuYtReWq.txt", "/files/LkJhGfDsAq.txt"},
			"/files/MnBvCxZaSd.pdf", "/files/:name.pdf"},
		{"route words stay", nil, []string{"/api/users", "/api/orders", "/api/cart", "/api/search"}, "/api/users", "/api/users"},
		{"many words collapse", nil, words("/users", 30), "/users/zed", "/users/:slug"},
		{"a route wins", []string{"/blog/:post"}, slugs("/blog", 10), "/blog/x-y-z", "/blog/:post"},
		{"identifiers stay :id", nil, slugs("/blog", 10), "/orders/12345", "/orders/:id"},
		{"identifiers stay :id under a parameter position", nil, slugs("/blog", 10), "/blog/12345", "/blog/:id"},
		{"a template names itself", nil, slugs("/blog", 10), "/blog/:slug", "/blog/:slug"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm, err := NewTemplater(tt.routes)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range tt.learn {
				tm.Template(p)
			}
			if got := tm.Template(tt.path); got != tt.want {
				t.Errorf("Template(%q) = %q, want %q", tt.path, got, tt.want)
			}
		})
	}
}

func words(prefix string, n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("%s/user%c%c", prefix, 'a'+i%26, 'a'+i/26))
	}
	return out
}

// TestInferBounded: hostile paths (every request a new deep path) never
// grow the tree past its bound, and every name stays a fixed point.
func TestInferBounded(t *testing.T) {
	t.Parallel()
	tm, err := NewTemplater(nil)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	const alphabet = "abcd.0/:*#-Aq"
	for i := range 300000 {
		var b strings.Builder
		if i%2 == 0 {
			for range 1 + r.IntN(20) {
				fmt.Fprintf(&b, "/w%c%c", 'a'+r.IntN(26), 'a'+r.IntN(26))
			}
		} else {
			for range 1 + r.IntN(30) {
				b.WriteByte(alphabet[r.IntN(len(alphabet))])
			}
		}
		got := tm.Template(b.String())
		if again := tm.Template(got); again != got {
			t.Fatalf("request %d: Template(%q) = %q, but Template(%q) = %q", i, b.String(), got, got, again)
		}
	}
	if n := tm.tree.size(); n > inferMaxNodes {
		t.Errorf("tree has %d nodes, bound %d", n, inferMaxNodes)
	}
}

// TestInferConcurrent: goroutines naming at once (run with -race) agree on
// every name once the tree has settled.
func TestInferConcurrent(t *testing.T) {
	t.Parallel()
	tm, err := NewTemplater(nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 2))
			for range 2000 {
				tm.Template(slugPath(r))
			}
		})
	}
	wg.Wait()
	for _, p := range []string{"/blog/new-post-here", "/files/AbCdEfGhIj.txt", "/search?q=x", "/blog/feed"} {
		want := tm.Template(p)
		for range 4 {
			if got := tm.Template(p); got != want {
				t.Errorf("Template(%q) = %q then %q", p, want, got)
			}
		}
	}
}

// TestInferPositionBounded: whatever a position is sent (words, slugs,
// template-like segments, new extensions), it names a bounded number of
// endpoints.
func TestInferPositionBounded(t *testing.T) {
	t.Parallel()
	tm, err := NewTemplater(nil)
	if err != nil {
		t.Fatal(err)
	}
	names, colon := map[string]bool{}, map[string]bool{}
	for i := range 10000 {
		for _, seg := range []string{
			fmt.Sprintf("w%dx", i), fmt.Sprintf("a-b-%d", i), fmt.Sprintf(":p%d", i), fmt.Sprintf("f.e%d", i%100), fmt.Sprintf("Ab%dCd", i),
		} {
			names[tm.Template("/a/"+seg)] = true
		}
		colon[tm.Template(fmt.Sprintf("/b/:p%d", i))] = true // template-like alone
	}
	if len(colon) > inferMaxValues+1 {
		t.Errorf("%d endpoint names under /b, want %d", len(colon), inferMaxValues+1)
	}
	// 3 values, then 6 words beside the parameter, the fixed ones, one
	// parameter per extension (8) and the extension-less one.
	if len(names) > inferMaxValues+inferMaxStatics+3+inferMaxExts+1 {
		t.Errorf("%d endpoint names under /a, want a bounded few: %v", len(names), names)
	}
}
