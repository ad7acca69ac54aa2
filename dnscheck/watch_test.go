package dnscheck

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jonboulle/clockwork"

	"github.com/migratekit/migrate/manifest"
	"github.com/migratekit/migrate/state"
)

// gaugeRecorder keeps the last gauges of each record.
type gaugeRecorder struct {
	mu   sync.Mutex
	last map[string][3]float64
}

func (g *gaugeRecorder) DNSRecord(app, record string, propagated, agreement, eta float64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.last == nil {
		g.last = map[string][3]float64{}
	}
	g.last[app+" "+record] = [3]float64{propagated, agreement, eta}
}

func (g *gaugeRecorder) get(k string) [3]float64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.last[k]
}

// TestWatch: rounds back off from the interval to the maximum while
// nothing changes and start over on a change; a record becoming
// propagated and regressing are events in a real state store; the gauges
// follow.
func TestWatch(t *testing.T) {
	const name, oldIP, newIP = "www.example.test.", "198.51.100.7", "192.0.2.10"
	z := newZone(1, rr(name, 60, "A", oldIP))
	auth := startServer(t, "127.0.0.53", z, behaveNormal)
	res := startServer(t, "127.0.0.70", z, behaveRecursive)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store, err := state.OpenWith(ctx, manifest.State{Backend: state.BackendEmbedded}, state.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()

	fc := clockwork.NewFakeClockAt(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	rounds := make(chan Round)
	g := &gaugeRecorder{}
	check := fastOptions()
	check.Authoritative, check.Resolvers = []string{auth.Addr}, []string{res.Addr}
	w, err := NewWatcher(WatchOptions{
		App: "shop", Records: []Query{{Name: name, Type: "A", Expect: []string{newIP}, Old: []string{oldIP}}},
		Check: check, Interval: 5 * time.Second, MaxInterval: 20 * time.Second,
		Events: store, Gauges: g, Clock: fc,
		OnRound: func(r Round) { rounds <- r },
	})
	if err != nil {
		t.Fatal(err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- w.Run(ctx) }()

	steps := []struct {
		name     string
		change   string // the value the servers answer from this round on
		wantNext time.Duration
		wantDone bool
		wantG    [3]float64
	}{
		{"first round", "", 5 * time.Second, false, [3]float64{0, 0, -1}},
		{"no change, backs off", "", 10 * time.Second, false, [3]float64{0, 0, -1}},
		{"backs off again", "", 20 * time.Second, false, [3]float64{0, 0, -1}},
		{"capped at the maximum", "", 20 * time.Second, false, [3]float64{0, 0, -1}},
		{"propagated, starts over", newIP, 5 * time.Second, true, [3]float64{1, 1, 0}},
		{"regressed", oldIP, 5 * time.Second, false, [3]float64{0, 0, -1}},
	}
	var prev time.Duration
	for i, st := range steps {
		if st.change != "" {
			z.set(uint32(i+1), rr(name, 60, "A", st.change))
		}
		if i > 0 {
			if err := fc.BlockUntilContext(ctx, 1); err != nil {
				t.Fatal(err)
			}
			fc.Advance(prev)
		}
		r := <-rounds
		if r.Next != st.wantNext || r.Done != st.wantDone || r.Errors[0] != nil {
			t.Errorf("%s: next %s, done %v, err %v; want %s, %v", st.name, r.Next, r.Done, r.Errors[0], st.wantNext, st.wantDone)
		}
		if got := g.get("shop www.example.test/A"); got != st.wantG {
			t.Errorf("%s: gauges %v, want %v", st.name, got, st.wantG)
		}
		prev = r.Next
	}
	cancel()
	if err := <-runErr; !errors.Is(err, context.Canceled) {
		t.Errorf("Run: %v, want context.Canceled", err)
	}
	evs, err := store.Events(context.Background(), state.Query{App: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	var got [][2]string
	for _, e := range evs {
		got = append(got, [2]string{e.Kind, e.Reason})
	}
	want := [][2]string{
		{KindPropagated, "www.example.test A: 1 resolvers and 1 authoritative servers answer 192.0.2.10"},
		{KindRegressed, "www.example.test A: authoritative " + auth.Addr + " stale, resolver " + res.Addr + " stale"},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("events (-got +want):\n%s", diff)
	}
}

// TestWatchUntilPropagated: Run returns nil once every record is
// propagated.
func TestWatchUntilPropagated(t *testing.T) {
	z := newZone(1, rr("www.example.test.", 60, "A", "192.0.2.10"), rr("www.example.test.", 60, "AAAA", "2001:db8::1"))
	auth := startServer(t, "127.0.0.53", z, behaveNormal)
	check := fastOptions()
	check.Authoritative = []string{auth.Addr}
	var n int
	w, err := NewWatcher(WatchOptions{
		App: "shop", Check: check, UntilPropagated: true, Clock: clockwork.NewFakeClock(),
		Records: []Query{
			{Name: "www.example.test", Type: "A", Expect: []string{"192.0.2.10"}},
			{Name: "www.example.test", Type: "AAAA", Expect: []string{"2001:db8::1"}},
		},
		OnRound: func(Round) { n++ },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Run(context.Background()); err != nil || n != 1 {
		t.Errorf("Run: %v after %d rounds, want nil after 1", err, n)
	}
}

func TestNewWatcherBadInput(t *testing.T) {
	tests := []struct {
		name string
		opts WatchOptions
		want string
	}{
		{"no records", WatchOptions{App: "shop"}, "watching shop: no dns records"},
		{"bad value", WatchOptions{App: "shop", Records: []Query{{Name: "a.test", Type: "AAAA", Expect: []string{"1.2.3.4"}}}},
			`watching shop: checking a.test AAAA: expected value 1 ("1.2.3.4"): parsing AAAA value "1.2.3.4": not an IPv6 address`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewWatcher(tt.opts)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

// TestWatchRetireAdvice: with a fallback to ask, each round says whether
// the old host may be retired: not while the worst-case ETA is ahead, then
// yes once it has passed and arrivals have stayed low long enough.
func TestWatchRetireAdvice(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	z := newZone(1, rr("www.example.test.", 60, "A", "192.0.2.10"))
	auth := startServer(t, "127.0.0.53", z, behaveNormal)
	fb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/apps/shop/fallback" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, `{"app": "shop", "requests_per_minute": 0.5, "clients_last_hour": 3, "below_since": %q, "retire_below": 1, "retire_after_seconds": 3600}`,
			t0.Add(-2*time.Hour).Format(time.RFC3339))
	}))
	defer fb.Close()
	fc := clockwork.NewFakeClockAt(t0)
	check := fastOptions()
	check.Authoritative = []string{auth.Addr}
	rounds := make(chan Round)
	w, err := NewWatcher(WatchOptions{
		App: "shop", Check: check, Clock: fc, Interval: 40 * time.Second, MaxInterval: 40 * time.Second,
		Records:   []Query{{Name: "www.example.test", Type: "A", Expect: []string{"192.0.2.10"}}},
		Fallbacks: []string{fb.URL}, HTTPClient: fb.Client(),
		OnRound: func(r Round) { rounds <- r },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- w.Run(ctx) }()
	var got []Advice
	for i := range 3 {
		if i > 0 {
			if err := fc.BlockUntilContext(ctx, 1); err != nil {
				t.Fatal(err)
			}
			fc.Advance(40 * time.Second)
		}
		got = append(got, *(<-rounds).Advice)
	}
	cancel()
	<-runErr
	want := []Advice{
		{Reasons: []string{"www.example.test A: worst-case ETA not passed (1m0s)"}},
		{Reasons: []string{"www.example.test A: worst-case ETA not passed (20s)"}},
		{Safe: true},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("advice per round (-got +want):\n%s", diff)
	}
}
