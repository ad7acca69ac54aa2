package logship

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jonboulle/clockwork"
)

// lokiPush is the push API's JSON body, decoded strictly.
type lokiPush struct {
	Streams []struct {
		Stream map[string]string `json:"stream"`
		Values [][]string        `json:"values"`
	} `json:"streams"`
}

// checkLoki answers 400 to a request that is not a well-formed push, as
// Loki does.
func checkLoki(r received) reply {
	if r.method != http.MethodPost || r.path != LokiPushPath {
		return reply{status: 404, body: "404 page not found"}
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		return reply{status: 415, body: "unsupported content type " + ct}
	}
	if _, err := decodeLoki(r.body); err != nil {
		return reply{status: 400, body: err.Error()}
	}
	return reply{}
}

func decodeLoki(body []byte) (lokiPush, error) {
	var p lokiPush
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf("decoding push: %w", err)
	}
	for _, s := range p.Streams {
		for _, v := range s.Values {
			if len(v) != 2 {
				return p, fmt.Errorf("value %q: want [ts, line]", v)
			}
			if _, err := strconv.ParseInt(v[0], 10, 64); err != nil {
				return p, fmt.Errorf("timestamp %q: %w", v[0], err)
			}
		}
	}
	return p, nil
}

// sinkClockTime is what the protocol tests' fake clock reads.
var sinkClockTime = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestLokiDeliver(t *testing.T) {
	dateIn30s := sinkClockTime.Add(30 * time.Second).Format(http.TimeFormat)
	tests := []struct {
		name    string
		replies []reply
		want    string
	}{
		{"204 accepted", []reply{{status: 204}}, "ok"},
		{"200 accepted", []reply{{status: 200}}, "ok"},
		{"429 with retry-after seconds", []reply{{status: 429, header: map[string]string{"Retry-After": "3"},
			body: "Ingestion rate limit exceeded"}}, "retryable: status 429 after 3s"},
		{"429 with retry-after date", []reply{{status: 429, header: map[string]string{"Retry-After": dateIn30s}}},
			"retryable: status 429 after 30s"},
		{"503", []reply{{status: 503, body: "ingester not ready"}}, "retryable: status 503 after 0s"},
		{"500", []reply{{status: 500}}, "retryable: status 500 after 0s"},
		{"401 waits for a fixed tenant or key", []reply{{status: 401, body: "no org id"}}, "retryable: status 401 after 0s"},
		{"400 rejects the whole push", []reply{{status: 400,
			body: "entry for stream '{app=\"web\"}' has timestamp too old: 2026-01-01T00:00:00Z"}},
			"rejected all: loki: status 400: entry for stream '{app=\"web\"}' has timestamp too old: 2026-01-01T00:00:00Z"},
		{"413 too large", []reply{{status: 413, body: "request body too large"}}, "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, reply{status: 204}, tt.replies...)
			rc.check = checkLoki
			d, err := NewLokiDeliverer(HTTPOptions{URL: rc.URL, Clock: clockwork.NewFakeClockAt(sinkClockTime)}, "")
			if err != nil {
				t.Fatal(err)
			}
			defer d.(interface{ Close() error }).Close()
			if got := outcome(d.Deliver(t.Context(), sinkEvents(3))); got != tt.want {
				t.Errorf("Deliver() = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestLokiPushBody(t *testing.T) {
	rc := newReceiver(t, reply{status: 204})
	rc.check = checkLoki
	d, err := NewLokiDeliverer(HTTPOptions{URL: rc.URL + "/", Headers: map[string]string{"X-Api-Key": "k1"}}, "team-a")
	if err != nil {
		t.Fatal(err)
	}
	defer d.(interface{ Close() error }).Close()
	evs := sinkEvents(3)
	evs[1].Host = "h2"
	if err := d.Deliver(t.Context(), evs); err != nil {
		t.Fatalf("Deliver() = %v", err)
	}
	reqs := rc.requests()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	for k, want := range map[string]string{"X-Scope-OrgID": "team-a", "X-Api-Key": "k1", "Content-Type": "application/json"} {
		if got := r.header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	push, err := decodeLoki(r.body)
	if err != nil {
		t.Fatal(err)
	}
	type stream struct {
		Labels map[string]string
		TS     []string
		IDs    []string
	}
	var got []stream
	for _, s := range push.Streams {
		st := stream{Labels: s.Stream}
		for _, v := range s.Values {
			var line struct{ ID string }
			if err := json.Unmarshal([]byte(v[1]), &line); err != nil {
				t.Fatalf("line %q is not the event's JSON: %v", v[1], err)
			}
			st.TS = append(st.TS, v[0])
			st.IDs = append(st.IDs, line.ID)
		}
		got = append(got, st)
	}
	ns := func(e Event) string { return strconv.FormatInt(e.Time.UnixNano(), 10) }
	want := []stream{
		{Labels: map[string]string{"app": "web", "side": "old", "host": "h1"}, TS: []string{ns(evs[0]), ns(evs[2])}, IDs: []string{"e0", "e2"}},
		{Labels: map[string]string{"app": "web", "side": "old", "host": "h2"}, TS: []string{ns(evs[1])}, IDs: []string{"e1"}},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("streams (-got +want):\n%s", diff)
	}
}

// TestLokiSink sends through NewSink: a 429 then a 503 are retried, a
// 400 dead-letters the batch.
func TestLokiSink(t *testing.T) {
	rc := newReceiver(t, reply{status: 204},
		reply{status: 429, header: map[string]string{"Retry-After": "2"}}, reply{status: 503}, reply{status: 204},
		reply{status: 400, body: "entry too far behind"})
	rc.check = checkLoki
	clock := newWaitClock()
	d, err := NewLokiDeliverer(HTTPOptions{URL: rc.URL, Clock: clock}, "")
	if err != nil {
		t.Fatal(err)
	}
	dl := NewDeadLetter(filepath.Join(t.TempDir(), "dl.jsonl"))
	s := NewSink(d, SinkOptions{DeadLetter: dl, Clock: clock, Jitter: func(c time.Duration) time.Duration { return c }})
	defer s.Close()
	if err := sendAdvancing(t.Context(), t, clock, s, sinkEvents(2)); err != nil {
		t.Fatalf("Send() = %v", err)
	}
	if diff := cmp.Diff(clock.recorded(), []time.Duration{2 * time.Second, 200 * time.Millisecond}); diff != "" {
		t.Errorf("waits (-got +want):\n%s", diff)
	}
	if err := sendAdvancing(t.Context(), t, clock, s, sinkEvents(3)[2:]); err != nil {
		t.Fatalf("Send() = %v", err)
	}
	if got, want := len(rc.requests()), 4; got != want {
		t.Errorf("requests = %d, want %d", got, want)
	}
	var got []string
	for _, l := range readDeadLetters(t, dl.Path()) {
		got = append(got, l.Event.ID+": "+l.Reason)
	}
	if diff := cmp.Diff(got, []string{"e2: loki: status 400: entry too far behind"}); diff != "" {
		t.Errorf("dead letters (-got +want):\n%s", diff)
	}
}

func TestHTTPDelivererErrors(t *testing.T) {
	closed := newReceiver(t, reply{status: 204})
	closed.Close()
	tests := []struct {
		name string
		url  string
		want string
	}{
		{"no scheme", "localhost:3100", `creating loki sink: url "localhost:3100": want http:// or https:// and a host`},
		{"ftp", "ftp://h/", `creating loki sink: url "ftp://h/": want http:// or https:// and a host`},
		{"bad escape", "http://h/%zz", `creating loki sink: url "http://h/%zz": parse "http://h/%zz": invalid URL escape "%zz"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewLokiDeliverer(HTTPOptions{URL: tt.url}, "")
			if err == nil || err.Error() != tt.want {
				t.Errorf("NewLokiDeliverer(%q) = %v, want %s", tt.url, err, tt.want)
			}
		})
	}
	t.Run("no answer is retryable", func(t *testing.T) {
		d, err := NewLokiDeliverer(HTTPOptions{URL: closed.URL}, "")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := outcome(d.Deliver(t.Context(), sinkEvents(1))), "retryable: status 0 after 0s"; got != want {
			t.Errorf("Deliver() = %s, want %s", got, want)
		}
	})
}
