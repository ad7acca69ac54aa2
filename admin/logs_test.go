package admin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/migratekit/migrate/logship"
)

// storeLogs is the LogStore serve builds, without the derived metrics.
type storeLogs struct{ *logship.LogStore }

func (s storeLogs) AddLogs(ctx context.Context, evs []logship.Event) error {
	_, err := s.Add(ctx, evs)
	return err
}

func (s storeLogs) QueryLogs(ctx context.Context, q logship.LogQuery) ([]logship.StoredLine, error) {
	return s.Query(ctx, q)
}

func (s storeLogs) LogsChanged() <-chan struct{} { return s.Changed() }

// logsAPI serves the admin API of app shop with a log store, and returns
// its base URL.
func logsAPI(t *testing.T, tok string) (*Server, string, *logship.LogStore) {
	t.Helper()
	api, _, _ := newAPI(t, tok)
	st, err := logship.OpenLogStore(t.Context(), filepath.Join(t.TempDir(), logship.LogStoreFile), logship.LogStoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	api.opts.Logs = storeLogs{st}
	ln := serveAPI(t, api)
	return api, "http://" + ln.Addr().String(), st
}

// events are n events of side at, with ids side-i and lines "side i".
func events(side string, at time.Time, n int) []logship.Event {
	out := make([]logship.Event, n)
	for i := range out {
		out[i] = logship.Event{ID: fmt.Sprintf("%s-%d", side, i), Time: at.Add(time.Duration(i) * time.Second), App: "shop", Side: side,
			Host: "web1", Record: logship.Record{Raw: fmt.Appendf(nil, "%s %d", side, i), Status: 200}}
	}
	return out
}

func deliverer(t *testing.T, base, side, tok string) logship.Deliverer {
	t.Helper()
	d, err := logship.NewEmbeddedDeliverer(logship.SinkConfig{Type: "embedded", Admin: base}, "shop", side, logship.WithToken(tok))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.(io.Closer).Close() })
	return d
}

func TestLogReceiver(t *testing.T) {
	_, base, st := logsAPI(t, token)
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	d := deliverer(t, base, "new", token)
	tests := []struct {
		name  string
		d     logship.Deliverer
		batch []logship.Event
		want  error
		lines int // stored lines after
	}{
		{"accepted", d, events("new", at, 3), nil, 3},
		{"a resent batch is stored once", d, events("new", at, 3), nil, 3},
		{"no token", deliverer(t, base, "new", ""), events("new", at.Add(time.Hour), 1),
			&logship.RetryableError{Status: 401, Err: errors.New("embedded sink: this request needs the admin token (Authorization: Bearer <token>)")}, 3},
		{"wrong token", deliverer(t, base, "new", "guess"), events("new", at.Add(time.Hour), 1),
			&logship.RetryableError{Status: 401, Err: errors.New("embedded sink: this request needs the admin token (Authorization: Bearer <token>)")}, 3},
		{"a line of the other side", d, append(events("new", at, 5)[3:], events("old", at, 1)...),
			&logship.RejectedError{Index: []int{2}, Reason: `line 2: side "old": this batch is for "new"`}, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.d.Deliver(t.Context(), tt.batch)
			if diff := cmp.Diff(got, tt.want, cmp.Comparer(func(a, b error) bool { return a.Error() == b.Error() })); diff != "" {
				t.Errorf("Deliver (-got +want):\n%s", diff)
			}
			if got := st.Stats().Lines; got != tt.lines {
				t.Errorf("stored %d lines, want %d", got, tt.lines)
			}
		})
	}
}

func TestLogReceiverRequests(t *testing.T) {
	_, base, _ := logsAPI(t, token)
	valid := `{"id":"1","time":"2026-03-01T12:00:00Z","line":"x"}`
	tests := []struct {
		name     string
		path     string
		encoding string
		body     string
		code     int
		want     string
	}{
		{"unknown app", "/api/v1/apps/nope/logs?side=old", "", valid, 404, `app \"nope\" is not served`},
		{"no side", "/api/v1/apps/shop/logs", "", valid, 400, `side=\"\": want old or new`},
		{"not gzip", "/api/v1/apps/shop/logs?side=old", "gzip", valid, 400, "body is not gzip"},
		{"plain NDJSON", "/api/v1/apps/shop/logs?side=old", "", valid + "\n" + valid, 200, `"accepted": 2`},
		{"junk lines", "/api/v1/apps/shop/logs?side=old", "", "junk\n" + valid + "\n{}", 400,
			`"rejected": [
    {
      "index": 0,
      "error": "not an event object: jsontext: invalid character 'j' at start of value"
    },
    {
      "index": 2,
      "error": "missing event field: id"
    }
  ]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, base+tt.path, strings.NewReader(tt.body))
			req.Header.Set("Authorization", "Bearer "+token)
			if tt.encoding != "" {
				req.Header.Set("Content-Encoding", tt.encoding)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.code || !strings.Contains(string(body), tt.want) {
				t.Errorf("got %d %s, want %d with %s", resp.StatusCode, body, tt.code, tt.want)
			}
		})
	}
}

// ids reads the ids of NDJSON lines.
func lineIDs(t *testing.T, lines [][]byte) []string {
	t.Helper()
	out := []string{}
	for _, l := range lines {
		ev, err := logship.DecodeEventJSON(l)
		if err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		out = append(out, ev.ID)
	}
	return out
}

func TestLogTail(t *testing.T) {
	_, base, st := logsAPI(t, token)
	now := time.Now()
	if _, err := st.Add(t.Context(), append(events("old", now.Add(-time.Hour), 2), events("new", now.Add(-time.Second), 2)...)); err != nil {
		t.Fatal(err)
	}
	c := &Client{BaseURL: base}
	tests := []struct {
		name    string
		q       LogsQuery
		want    []string
		wantErr string
	}{
		{"both sides", LogsQuery{}, []string{"old-0", "old-1", "new-0", "new-1"}, ""},
		{"one side", LogsQuery{Side: "old"}, []string{"old-0", "old-1"}, ""},
		{"grep", LogsQuery{Grep: ` 1$`}, []string{"old-1", "new-1"}, ""},
		{"since", LogsQuery{Since: time.Minute}, []string{"new-0", "new-1"}, ""},
		{"limit", LogsQuery{Limit: 1}, []string{"new-1"}, ""},
		{"bad grep", LogsQuery{Grep: "("}, nil, "admin API: 400 Bad Request: grep=\"(\" is not a regular expression"},
		{"bad side", LogsQuery{Side: "both"}, nil, "side=\"both\": want old, new or nothing for both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var lines [][]byte
			err := c.Logs(t.Context(), "shop", tt.q, func(l []byte) error {
				lines = append(lines, bytes.Clone(l))
				return nil
			})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(lineIDs(t, lines), tt.want); diff != "" {
				t.Errorf("lines (-got +want):\n%s", diff)
			}
		})
	}
}

func TestLogTailFollow(t *testing.T) {
	_, base, st := logsAPI(t, token)
	now := time.Now()
	if _, err := st.Add(t.Context(), events("old", now, 1)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	got := make(chan string, 10)
	done := make(chan error, 1)
	go func() {
		done <- (&Client{BaseURL: base}).Logs(ctx, "shop", LogsQuery{Follow: true, Grep: "^(old|new) 0$"}, func(l []byte) error {
			ev, err := logship.DecodeEventJSON(l)
			if err != nil {
				return err
			}
			got <- ev.ID
			return nil
		})
	}()
	// Once the backlog has come, the handler waits for new lines.
	if id := <-got; id != "old-0" {
		t.Fatalf("backlog line %s, want old-0", id)
	}
	later := append(events("new", now, 2), events("old", now, 2)[1])
	if _, err := st.Add(t.Context(), later); err != nil {
		t.Fatal(err)
	}
	if id := <-got; id != "new-0" {
		t.Errorf("followed %s, want new-0 (new-1 and old-1 do not match the grep)", id)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Logs after cancel: %v", err)
	}
	select {
	case id := <-got:
		t.Errorf("unexpected line %s", id)
	default:
	}
}

// TestLogTailShutdown: a follow stream does not hold up the server's
// shutdown.
func TestLogTailShutdown(t *testing.T) {
	api, _, _ := newAPI(t, token)
	st, err := logship.OpenLogStore(t.Context(), filepath.Join(t.TempDir(), logship.LogStoreFile), logship.LogStoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	api.opts.Logs = storeLogs{st}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- api.Serve(ctx, ln) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/api/v1/apps/shop/logs?follow=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	cancel()
	if err := <-served; err != nil {
		t.Errorf("Serve with an open stream: %v", err)
	}
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Errorf("reading the ended stream: %v", err)
	}
}

// FuzzLogBody: any body is split into stored and refused lines, every
// line accounted for once, and nothing panics.
func FuzzLogBody(f *testing.F) {
	f.Add([]byte(`{"id":"1","time":"2026-03-01T12:00:00Z","line":"x","status":500}` + "\n"))
	f.Add([]byte("junk\n{}\n\n" + `{"id":"2","time":"2026-03-01T12:00:00Z","line":"y","side":"old"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := http.NewRequest(http.MethodPost, "/api/v1/apps/shop/logs?side=new", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		evs, ans, code := readLogBody(r, "shop", "new")
		if code != 0 {
			t.Fatalf("status %d for a plain body of %d bytes: %s", code, len(body), ans.Error)
		}
		lines := bytes.Count(body, []byte("\n"))
		if len(body) > 0 && body[len(body)-1] != '\n' {
			lines++
		}
		if got := len(evs) + len(ans.Rejected); got != lines {
			t.Errorf("%d stored + %d refused, want %d lines", len(evs), len(ans.Rejected), lines)
		}
		for _, ev := range evs {
			if ev.App != "shop" || ev.Side != "new" || ev.ID == "" {
				t.Errorf("stored event %+v is not shop's new side with an id", ev)
			}
		}
	})
}
