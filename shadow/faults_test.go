package shadow

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/migratekit/migrate/compare"
	"github.com/migratekit/migrate/manifest"
)

// faultyNew starts a new side that misbehaves in one way and returns its
// URL.
type faultyNew func(t *testing.T) string

func downServer(t *testing.T) string {
	b := newBackend(t, "down", nil)
	b.Close() // nothing listens there any more
	return b.URL
}

func hangingServer(t *testing.T) string {
	return newBackend(t, "hang", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // until the mirror's deadline closes the connection
	}).URL
}

func resettingServer(t *testing.T) string {
	return newBackend(t, "reset", func(w http.ResponseWriter, r *http.Request) {
		c, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijacking: %v", err)
			return
		}
		c.(*net.TCPConn).SetLinger(0) // RST instead of FIN
		c.Close()
	}).URL
}

// garbageServer answers every connection with bytes that are not HTTP.
func garbageServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				buf := make([]byte, 4096)
				c.Read(buf)
				io.WriteString(c, "\x00\x01garbage, not HTTP at all\r\n\r\n")
			})
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return "http://" + ln.Addr().String()
}

func slowServer(d time.Duration) faultyNew {
	return func(t *testing.T) string {
		return newBackend(t, "old", func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(d)
			answer(w, r, "old")
		}).URL
	}
}

// answer is the reply of the old backend in these tests.
func answer(w http.ResponseWriter, r *http.Request, name string) {
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("X-Backend", name)
	fmt.Fprintf(w, "%s %s %s", name, r.Method, r.URL.RequestURI())
}

// TestFaultyCandidate checks that whatever the new side does, the served
// path gives the same answers as without a mirror, and the mirror's
// outcome says what happened.
func TestFaultyCandidate(t *testing.T) {
	primaryDelay := 2 * time.Millisecond
	tests := []struct {
		name    string
		newSide faultyNew
		timeout time.Duration
		want    compare.Outcome
	}{
		{"down", downServer, 5 * time.Second, compare.OutcomeShadowError},
		{"hanging", hangingServer, 200 * time.Millisecond, compare.OutcomeShadowTimeout},
		{"resetting connections", resettingServer, 5 * time.Second, compare.OutcomeShadowError},
		{"answering garbage", garbageServer, 5 * time.Second, compare.OutcomeShadowError},
		{"10x slower", slowServer(10 * primaryDelay), 5 * time.Second, compare.OutcomeMatch},
	}
	const n = 12
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := newBackend(t, "old", func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(primaryDelay)
				answer(w, r, "old")
			})
			app := testApp(old.URL, tt.newSide(t))
			app.Shadow.Timeout = manifest.Duration(tt.timeout)
			direct := start(t, app, false)
			e := start(t, app, true)

			for i := range n {
				path := fmt.Sprintf("/items/%d?q=%d", i, i)
				got, want := e.do(t, http.MethodGet, path, nil, nil), direct.do(t, http.MethodGet, path, nil, nil)
				if diff := cmp.Diff(got, want); diff != "" {
					t.Fatalf("GET %s through the mirror differs from the direct answer (-got +want):\n%s", path, diff)
				}
			}
			e.settle(t, n)
			// A down side is judged or, once its breaker is open, recorded
			// without a mirror: shadow_error either way.
			if diff := cmp.Diff(e.cmp.all(), map[compare.Outcome]int{tt.want: n}); diff != "" {
				t.Errorf("outcomes (-got +want):\n%s", diff)
			}
			if got := metric(t, e.reg, "migrate_shadow_pairs_total", map[string]string{"app": "web", "direction": "old_to_new", "endpoint": "/fake", "outcome": string(tt.want)}); got != n {
				t.Errorf("migrate_shadow_pairs_total{outcome=%s} = %v, want %d", tt.want, got, n)
			}
			wantTimed := 0.0 // mirror latencies are recorded for answers only
			if tt.want == compare.OutcomeMatch {
				wantTimed = n
			}
			for _, name := range []string{"migrate_shadow_mirror_duration_seconds", "migrate_shadow_latency_delta_seconds"} {
				if got := metric(t, e.reg, name, map[string]string{"app": "web", "direction": "old_to_new", "endpoint": "/fake"}); got != wantTimed {
					t.Errorf("%s count = %v, want %v", name, got, wantTimed)
				}
			}
			for _, reason := range []string{"unavailable", "no_backend", "connect", "timeout", "bad_gateway", "canceled"} {
				if got := metric(t, e.reg, "migrate_proxy_errors_total", map[string]string{"app": "web", "side": "old", "reason": reason}); got != 0 {
					t.Errorf("served path errors{reason=%s} = %v, want 0", reason, got)
				}
			}
		})
	}
}

// TestServedPathNeverWaits holds every mirror at a new side that answers
// only when told to: each served request must complete while its mirror
// is still pending. It logs the served p99 with and without the mirror
// (for the record; the assertion is on ordering, not on time).
func TestServedPathNeverWaits(t *testing.T) {
	release := make(chan struct{})
	newB := newBackend(t, "new", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		answer(w, r, "new")
	})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free) // before the backend closes
	old := newBackend(t, "old", func(w http.ResponseWriter, r *http.Request) { answer(w, r, "old") })
	app := testApp(old.URL, newB.URL)
	app.Shadow.Timeout = manifest.Duration(time.Minute)
	direct := start(t, app, false)
	e := start(t, app, true)

	const n = 40
	var without, with []time.Duration
	for i := range n {
		path := fmt.Sprintf("/items/%d", i)
		t0 := time.Now()
		direct.do(t, http.MethodGet, path, nil, nil)
		without = append(without, time.Since(t0))
		t0 = time.Now()
		got := e.do(t, http.MethodGet, path, nil, nil)
		with = append(with, time.Since(t0))
		if got.Status != http.StatusOK || got.Body != "old GET "+path {
			t.Fatalf("GET %s: got %d %q", path, got.Status, got.Body)
		}
		if judged := e.cmp.total(); judged != 0 {
			t.Fatalf("after %d served requests, %d pairs were judged while every mirror is held", i+1, judged)
		}
	}
	waitFor(t, "every mirror to reach the held new side", func() bool { return newB.hits() == n })
	if got := e.mirror.Stats().Pending; got != n {
		t.Errorf("pending pairs with every served request done: got %d, want %d", got, n)
	}
	t.Logf("served p99 without mirror %v, with a held mirror %v", p99(without), p99(with))

	free()
	// The sink is last in line: once it has every pair, all were judged.
	waitFor(t, "every pair kept by the sink (every one differs)", func() bool { return e.sink.added.Load() == n })
	compared, _ := e.cmp.counts()
	if diff := cmp.Diff(compared, map[compare.Outcome]int{compare.OutcomeDiff: n}); diff != "" {
		t.Errorf("outcomes once released (-got +want):\n%s", diff)
	}
}

func p99(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)*99+99)/100-1]
}
