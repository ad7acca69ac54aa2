package fallback

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jonboulle/clockwork"

	"github.com/migratekit/migrate/admin"
	"github.com/migratekit/migrate/dashboards"
	"github.com/migratekit/migrate/lb"
	"github.com/migratekit/migrate/telemetry"
)

// startInstance runs a fallback instance of shop (forwarding to backend)
// with its admin API on a loopback port, on clock.
func startInstance(t *testing.T, backend string, clock clockwork.Clock) *Instance {
	t.Helper()
	m := testManifest("127.0.0.1:0", backend)
	m.Global.Admin.Listen = "127.0.0.1:0"
	inst, err := NewInstance(InstanceOptions{
		Manifest: m, App: "shop", ID: "fb1", Clock: clock,
		Dashboard: dashboards.Options{Clock: clock},
	})
	if err != nil {
		t.Fatalf("NewInstance: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- inst.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, lb.ErrDrainDeadline) {
			t.Errorf("Run: %v", err)
		}
	})
	return inst
}

// frameStream is the dashboard's event stream, parsed.
type frameStream struct {
	r     *bufio.Reader
	close func()
}

func openFrames(t *testing.T, base string) *frameStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+dashboards.Prefix+"events", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("opening the event stream: %v", err)
	}
	if res.StatusCode != http.StatusOK {
		cancel()
		t.Fatalf("event stream answered %d", res.StatusCode)
	}
	return &frameStream{r: bufio.NewReader(res.Body), close: func() { cancel(); res.Body.Close() }}
}

// until reads frames until the one numbered seq, and decodes it.
func (s *frameStream) until(t *testing.T, seq uint64) dashboards.Frame {
	t.Helper()
	want := "id: " + strconv.FormatUint(seq, 10)
	id := ""
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the event stream before frame %d: %v", seq, err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(line, "id: "):
			id = line
		case strings.HasPrefix(line, "data: ") && id == want:
			var f dashboards.Frame
			if err := json.Unmarshal([]byte(line[6:]), &f); err != nil {
				t.Fatalf("decoding frame %d: %v", seq, err)
			}
			return f
		}
	}
}

// TestInstanceDashboard sends requests through a running fallback and
// reads its dashboard on the admin listener: the page, and a frame of the
// event stream with the straggler numbers, the new side's requests and an
// empty old side.
func TestInstanceDashboard(t *testing.T) {
	backend := echoBackend(t)
	clock := clockwork.NewFakeClockAt(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	inst := startInstance(t, backend.URL, clock)
	r := &running{f: inst.Fallback, base: "http://" + inst.Fallback.Addr().String(), reg: inst.Registry}
	adminBase := "http://" + inst.AdminAddr().String()

	t.Run("page", func(t *testing.T) {
		res, err := http.Get(adminBase + dashboards.Prefix)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "<html") {
			t.Errorf("GET %s: %d %.80q, want 200 with the page", dashboards.Prefix, res.StatusCode, body)
		}
	})

	stream := openFrames(t, adminBase)
	defer stream.close()
	for range 3 {
		if code, _ := r.get(t, nil); code != http.StatusOK {
			t.Fatalf("forwarded request: %d, want 200", code)
		}
	}
	sampled := inst.Dashboard.Sample(context.Background())
	got := stream.until(t, sampled.Seq)
	if len(got.Apps) != 1 {
		t.Fatalf("frame has %d apps, want shop only: %+v", len(got.Apps), got.Apps)
	}
	app := got.Apps[0]
	tests := []struct {
		name      string
		got, want any
	}{
		{name: "app", got: app.App, want: "shop"},
		{name: "stragglers", got: app.Fallback, want: &dashboards.FallbackStatus{Clients: 1, RequestsPerMinute: 3, RetireBelow: 1, RetireAfterSeconds: 3600}},
		{name: "new side requests", got: app.Totals[telemetry.SideNew].Requests, want: uint64(3)},
		{name: "old side empty", got: app.Totals[telemetry.SideOld], want: telemetry.SideStats{}},
		{name: "backends", got: app.Backends, want: []admin.Backend{{Side: telemetry.SideNew, URL: backend.URL, Healthy: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.got, tt.want); diff != "" {
				t.Errorf("(-got +want):\n%s", diff)
			}
		})
	}
	t.Run("history says the fallback panel is fed", func(t *testing.T) {
		if h := inst.Dashboard.History(); !h.Sections.Fallback {
			t.Errorf("history sections %+v, want fallback", h.Sections)
		}
	})
}

func TestPanelForOtherApp(t *testing.T) {
	backend := echoBackend(t)
	r := start(t, testManifest("127.0.0.1:0", backend.URL), nil)
	tests := []struct {
		name   string
		app    string
		wantOK bool
	}{
		{name: "its app", app: "shop", wantOK: true},
		{name: "another app", app: "blog", wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ok := panel{f: r.f}.FallbackStatus(context.Background(), tt.app)
			if ok != tt.wantOK {
				t.Errorf("FallbackStatus(%q) ok = %v, want %v", tt.app, ok, tt.wantOK)
			}
		})
	}
}
