package dashboards

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// sseEvent is one parsed Server-Sent Event.
type sseEvent struct {
	ID, Event, Data string
}

// sseReader parses an event stream.
type sseReader struct{ r *bufio.Reader }

func (s sseReader) next() (sseEvent, error) {
	var ev sseEvent
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return ev, err
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "":
			if ev.Event != "" || ev.Data != "" {
				return ev, nil
			}
		case strings.HasPrefix(line, "id: "):
			ev.ID = line[4:]
		case strings.HasPrefix(line, "event: "):
			ev.Event = line[7:]
		case strings.HasPrefix(line, "data: "):
			ev.Data = line[6:]
		}
	}
}

// serveDashboard serves d's handler and runs nothing: tests publish.
func serveDashboard(t *testing.T, opts Options) (*Dashboard, *httptest.Server) {
	t.Helper()
	d, _ := newTestDashboard(t, newFakeSource(t, "shop"), opts)
	srv := httptest.NewServer(d.Handler())
	t.Cleanup(func() {
		d.hub.close()
		srv.Close()
	})
	return d, srv
}

// openStream opens the event stream with the given Last-Event-ID (none
// when empty) and waits until the hub has counted it.
func openStream(t *testing.T, d *Dashboard, url, lastID string) (sseReader, func()) {
	t.Helper()
	before := d.hub.count()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+Prefix+"events", nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("opening the stream: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		cancel()
		t.Fatalf("stream status %d", resp.StatusCode)
	}
	if got := resp.Header.Get("Content-Type"); got != "text/event-stream" {
		t.Errorf("content type %q", got)
	}
	r := sseReader{bufio.NewReader(resp.Body)}
	// The hub counts the stream before the answer's headers are sent.
	if d.hub.count() <= before {
		t.Fatalf("the hub counts %d streams after opening one (was %d)", d.hub.count(), before)
	}
	return r, func() { cancel(); resp.Body.Close() }
}

func publish(d *Dashboard, from, to uint64) {
	for seq := from; seq <= to; seq++ {
		d.hub.publish(message{seq: seq, data: fmt.Appendf(nil, `{"seq":%d}`, seq)})
	}
}

// ids reads n events and returns "event:id" of each.
func ids(t *testing.T, r sseReader, n int) []string {
	t.Helper()
	var out []string
	for range n {
		ev, err := r.next()
		if err != nil {
			t.Fatalf("reading event %d of %d: %v (got %v)", len(out)+1, n, err, out)
		}
		out = append(out, ev.Event+":"+ev.ID)
	}
	return out
}

func TestStreamReconnect(t *testing.T) {
	tests := []struct {
		name   string
		lastID string
		want   []string
	}{
		{"fresh stream: new frames only", "", []string{"frame:11"}},
		{"resume within the replay", "7", []string{"frame:8", "frame:9", "frame:10", "frame:11"}},
		{"resume at the newest", "10", []string{"frame:11"}},
		{"resume before the replay", "2", []string{"resync:", "frame:11"}},
		{"resume from another run", "99", []string{"resync:", "frame:11"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, srv := serveDashboard(t, Options{Replay: 5})
			publish(d, 1, 10) // the replay keeps 6 to 10
			r, closeStream := openStream(t, d, srv.URL, tt.lastID)
			defer closeStream()
			publish(d, 11, 11)
			if diff := cmp.Diff(ids(t, r, len(tt.want)), tt.want); diff != "" {
				t.Errorf("events (-got +want):\n%s", diff)
			}
		})
	}
}

func TestStreamAfterParameter(t *testing.T) {
	d, srv := serveDashboard(t, Options{})
	publish(d, 1, 3)
	resp, err := http.Get(srv.URL + Prefix + "events?after=x")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `after \"x\" is not a frame number`) {
		t.Errorf("after=x: %d %s", resp.StatusCode, body)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+Prefix+"events?after=1", nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if diff := cmp.Diff(ids(t, sseReader{bufio.NewReader(resp.Body)}, 2), []string{"frame:2", "frame:3"}); diff != "" {
		t.Errorf("after=1 (-got +want):\n%s", diff)
	}
}

func TestStreamManyClients(t *testing.T) {
	d, srv := serveDashboard(t, Options{})
	const clients, frames = 50, 5
	readers := make([]sseReader, clients)
	for i := range readers {
		r, closeStream := openStream(t, d, srv.URL, "")
		defer closeStream()
		readers[i] = r
	}
	publish(d, 1, frames)
	var wg sync.WaitGroup
	got := make([][]string, clients)
	for i, r := range readers {
		wg.Go(func() {
			for range frames {
				ev, err := r.next()
				if err != nil {
					return
				}
				got[i] = append(got[i], ev.ID)
			}
		})
	}
	wg.Wait()
	want := []string{"1", "2", "3", "4", "5"}
	for i := range got {
		if diff := cmp.Diff(got[i], want); diff != "" {
			t.Errorf("client %d (-got +want):\n%s", i, diff)
		}
	}
}

func TestStreamTooManyClients(t *testing.T) {
	d, srv := serveDashboard(t, Options{MaxClients: 2})
	for range 2 {
		_, closeStream := openStream(t, d, srv.URL, "")
		defer closeStream()
	}
	resp, err := http.Get(srv.URL + Prefix + "events")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("third stream: status %d, want 503", resp.StatusCode)
	}
}

// TestSlowClientDoesNotBlock opens a stream that never reads: publishing
// frames far larger than the socket buffers completes, a reading client
// gets every frame, and the slow one, once it reads, is told to resync.
func TestSlowClientDoesNotBlock(t *testing.T) {
	d, srv := serveDashboard(t, Options{ClientBuffer: 2})
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	before := d.hub.count()
	fmt.Fprintf(conn, "GET %sevents HTTP/1.1\r\nHost: x\r\n\r\n", Prefix)
	slow := bufio.NewReader(conn)
	if _, err := http.ReadResponse(slow, nil); err != nil {
		t.Fatalf("slow stream: %v", err)
	}
	if d.hub.count() != before+1 {
		t.Fatalf("the slow stream is not open")
	}
	fast, closeStream := openStream(t, d, srv.URL, "")
	defer closeStream()

	// Each frame is published, then read by the fast client, while the
	// slow one reads nothing: publishing never waits for it.
	const frames = 64
	big := strings.Repeat("x", 256<<10) // 16 MiB in all
	for seq := uint64(1); seq <= frames; seq++ {
		d.hub.publish(message{seq: seq, data: []byte(`"` + big + `"`)})
		ev, err := fast.next()
		if err != nil {
			t.Fatalf("fast client, frame %d: %v", seq, err)
		}
		if want := strconv.FormatUint(seq, 10); ev.Event != "frame" || ev.ID != want {
			t.Fatalf("fast client got %s %s, want frame %s", ev.Event, ev.ID, want)
		}
	}
	// Now the slow client reads: it missed frames, so a resync comes.
	r := sseReader{slow}
	for {
		ev, err := r.next()
		if err != nil {
			t.Fatalf("slow stream ended without a resync: %v", err)
		}
		if ev.Event == "resync" {
			break
		}
	}
}

func TestStreamsEndWithTheDashboard(t *testing.T) {
	src := newFakeSource(t, "shop")
	d, _ := newTestDashboard(t, src, Options{})
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- d.Run(ctx) }()
	r, closeStream := openStream(t, d, srv.URL, "")
	defer closeStream()
	cancel()
	if err := <-runDone; err != nil {
		t.Errorf("Run: %v", err)
	}
	for {
		if _, err := r.next(); err != nil {
			break // the stream ended
		}
	}
	resp, err := http.Get(srv.URL + Prefix + "events")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("stream after Run ended: status %d, want 503", resp.StatusCode)
	}
}

func TestPageAndAPI(t *testing.T) {
	d, srv := serveDashboard(t, Options{})
	d.Sample(context.Background())
	tests := []struct {
		path, wantType, wantBody string
		wantCode                 int
	}{
		{Prefix, "text/html; charset=utf-8", `<script src="app.js" defer>`, 200},
		{Prefix + "app.js", "text/javascript; charset=utf-8", "EventSource", 200},
		{Prefix + "vendor/uPlot.iife.min.js", "text/javascript; charset=utf-8", "uPlot", 200},
		{Prefix + "vendor/uPlot.LICENSE", "", "MIT", 200},
		{Prefix + "api/history", "application/json", `"apps":{"shop":`, 200},
		{Prefix + "api/apps/shop/diffs", "application/json", `not shadowed`, 404},
		{"/dashboard", "text/html; charset=utf-8", `<script src="app.js" defer>`, 200}, // redirected
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, err := http.Get(srv.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantCode {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.wantCode)
			}
			if tt.wantType != "" && resp.Header.Get("Content-Type") != tt.wantType {
				t.Errorf("content type %q, want %q", resp.Header.Get("Content-Type"), tt.wantType)
			}
			if !strings.Contains(string(body), tt.wantBody) {
				t.Errorf("body lacks %q:\n%.300s", tt.wantBody, body)
			}
		})
	}
}
