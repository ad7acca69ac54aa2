package shadow

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"

	"github.com/migratekit/migrate/compare"
)

func TestWebsocketNotMirrored(t *testing.T) {
	old := newBackend(t, "old", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			t.Errorf("accepting websocket: %v", err)
			return
		}
		defer c.CloseNow()
		typ, msg, err := c.Read(r.Context())
		if err != nil {
			return
		}
		c.Write(r.Context(), typ, append([]byte("echo "), msg...))
		c.Close(websocket.StatusNormalClosure, "")
	})
	newB := newBackend(t, "new", nil)
	e := start(t, testApp(old.URL, newB.URL), true)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.base, "http")+"/ws", &websocket.DialOptions{HTTPClient: e.client})
	if err != nil {
		t.Fatalf("dialing through the proxy: %v", err)
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	_, got, err := c.Read(ctx)
	if err != nil || string(got) != "echo hi" {
		t.Errorf("echo: got %q, %v; want \"echo hi\"", got, err)
	}
	c.Close(websocket.StatusNormalClosure, "")

	waitFor(t, "the outcome recorded", func() bool { return e.cmp.total() == 1 })
	if _, recorded := e.cmp.counts(); recorded[compare.OutcomeSkippedStream] != 1 {
		t.Errorf("recorded outcomes: got %v, want skipped_stream", recorded)
	}
	if got := newB.hits(); got != 0 {
		t.Errorf("new saw %d requests, want none", got)
	}
}

// TestEventStream serves an SSE stream event by event through the
// mirror: the client reads each event before the next is sent, and the
// pair is counted skipped_stream, never compared.
func TestEventStream(t *testing.T) {
	next := make(chan struct{})
	sse := func(name string, step chan struct{}) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
			w.WriteHeader(http.StatusOK)
			for i := range 3 {
				fmt.Fprintf(w, "data: %s %d\n\n", name, i)
				http.NewResponseController(w).Flush()
				if step != nil {
					select {
					case <-step:
					case <-r.Context().Done():
						return
					}
				}
			}
		}
	}
	old := newBackend(t, "old", sse("old", next))
	newB := newBackend(t, "new", sse("new", nil))
	e := start(t, testApp(old.URL, newB.URL), true)

	res, err := e.client.Get(e.base + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	r := bufio.NewReader(res.Body)
	var got []string
	for i := range 3 {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		got = append(got, strings.TrimSpace(line))
		r.ReadString('\n') // the blank line ending the event
		next <- struct{}{} // the old side sends the next one only now
	}
	if diff := cmp.Diff(got, []string{"data: old 0", "data: old 1", "data: old 2"}); diff != "" {
		t.Errorf("events (-got +want):\n%s", diff)
	}
	res.Body.Close()
	waitFor(t, "the outcome recorded", func() bool { return e.cmp.total() == 1 })
	compared, recorded := e.cmp.counts()
	if len(compared) != 0 || recorded[compare.OutcomeSkippedStream] != 1 {
		t.Errorf("outcomes: compared %v, recorded %v; want only skipped_stream recorded", compared, recorded)
	}
}

// TestPrimaryBreaksOff has old cut its answer short: the client sees the
// break as it would without a mirror, and the pair is still judged, its
// primary body marked truncated.
func TestPrimaryBreaksOff(t *testing.T) {
	old := newBackend(t, "old", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "only ten b")
		http.NewResponseController(w).Flush()
		c, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijacking: %v", err)
			return
		}
		c.Close()
	})
	e := start(t, testApp(old.URL, newBackend(t, "new", nil).URL), true)

	// The proxy aborts the client's connection: before or after the
	// headers reach the client, depending on buffering.
	if res, err := e.client.Get(e.base + "/cut"); err == nil {
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err == nil {
			t.Errorf("client got a whole answer %q, want a broken one", body)
		}
	}
	waitFor(t, "the pair judged", func() bool { return e.cmp.total() == 1 })
	p := e.cmp.seenPairs()[0]
	got := []any{p.Primary.Status, string(p.Primary.Body), p.Primary.Truncated}
	if diff := cmp.Diff(got, []any{http.StatusOK, "only ten b", true}); diff != "" {
		t.Errorf("primary [status, body, truncated] (-got +want):\n%s", diff)
	}
	waitFor(t, "the pair released", func() bool { return e.mirror.Stats().Pending == 0 })
}
