package lb

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"sync"
	"testing"

	"github.com/migratekit/migrate/manifest"
)

// ipKeys are n distinct clients behind the trusted proxy 127.0.0.1.
func ipKeys(n int) []http.Header {
	keys := make([]http.Header, n)
	for i := range keys {
		keys[i] = http.Header{"X-Forwarded-For": {fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)}}
	}
	return keys
}

// cookieKeys are n distinct clients with a sticky cookie.
func cookieKeys(n int) []http.Header {
	keys := make([]http.Header, n)
	for i := range keys {
		keys[i] = http.Header{"Cookie": {fmt.Sprintf("theme=dark; migrate_sticky=client-%08d", i)}}
	}
	return keys
}

// splitApp is an app whose old and new backends name themselves, sticky by
// IP (trusting the loopback proxy) or by cookie.
func splitApp(t *testing.T, sticky string, weight int) *manifest.App {
	a := testApp(newBackend(t, "old"), newBackend(t, "new"))
	a.TrustedProxies = []string{"127.0.0.1"}
	a.Cutover = manifest.Cutover{Weight: ptr(weight), Sticky: sticky}
	return a
}

// sidesOf returns the backend that served each key, fetching in parallel.
func (r *running) sidesOf(t *testing.T, keys []http.Header) []string {
	t.Helper()
	out := make([]string, len(keys))
	var wg sync.WaitGroup
	const workers = 8
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(keys); i += workers {
				req, _ := http.NewRequest(http.MethodGet, r.base+"/", nil)
				req.Header = keys[i].Clone()
				res, err := r.client.Do(req)
				if err != nil {
					t.Errorf("GET: %v", err)
					return
				}
				res.Body.Close()
				out[i] = res.Header.Get("X-Backend")
			}
		})
	}
	wg.Wait()
	return out
}

func count(sides []string, name string) int {
	n := 0
	for _, s := range sides {
		if s == name {
			n++
		}
	}
	return n
}

func TestSplitWeights(t *testing.T) { forEachPath(t, testSplitWeights) }

func testSplitWeights(t *testing.T, path dataPath) {
	for _, mode := range []struct {
		sticky string
		keys   []http.Header
	}{{"ip", ipKeys(1000)}, {"cookie", cookieKeys(1000)}} {
		r := start(t, path, oneApp(splitApp(t, mode.sticky, 0)), Options{})
		for _, weight := range []int{0, 10, 50, 90, 100} {
			t.Run(fmt.Sprintf("%s/weight=%d", mode.sticky, weight), func(t *testing.T) {
				if err := r.p.App("web").SetWeight(weight); err != nil {
					t.Fatal(err)
				}
				sides := r.sidesOf(t, mode.keys)
				got, want := count(sides, "new"), weight*len(mode.keys)/100
				if got+count(sides, "old") != len(mode.keys) {
					t.Fatalf("only %d of %d requests were served", got+count(sides, "old"), len(mode.keys))
				}
				tolerance := 50 // ±5 points of 1000
				if weight == 0 || weight == 100 {
					tolerance = 0
				}
				if got < want-tolerance || got > want+tolerance {
					t.Errorf("%d of %d clients on new, want %d±%d", got, len(mode.keys), want, tolerance)
				}
			})
		}
	}
}

func TestStickiness(t *testing.T) { forEachPath(t, testStickiness) }

func testStickiness(t *testing.T, path dataPath) {
	r := start(t, path, oneApp(splitApp(t, "ip", 50)), Options{})
	keys := ipKeys(200)
	first := r.sidesOf(t, keys)
	for round := 1; round < 10; round++ {
		again := r.sidesOf(t, keys)
		for i := range keys {
			if again[i] != first[i] {
				t.Fatalf("round %d: client %s moved from %s to %s", round, keys[i].Get("X-Forwarded-For"), first[i], again[i])
			}
		}
	}
	if n := count(first, "new"); n == 0 || n == len(keys) {
		t.Errorf("%d of %d clients on new at weight 50: the split is not splitting", n, len(keys))
	}
}

func TestCookieStickiness(t *testing.T) { forEachPath(t, testCookieStickiness) }

func testCookieStickiness(t *testing.T, path dataPath) {
	r := start(t, path, oneApp(splitApp(t, "cookie", 50)), Options{})
	sides := map[string]int{}
	for c := range 40 {
		jar, err := cookiejar.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		client := &http.Client{Transport: r.client.Transport, Jar: jar}
		var first, cookie string
		for i := range 10 {
			res, err := client.Get(r.base + "/")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			set := res.Header.Values("Set-Cookie")
			side := res.Header.Get("X-Backend")
			if i == 0 {
				if len(set) != 1 {
					t.Fatalf("client %d: first response sets cookies %q, want one", c, set)
				}
				for _, attr := range []string{"migrate_sticky=", "Path=/", "HttpOnly", "SameSite=Lax", "Max-Age="} {
					if !strings.Contains(set[0], attr) {
						t.Errorf("Set-Cookie %q lacks %q", set[0], attr)
					}
				}
				if strings.Contains(set[0], "Secure") {
					t.Errorf("Set-Cookie %q is Secure on a plain HTTP listener", set[0])
				}
				first, cookie = side, set[0]
				sides[side]++
				continue
			}
			if len(set) != 0 {
				t.Errorf("client %d request %d: cookie set again: %q", c, i, set)
			}
			if side != first {
				t.Fatalf("client %d (%s) moved from %s to %s on request %d", c, cookie, first, side, i)
			}
		}
	}
	if sides["old"] == 0 || sides["new"] == 0 {
		t.Errorf("sides of 40 new clients at weight 50: %v, want both used", sides)
	}
}

func TestWeightMonotonic(t *testing.T) { forEachPath(t, testWeightMonotonic) }

func testWeightMonotonic(t *testing.T, path dataPath) {
	r := start(t, path, oneApp(splitApp(t, "ip", 20)), Options{})
	app := r.p.App("web")
	keys := ipKeys(1000)
	tests := []struct {
		name         string
		from, to     int
		mustNotLeave string // a client on this side must stay there
	}{
		{"raise 20 to 50", 20, 50, "new"},
		{"lower 50 to 20", 50, 20, "old"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := app.SetWeight(tt.from); err != nil {
				t.Fatal(err)
			}
			before := r.sidesOf(t, keys)
			if err := app.SetWeight(tt.to); err != nil {
				t.Fatal(err)
			}
			after := r.sidesOf(t, keys)
			moved := 0
			for i := range keys {
				if before[i] != after[i] {
					moved++
				}
				if before[i] == tt.mustNotLeave && after[i] != tt.mustNotLeave {
					t.Errorf("client %s moved from %s to %s", keys[i].Get("X-Forwarded-For"), before[i], after[i])
				}
			}
			if moved < 200 || moved > 400 {
				t.Errorf("%d of 1000 clients moved, want about 300", moved)
			}
		})
	}
}

func TestSetWeightNextRequest(t *testing.T) { forEachPath(t, testSetWeightNextRequest) }

func testSetWeightNextRequest(t *testing.T, path dataPath) {
	metrics, reg := newMetrics(t)
	r := start(t, path, oneApp(splitApp(t, "ip", 0)), Options{Metrics: metrics})
	app := r.p.App("web")
	tests := []struct {
		weight  int
		want    string
		wantErr error
	}{
		{100, "new", nil},
		{0, "old", nil},
		{101, "old", ErrWeightRange},
		{-1, "old", ErrWeightRange},
		{100, "new", nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.weight), func(t *testing.T) {
			if err := app.SetWeight(tt.weight); !errors.Is(err, tt.wantErr) {
				t.Fatalf("SetWeight(%d) = %v, want %v", tt.weight, err, tt.wantErr)
			}
			if got, _ := r.get(t, nil); got != tt.want {
				t.Errorf("next request served by %q, want %q", got, tt.want)
			}
		})
	}
	if got := app.Weight(); got != 100 {
		t.Errorf("Weight() = %d, want 100", got)
	}
	if got := metricValue(t, reg, "migrate_cutover_weight", map[string]string{"app": "web"}); got != 100 {
		t.Errorf("migrate_cutover_weight = %v, want 100", got)
	}
}

func TestInitialWeight(t *testing.T) {
	t.Parallel()
	oldB, newB := newBackend(t, "old"), newBackend(t, "new")
	tests := []struct {
		name     string
		manifest *int
		override map[string]int
		want     int
		wantErr  error
	}{
		{"unset", nil, nil, 0, nil},
		{"manifest", ptr(30), nil, 30, nil},
		{"state store overrides", ptr(30), map[string]int{"web": 70}, 70, nil},
		{"override to zero", ptr(30), map[string]int{"web": 0}, 0, nil},
		{"out of range", ptr(130), nil, 0, ErrWeightRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := testApp(oldB, newB)
			a.Cutover.Weight = tt.manifest
			p, err := New(oneApp(a), nil, Options{Weights: tt.override})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("New: %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if got := p.App("web").Weight(); got != tt.want {
				t.Errorf("Weight() = %d, want %d", got, tt.want)
			}
		})
	}
}
