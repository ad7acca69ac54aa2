package shadow

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/migratekit/migrate/compare"
	"github.com/migratekit/migrate/manifest"
)

// paths are the two ways the proxy hands requests to a Mirror: the event
// loops (Leaves, BeginPrimary) and net/http (Serve).
var paths = []struct {
	name    string
	netHTTP bool
}{{"loops", false}, {"net/http", true}}

// TestDirections runs clients through a real proxy at weights 0, 50 and
// 100 and checks, for each shadow.direction, which of them are mirrored
// and where: by default a sampled client is mirrored to the other side of
// the one that serves it, whatever the weight, each pair labelled with
// its direction; forward and reverse keep one direction. The mirrored
// requests are counted as the candidate side's mirrored answers, never as
// requests it served.
func TestDirections(t *testing.T) {
	tests := []struct {
		direction string
		weight    int
		mirrors   map[string]bool // serving side -> its clients are mirrored
	}{
		{"both", 0, map[string]bool{"old": true}},
		{"both", 50, map[string]bool{"old": true, "new": true}},
		{"both", 100, map[string]bool{"new": true}},
		{"", 50, map[string]bool{"old": true, "new": true}}, // a manifest built in Go: both
		{"forward", 0, map[string]bool{"old": true}},
		{"forward", 50, map[string]bool{"old": true}},
		{"forward", 100, map[string]bool{}},
		{"reverse", 0, map[string]bool{}},
		{"reverse", 50, map[string]bool{"new": true}},
		{"reverse", 100, map[string]bool{"new": true}},
	}
	for _, path := range paths {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/%q at %d", path.name, tt.direction, tt.weight), func(t *testing.T) {
				t.Parallel()
				checkDirection(t, path.netHTTP, tt.direction, tt.weight, tt.mirrors)
			})
		}
	}
}

func checkDirection(t *testing.T, netHTTP bool, direction string, weight int, mirrors map[string]bool) {
	old, newB := newBackend(t, "old", nil), newBackend(t, "new", nil)
	app := testApp(old.URL, newB.URL)
	app.Shadow.Direction = direction
	app.Cutover.Weight = ptr(weight)
	app.TrustedProxies = []string{"127.0.0.1"}
	e := &env{cmp: newFakeComparer(), sink: &fakeSink{}, netHTTP: netHTTP}
	startWith(t, app, e, e.cmp, e.sink)

	const clients = 40
	served := map[string]int{}    // side -> requests it served
	wantPairs := map[string]int{} // direction -> pairs
	for c := range clients {
		res := e.do(t, http.MethodGet, fmt.Sprintf("/c%d", c), nil, http.Header{"X-Forwarded-For": {fmt.Sprintf("10.0.0.%d", c)}})
		side := res.Header.Get("X-Migrate-Side")
		if want := side + " GET " + fmt.Sprintf("/c%d", c); res.Body != want {
			t.Fatalf("client %d got %q, want %q", c, res.Body, want)
		}
		served[side]++
		if mirrors[side] {
			wantPairs[map[string]string{"old": "old_to_new", "new": "new_to_old"}[side]]++
		}
	}
	if weight == 50 && (served["old"] == 0 || served["new"] == 0) {
		t.Fatalf("at weight 50 the split served %v: want clients on both sides", served)
	}
	total := wantPairs["old_to_new"] + wantPairs["new_to_old"]
	waitFor(t, fmt.Sprintf("%d pairs judged", total), func() bool { return e.cmp.total() == total })
	e.stop() // nothing else may be in flight

	gotPairs := map[string]int{}
	for _, p := range e.cmp.seenPairs() {
		primary, candidate := p.Direction.Sides()
		gotPairs[string(p.Direction)]++
		if got, want := string(p.Primary.Body), primary+" GET "+p.Request.Path; got != want {
			t.Errorf("%s pair: primary %q, want %q", p.Direction, got, want)
		}
		if got, want := string(p.Candidate.Body), candidate+" GET "+p.Request.Path; got != want {
			t.Errorf("%s pair: candidate %q, want %q", p.Direction, got, want)
		}
	}
	// Each side got its own clients, and the mirrors of the other side's.
	mirroredTo := map[string]int{"old": wantPairs["new_to_old"], "new": wantPairs["old_to_new"]}
	got := []any{gotPairs, shadowHits(old), shadowHits(newB)}
	want := []any{nonZero(wantPairs), mirroredTo["old"], mirroredTo["new"]}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("[pairs by direction, mirrors old got, mirrors new got] (-got +want):\n%s", diff)
	}
	for _, dir := range []string{"old_to_new", "new_to_old"} {
		l := map[string]string{"app": "web", "direction": dir, "endpoint": "/fake", "outcome": "diff"}
		if got := metric(t, e.reg, "migrate_shadow_pairs_total", l); got != float64(wantPairs[dir]) {
			t.Errorf("migrate_shadow_pairs_total%v = %v, want %d", l, got, wantPairs[dir])
		}
	}
	for _, side := range []string{"old", "new"} {
		l := map[string]string{"app": "web", "side": side, "code_class": "2xx"}
		if got := metric(t, e.reg, "migrate_shadow_mirrored_requests_total", l); got != float64(mirroredTo[side]) {
			t.Errorf("migrate_shadow_mirrored_requests_total%v = %v, want %d", l, got, mirroredTo[side])
		}
		if got := metric(t, e.reg, "migrate_proxy_requests_total", l); got != float64(served[side]) {
			t.Errorf("migrate_proxy_requests_total%v = %v, want %d: the clients it served, no mirror", l, got, served[side])
		}
	}
}

// shadowHits counts the mirrored requests a backend got.
func shadowHits(b *backend) int {
	n := 0
	for _, r := range b.requests() {
		if r.Header.Get(Header) == "1" {
			n++
		}
	}
	return n
}

func nonZero(m map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

// TestMirroredAnswersCounted: in the shadow phase new serves no client,
// and its answers to the mirrored requests are all it gives; a 5xx there
// and a mirror it never answers are counted for new, as mirrored, while
// its served requests stay at zero.
func TestMirroredAnswersCounted(t *testing.T) {
	for _, path := range paths {
		t.Run(path.name, func(t *testing.T) {
			t.Parallel()
			old := newBackend(t, "old", nil)
			newB := newBackend(t, "new", func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/slow" {
					<-r.Context().Done() // past shadow.timeout: no answer
					return
				}
				w.WriteHeader(http.StatusServiceUnavailable)
			})
			app := testApp(old.URL, newB.URL)
			app.Cutover.Weight = ptr(0)
			app.Shadow.Timeout = manifest.Duration(200 * time.Millisecond)
			e := &env{cmp: newFakeComparer(), sink: &fakeSink{}, netHTTP: path.netHTTP}
			startWith(t, app, e, e.cmp, e.sink)
			const n = 6
			for range n {
				e.do(t, http.MethodGet, "/x", nil, nil)
			}
			e.do(t, http.MethodGet, "/slow", nil, nil)
			e.settle(t, n+1)
			compared, _ := e.cmp.counts()
			if compared[compare.OutcomeDiff] != n || compared[compare.OutcomeShadowTimeout] != 1 {
				t.Errorf("outcomes %v, want %d diff and 1 shadow_timeout", compared, n)
			}
			for _, tt := range []struct {
				name   string
				labels map[string]string
				want   float64
			}{
				{"new's mirrored 5xx", map[string]string{"app": "web", "side": "new", "code_class": "5xx"}, n},
				{"new's mirror without an answer", map[string]string{"app": "web", "side": "new", "code_class": "none"}, 1},
				{"new's 5xx answers timed", map[string]string{"app": "web", "side": "new"}, n},
			} {
				name := "migrate_shadow_mirrored_requests_total"
				if _, ok := tt.labels["code_class"]; !ok {
					name = "migrate_shadow_mirrored_request_duration_seconds"
				}
				if got := metric(t, e.reg, name, tt.labels); got != tt.want {
					t.Errorf("%s: %s%v = %v, want %v", tt.name, name, tt.labels, got, tt.want)
				}
			}
			for _, class := range []string{"2xx", "5xx"} {
				l := map[string]string{"app": "web", "side": "new", "code_class": class}
				if got := metric(t, e.reg, "migrate_proxy_requests_total", l); got != 0 {
					t.Errorf("migrate_proxy_requests_total%v = %v, want 0: new served no client", l, got)
				}
			}
		})
	}
}

// TestUnmirroredSideSaysSo: with shadow.direction forward, the first
// request of a client served by new says in the log that such clients are
// not mirrored (once), so that diffs do not stop without a word once the
// cutover moves clients.
func TestUnmirroredSideSaysSo(t *testing.T) {
	var logs bytes.Buffer
	app := testApp("http://127.0.0.1:1", "http://127.0.0.1:2")
	app.Shadow.Direction = "forward"
	m, err := New(app, Options{Comparer: newFakeComparer(), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if !m.Leaves("new", []byte("10.0.0.1")) {
			t.Fatal("a client served by new is mirrored under direction forward")
		}
		m.Leaves("old", []byte("10.0.0.1"))
	}
	got := logs.String()
	if n := strings.Count(got, "clients served by this side are not mirrored: shadow.direction is forward"); n != 1 || !strings.Contains(got, "side=new") {
		t.Errorf("log %q: want the new side said not mirrored, once", got)
	}
}
