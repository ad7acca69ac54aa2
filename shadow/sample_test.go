package shadow

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/migratekit/migrate/lb"
	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/telemetry"
)

// TestStickySampling sends several requests per client at a 50% sample:
// a client is mirrored always or never, whichever side serves it, and both
// kinds exist.
func TestStickySampling(t *testing.T) {
	tests := []struct {
		name   string
		sticky string
		weight int
	}{
		{"by client IP", "ip", 0},
		{"by sticky cookie, minted on the first answer", "cookie", 50},
	}
	const clients, perClient = 40, 3
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old, newB := newBackend(t, "old", nil), newBackend(t, "new", nil)
			app := testApp(old.URL, newB.URL)
			app.TrustedProxies = []string{"127.0.0.1"}
			app.Cutover = manifest.Cutover{Sticky: tt.sticky, Weight: ptr(tt.weight)}
			half := manifest.Percent(0.5)
			app.Shadow.Sample = &half
			e := start(t, app, true)

			served := map[string]int{} // client -> requests served
			for c := range clients {
				hdr := http.Header{"X-Forwarded-For": {fmt.Sprintf("10.0.0.%d", c)}}
				for i := range perClient {
					path := fmt.Sprintf("/c%d/r%d", c, i)
					res := e.do(t, http.MethodGet, path, nil, hdr)
					if sc := res.Header.Get("Set-Cookie"); sc != "" {
						hdr.Set("Cookie", strings.Split(sc, ";")[0])
					}
					served[fmt.Sprintf("/c%d/", c)]++
				}
			}
			waitFor(t, "every request judged or not sampled", func() bool {
				notSampled := 0.0
				for _, dir := range []string{"old_to_new", "new_to_old"} {
					notSampled += metric(t, e.reg, "migrate_shadow_not_sampled_total", map[string]string{"app": "web", "direction": dir})
				}
				return e.cmp.total()+int(notSampled) == clients*perClient
			})

			mirrored := map[string]int{} // client -> requests mirrored, to either side
			for _, b := range []*backend{old, newB} {
				for _, r := range b.requests() {
					if r.Header.Get(Header) == "1" {
						mirrored[r.Path[:strings.Index(r.Path[1:], "/")+2]]++
					}
				}
			}
			always, never := 0, 0
			for c, n := range served {
				switch mirrored[c] {
				case n:
					always++
				case 0:
					never++
				default:
					t.Errorf("client %s: %d of its %d requests were mirrored", c, mirrored[c], n)
				}
			}
			if always == 0 || never == 0 {
				t.Errorf("at 50%%: %d clients always mirrored, %d never; want some of each", always, never)
			}
		})
	}
}

func TestSampleRates(t *testing.T) {
	tests := []struct {
		name   string
		sample manifest.Percent
		want   func(n int) bool
	}{
		{"0% mirrors nobody", 0, func(n int) bool { return n == 0 }},
		{"100% mirrors everybody", 1, func(n int) bool { return n == 1000 }},
		{"10% mirrors about a tenth", 0.1, func(n int) bool { return n > 60 && n < 140 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := testApp("http://127.0.0.1:1", "http://127.0.0.1:2")
			app.Shadow.Sample = &tt.sample
			m, err := New(app, Options{Comparer: newFakeComparer()})
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for i := range 1000 {
				r, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
				r.RemoteAddr = fmt.Sprintf("10.%d.%d.1:1234", i/256, i%256)
				if m.sampled(nil, r) {
					n++
				}
			}
			if !tt.want(n) {
				t.Errorf("sampled %d clients of 1000", n)
			}
		})
	}
}

// TestSampleIndependentOfSplit checks that the sample is not the split's
// first clients: at weight s% and sample s%, old keeps clients to mirror.
func TestSampleIndependentOfSplit(t *testing.T) {
	sampled := 0
	for i := range 10000 {
		key := fmt.Sprintf("10.%d.%d.%d", i/65536, i/256%256, i%256)
		onOld := lb.StickyPoint(key) >= 50*(lb.PointScale/100)
		if onOld && samplePoint(key) < lb.PointScale/2 {
			sampled++
		}
	}
	if sampled < 2000 || sampled > 3000 {
		t.Errorf("at weight 50%% and sample 50%%, %d of 10000 clients are on old and sampled; want about 2500", sampled)
	}
}

// TestLeaves checks what the mirror tells lb's event loops (lb.Sampler):
// it leaves the requests of clients out of the sample, of a side it does
// not mirror and of a stopped mirror alone, takes the sampled ones, counts only the
// first kind as not sampled (as Serve does), and names its marker header.
func TestLeaves(t *testing.T) {
	old, newB := newBackend(t, "old", nil), newBackend(t, "new", nil)
	app := testApp(old.URL, newB.URL)
	half := manifest.Percent(0.5)
	app.Shadow.Sample = &half
	e := start(t, app, true)
	m := e.mirror
	left := 0
	for c := range 200 {
		key := []byte(fmt.Sprintf("10.0.%d.%d", c/250, c%250))
		want := samplePoint(key) >= m.sample
		if got := m.Leaves(telemetry.SideOld, key); got != want {
			t.Fatalf("Leaves(old, %s) = %v, want %v", key, got, want)
		}
		if want {
			left++
		}
	}
	if left == 0 || left == 200 {
		t.Fatalf("%d of 200 clients left alone at a 50%% sample, want some of each", left)
	}
	other := lb.Sampler(m)
	if !other.Leaves("sideways", []byte("10.0.0.1")) {
		t.Error("a request of no side is not left alone")
	}
	if got := metric(t, e.reg, "migrate_shadow_not_sampled_total", map[string]string{"app": "web", "direction": "old_to_new"}); got != float64(left) {
		t.Errorf("not sampled = %v, want %d (the clients out of the sample only)", got, left)
	}
	if m.Marker() != Header {
		t.Errorf("Marker() = %q, want %q", m.Marker(), Header)
	}
}
