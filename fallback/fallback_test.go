package fallback

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"
	"github.com/jonboulle/clockwork"

	"github.com/migratekit/migrate/admin"
)

func TestForwarding(t *testing.T) {
	backend := echoBackend(t)
	r := start(t, testManifest("127.0.0.1:0", backend.URL), nil)
	tests := []struct {
		name string
		hdr  http.Header
		want seen
	}{
		{
			name: "host kept, client and proto forwarded, loop guard id added",
			want: seen{Host: "shop.test", For: "127.0.0.1", Proto: "http", Fallback: "fb1"},
		},
		{
			name: "spoofed forwarding headers from an untrusted peer dropped",
			hdr:  http.Header{"X-Forwarded-For": {"203.0.113.9"}, "X-Forwarded-Proto": {"https"}},
			want: seen{Host: "shop.test", For: "127.0.0.1", Proto: "http", Fallback: "fb1"},
		},
		{
			name: "id appended after another fallback's",
			hdr:  http.Header{Header: {"other"}},
			want: seen{Host: "shop.test", For: "127.0.0.1", Proto: "http", Fallback: "other, fb1"},
		},
		{
			name: "a client's shadow and replay markers dropped",
			hdr:  http.Header{"X-Migrate-Shadow": {"1"}, "X-Migrate-Replay": {"1"}},
			want: seen{Host: "shop.test", For: "127.0.0.1", Proto: "http", Fallback: "fb1"},
		},
		{
			name: "h2c upgrade not passed on",
			hdr:  http.Header{"Connection": {"Upgrade, HTTP2-Settings"}, "Upgrade": {"h2c"}, "Http2-Settings": {"AAMAAABkAARAAAAAAAIAAAAA"}},
			want: seen{Host: "shop.test", For: "127.0.0.1", Proto: "http", Fallback: "fb1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, got := r.get(t, tt.hdr)
			if code != http.StatusOK {
				t.Fatalf("status %d, want 200", code)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("backend saw (-got +want):\n%s", diff)
			}
		})
	}
}

func TestWebsocketEcho(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, append([]byte(r.Host+": "), msg...)); err != nil {
				return
			}
		}
	}))
	t.Cleanup(backend.Close)
	r := start(t, testManifest("127.0.0.1:0", backend.URL), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+r.base[len("http"):]+"/ws", &websocket.DialOptions{Host: "shop.test"})
	if err != nil {
		t.Fatalf("dialing through the fallback: %v", err)
	}
	defer c.CloseNow()
	for _, msg := range []string{"hello", "again"} {
		if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		_, got, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := "shop.test: " + msg; string(got) != want {
			t.Errorf("echo %q, want %q", got, want)
		}
	}
	c.Close(websocket.StatusNormalClosure, "")
}

func TestLoopGuard(t *testing.T) {
	backend := echoBackend(t)
	tests := []struct {
		name         string
		self         bool // the fallback forwards to itself
		hdr          http.Header
		wantRequests float64
		wantLoops    float64
		wantCounted  float64
	}{
		{name: "forwarded to itself: the second pass is refused", self: true, wantRequests: 2, wantLoops: 1, wantCounted: 1},
		{name: "arriving with its own id", hdr: http.Header{Header: {"fb1"}}, wantRequests: 1, wantLoops: 1},
		{name: "arriving with its id after another's", hdr: http.Header{Header: {"other, fb1"}}, wantRequests: 1, wantLoops: 1},
		{name: "an id that merely contains its id passes", hdr: http.Header{Header: {"fb10"}}, wantRequests: 1, wantCounted: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			listen, target := "127.0.0.1:0", backend.URL
			if tt.self {
				listen = freeAddr(t)
				target = "http://" + listen
			}
			r := start(t, testManifest(listen, target), nil)
			code, _ := r.get(t, tt.hdr)
			wantCode := http.StatusLoopDetected
			if tt.wantLoops == 0 {
				wantCode = http.StatusOK
			}
			got := []float64{float64(code), r.metric(t, "migrate_fallback_requests_total"), r.metric(t, "migrate_fallback_loops_total"), r.f.Counter().PerMinute()}
			want := []float64{float64(wantCode), tt.wantRequests, tt.wantLoops, tt.wantCounted}
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("[status, requests, loops, counted] (-got +want):\n%s", diff)
			}
		})
	}
}

func TestArrivalsCounted(t *testing.T) {
	backend := echoBackend(t)
	clock := clockwork.NewFakeClockAt(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	m := testManifest("127.0.0.1:0", backend.URL)
	m.Apps["shop"].TrustedProxies = []string{"127.0.0.1/32"}
	r := start(t, m, clock)
	t0 := clock.Now()
	for i := range 30 {
		ip := fmt.Sprintf("203.0.113.%d", i%10)
		if code, got := r.get(t, http.Header{"X-Forwarded-For": {ip}}); code != http.StatusOK || got.For != ip+", 127.0.0.1" {
			t.Fatalf("request %d: status %d, X-Forwarded-For %q", i, code, got.For)
		}
	}
	status := func(after time.Duration) admin.FallbackStatus {
		clock.Advance(after)
		return r.f.Status()
	}
	at := func(d time.Duration) *time.Time { v := t0.Add(d); return &v }
	want := func(rpm float64, clients uint64, below *time.Time) admin.FallbackStatus {
		return admin.FallbackStatus{App: "shop", RequestsPerMinute: rpm, ClientsLastHour: clients, BelowSince: below, RetireBelow: 1, RetireAfterSeconds: 3600}
	}
	tests := []struct {
		name  string
		after time.Duration
		want  admin.FallbackStatus
	}{
		{"30 requests from 10 clients", 0, want(30, 10, nil)},
		{"still within the minute", 59 * time.Second, want(30, 10, nil)},
		{"the minute has slid past them", 2 * time.Second, want(0, 10, at(61*time.Second))},
		{"below since then, an hour on", 59 * time.Minute, want(0, 10, at(61*time.Second))},
		{"the clients are out of the hour's windows", 11 * time.Minute, want(0, 0, at(61*time.Second))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(status(tt.after), tt.want); diff != "" {
				t.Errorf("status (-got +want):\n%s", diff)
			}
		})
	}
	t.Run("metrics", func(t *testing.T) {
		got := []float64{r.metric(t, "migrate_fallback_requests_total"), r.metric(t, "migrate_fallback_requests_per_minute"),
			r.metric(t, "migrate_fallback_clients"), r.metric(t, "migrate_fallback_below_retire_seconds")}
		want := []float64{30, 0, 0, (70 * time.Minute).Seconds()} // 71m01s on the clock, below since 61s
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("[requests, per minute, clients, below seconds] (-got +want):\n%s", diff)
		}
	})
	t.Run("a new arrival clears below_since", func(t *testing.T) {
		r.get(t, nil)
		if diff := cmp.Diff(r.f.Status(), want(1, 1, nil)); diff != "" {
			t.Errorf("status (-got +want):\n%s", diff)
		}
	})
}

func TestHTTPSBackend(t *testing.T) {
	ca, otherCA := newCA(t), newCA(t)
	backend := httptest.NewUnstartedServer(http.HandlerFunc(echoHandler))
	backend.TLS = &tls.Config{Certificates: []tls.Certificate{ca.leaf(t, "shop.test")}}
	backend.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	backend.StartTLS()
	t.Cleanup(backend.Close)
	tests := []struct {
		name       string
		serverName string // fallback.server_name; empty: the app's first host
		ca         *testCA
		wantCode   int
		wantSNI    string
	}{
		{name: "sni from the app's host, verified against fallback.ca", ca: ca, wantCode: http.StatusOK, wantSNI: "shop.test"},
		{name: "certificate from another authority refused", ca: otherCA, wantCode: http.StatusBadGateway},
		{name: "server_name the certificate does not name refused", serverName: "other.test", ca: ca, wantCode: http.StatusBadGateway},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := testManifest("127.0.0.1:0", backend.URL) // https://127.0.0.1:port
			m.Apps["shop"].Fallback.CA = tt.ca.file(t)
			m.Apps["shop"].Fallback.ServerName = tt.serverName
			r := start(t, m, nil)
			code, got := r.get(t, nil)
			if diff := cmp.Diff([]any{code, got.SNI, got.Host}, []any{tt.wantCode, tt.wantSNI, map[bool]string{true: "shop.test"}[tt.wantCode == 200]}); diff != "" {
				t.Errorf("[status, sni, host] (-got +want):\n%s", diff)
			}
		})
	}
}

// TestBlinkingBackend: a fallback whose one backend restarts (a deploy)
// forwards to it again as soon as it is back: lb never ejects the last
// backend of a pool passively. It was out for the 10 s cooldown (the fake
// clock's forever here) with every request answered 502.
func TestBlinkingBackend(t *testing.T) {
	addr := freeAddr(t)
	var srv *httptest.Server
	up := func() {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("backend back on %s: %v", addr, err)
		}
		srv = httptest.NewUnstartedServer(http.HandlerFunc(echoHandler))
		srv.Listener = ln
		srv.Start()
	}
	up()
	t.Cleanup(func() { srv.Close() })
	r := start(t, testManifest("127.0.0.1:0", "http://"+addr), clockwork.NewFakeClock())
	if code, _ := r.get(t, nil); code != http.StatusOK {
		t.Fatalf("before the restart: %d", code)
	}
	srv.Close()
	for i := range 6 {
		if code, _ := r.get(t, nil); code != http.StatusBadGateway {
			t.Fatalf("request %d with the backend down: %d, want 502", i, code)
		}
	}
	up()
	if code, _ := r.get(t, nil); code != http.StatusOK {
		t.Errorf("first request with the backend back: %d, want 200", code)
	}
}
