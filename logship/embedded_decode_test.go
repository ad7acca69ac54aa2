package logship

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDecodeEventJSON(t *testing.T) {
	full := Event{ID: "ab12", Time: time.Date(2026, 3, 1, 12, 0, 0, 123, time.UTC), App: "shop", Side: "new",
		Host: "web1", File: "/var/log/a.log", Offset: 42, Split: true, Unterminated: true,
		Record: Record{Raw: []byte(`GET /users/7 "x"`), Method: "GET", Path: []byte("/users/7"), Endpoint: "/users/:id",
			Status: 503, Bytes: 0, Duration: 1500 * time.Millisecond, Upstream: 20 * time.Millisecond,
			Present: HasBytes | HasDuration | HasUpstream, Level: "error", Message: []byte("boom"),
			Fields: map[string]string{"k": "v"}, ParseError: "malformed field"}}
	tests := []struct {
		name string
		ev   Event
	}{
		{"every field", full},
		{"a bare line", Event{ID: "1", Time: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Record: Record{Raw: []byte{}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeEventJSON(AppendEvent(nil, &tt.ev))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got, tt.ev); diff != "" {
				t.Errorf("round trip (-got +want):\n%s", diff)
			}
		})
	}
}

func TestDecodeEventJSONErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"not json", `GET / HTTP/1.1`, ErrEventJSON},
		{"unknown key", `{"id":"1","time":"2026-03-01T00:00:00Z","line":"","colour":"red"}`, ErrEventJSON},
		{"trailing data", `{"id":"1","time":"2026-03-01T00:00:00Z","line":""} {}`, ErrEventJSON},
		{"a key twice", `{"id":"1","time":"2026-03-01T00:00:00Z","line":"a","line":"b"}`, ErrEventJSON},
		{"a key in another case", `{"id":"1","time":"2026-03-01T00:00:00Z","line":"","Status":500}`, ErrEventJSON},
		{"no id", `{"time":"2026-03-01T00:00:00Z","line":""}`, ErrEventField},
		{"no time", `{"id":"1","line":""}`, ErrEventField},
		{"no line", `{"id":"1","time":"2026-03-01T00:00:00Z"}`, ErrEventField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeEventJSON([]byte(tt.in))
			if !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
		})
	}
}

// FuzzDecodeEventJSON checks that any input decodes or fails cleanly, and
// that what decodes encodes and decodes again to the same event.
func FuzzDecodeEventJSON(f *testing.F) {
	f.Add([]byte(`{"id":"1","time":"2026-03-01T00:00:00Z","line":"x","status":500,"duration_seconds":0.25}`))
	f.Add([]byte(`{"id":"1","time":"2026-03-01T00:00:00Z","line":"","fields":{"a":"b"},"bytes":3}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := DecodeEventJSON(data)
		if err != nil {
			return
		}
		again, err := DecodeEventJSON(AppendEvent(nil, &ev))
		if err != nil {
			t.Fatalf("re-decoding %q: %v", AppendEvent(nil, &ev), err)
		}
		if !again.Time.Equal(ev.Time) || again.ID != ev.ID || again.Record.Status != ev.Record.Status {
			t.Errorf("round trip changed the event: %+v, then %+v", ev, again)
		}
	})
}
