package shadow

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jonboulle/clockwork"

	"github.com/migratekit/migrate/compare"
)

// countDials makes s count its connection attempts in n.
func countDials(s *Sender, n *atomic.Int64) {
	dial := s.dial
	s.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		n.Add(1)
		return dial(ctx, network, addr)
	}
}

// closedPort returns an address on loopback where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// tally is what a run of sends got.
type tally struct {
	Dials    int64 // connection attempts
	Answered int   // an HTTP answer
	Failed   int   // an error after trying
	Skipped  int   // ErrBreakerOpen, without trying
}

// sendN sends n GETs one after the other and tallies them.
func sendN(t *testing.T, s *Sender, dials *atomic.Int64, n int) tally {
	t.Helper()
	before := dials.Load()
	var got tally
	for range n {
		a := s.Send(context.Background(), &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/a"}, Header: http.Header{}, Host: "shop.test"})
		switch {
		case errors.Is(a.Err, ErrBreakerOpen):
			got.Skipped++
		case a.Err != nil:
			got.Failed++
		default:
			got.Answered++
		}
		a.Release()
	}
	got.Dials = dials.Load() - before
	return got
}

// TestSenderBreaker sends to a closed port on a fake clock: the breaker
// opens after 5 refused connections, turns requests away without a dial
// during each backoff (jittered down by at most a fifth), probes once after
// it, doubles it when the probe fails, and closes when the side is back.
func TestSenderBreaker(t *testing.T) {
	addr := closedPort(t)
	clock := clockwork.NewFakeClock()
	s, err := NewSender([]string{"http://" + addr}, SenderOptions{Clock: clock, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.CloseIdleConnections()
	var dials atomic.Int64
	countDials(s, &dials)

	steps := []struct {
		name    string
		advance time.Duration
		up      bool // start the side on addr before this step
		sends   int
		want    tally
	}{
		{name: "refused up to the threshold", sends: 5, want: tally{Dials: 5, Failed: 5}},
		{name: "open: no dial", sends: 20, want: tally{Skipped: 20}},
		{name: "before the shortest 1s backoff", advance: 799 * time.Millisecond, sends: 3, want: tally{Skipped: 3}},
		{name: "one probe after 1s", advance: 201 * time.Millisecond, sends: 3, want: tally{Dials: 1, Failed: 1, Skipped: 2}},
		{name: "before the shortest 2s backoff", advance: 1599 * time.Millisecond, sends: 3, want: tally{Skipped: 3}},
		{name: "one probe after 2s", advance: 401 * time.Millisecond, sends: 3, want: tally{Dials: 1, Failed: 1, Skipped: 2}},
		{name: "side back, still backing off 4s", up: true, advance: 3199 * time.Millisecond, sends: 3, want: tally{Skipped: 3}},
		{name: "probe answered: closed", advance: 801 * time.Millisecond, sends: 5, want: tally{Dials: 1, Answered: 5}},
	}
	parent := t
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.up {
				serveOn(parent, addr) // up for the rest of the test
			}
			clock.Advance(st.advance)
			if diff := cmp.Diff(sendN(t, s, &dials, st.sends), st.want); diff != "" {
				t.Errorf("sends (-got +want):\n%s", diff)
			}
		})
	}
}

// serveOn starts an answering backend on addr, for the rest of the test.
func serveOn(t *testing.T, addr string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listening again on %s: %v", addr, err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "back")
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
}

// TestSenderBreakerPassesOver has one backend of two down: after its
// threshold the round robin sends everything to the other one.
func TestSenderBreakerPassesOver(t *testing.T) {
	up := newBackend(t, "up", nil)
	s, err := NewSender([]string{"http://" + closedPort(t), up.URL}, SenderOptions{Clock: clockwork.NewFakeClock()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.CloseIdleConnections()
	var dials atomic.Int64
	countDials(s, &dials)
	got := sendN(t, s, &dials, 30)
	if diff := cmp.Diff(got, tally{Dials: 6, Failed: 5, Answered: 25}); diff != "" {
		t.Errorf("30 sends (-got +want):\n%s", diff)
	}
}

// TestBreakerOff never opens a breaker with a negative threshold.
func TestBreakerOff(t *testing.T) {
	s, err := NewSender([]string{"http://" + closedPort(t)}, SenderOptions{Clock: clockwork.NewFakeClock(), BreakerFailures: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.CloseIdleConnections()
	var dials atomic.Int64
	countDials(s, &dials)
	if diff := cmp.Diff(sendN(t, s, &dials, 12), tally{Dials: 12, Failed: 12}); diff != "" {
		t.Errorf("12 sends (-got +want):\n%s", diff)
	}
}

// TestBreakerBackoff checks the backoff after each failed probe: doubling
// from 1s, capped at 30s, jittered down by at most a fifth; and a success
// starts over from 1s.
func TestBreakerBackoff(t *testing.T) {
	clock := clockwork.NewFakeClock()
	b := newBreaker(2, clock)
	refused := errors.New("connection refused")
	b.dialed(refused)
	if ok, _ := b.allow(); !ok {
		t.Fatal("open after 1 failure, want closed until 2")
	}
	b.dialed(refused)
	var got []time.Duration
	for range 8 {
		got = append(got, b.backoff)
		if d := b.until.Sub(clock.Now()); d <= b.backoff*4/5 || d > b.backoff {
			t.Errorf("backoff %v lasts %v, want in (%v, %v]", b.backoff, d, b.backoff*4/5, b.backoff)
		}
		clock.Advance(b.until.Sub(clock.Now()))
		ok, probe := b.allow()
		if !ok || probe == 0 {
			t.Fatalf("after the backoff: allow = %v, probe %d; want a probe", ok, probe)
		}
		if ok, _ := b.allow(); ok {
			t.Fatal("a second request went through during the probe")
		}
		b.dialed(refused)
		b.probed(probe, false)
	}
	s := time.Second
	if diff := cmp.Diff(got, []time.Duration{s, 2 * s, 4 * s, 8 * s, 16 * s, 30 * s, 30 * s, 30 * s}); diff != "" {
		t.Errorf("backoffs (-got +want):\n%s", diff)
	}
	b.dialed(nil)
	b.dialed(refused)
	b.dialed(refused)
	if b.backoff != time.Second || !b.blocked() {
		t.Errorf("after a success and 2 failures: backoff %v, blocked %v; want 1s, true", b.backoff, b.blocked())
	}
}

// TestMirrorDeadCandidate mirrors to a candidate side where nothing
// listens: past the breaker's threshold the sampled requests are served and
// counted shadow_error without a mirror or a dial.
func TestMirrorDeadCandidate(t *testing.T) {
	old := newBackend(t, "old", nil)
	var dials atomic.Int64
	e := &env{cmp: newFakeComparer(), sink: &fakeSink{}, clock: clockwork.NewFakeClock()}
	e.prepare = func(m *Mirror) { countDials(m.flows[sideOld].to, &dials) }
	startWith(t, testApp(old.URL, "http://"+closedPort(t)), e, e.cmp, e.sink)
	const n = 12
	for i := range n {
		if got := e.do(t, http.MethodGet, "/a", nil, nil); got.Status != http.StatusOK {
			t.Fatalf("GET /a: status %d", got.Status)
		}
		e.settle(t, i+1) // one at a time, so that the breaker sees each failure
	}
	compared, recorded := e.cmp.counts()
	got := []any{compared, recorded, dials.Load()}
	want := []any{map[compare.Outcome]int{compare.OutcomeShadowError: 5}, map[compare.Outcome]int{compare.OutcomeShadowError: n - 5}, int64(5)}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("[compared, recorded, dials] (-got +want):\n%s", diff)
	}
	if got := metric(t, e.reg, "migrate_shadow_pairs_total", map[string]string{"app": "web", "direction": "old_to_new", "endpoint": "/fake", "outcome": "shadow_error"}); got != n {
		t.Errorf("migrate_shadow_pairs_total{outcome=shadow_error} = %v, want %d", got, n)
	}
	if got := old.hits(); got != n {
		t.Errorf("old served %d requests, want %d", got, n)
	}
}
