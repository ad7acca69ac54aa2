package logship

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// sinkTime is the event time of the sink tests' events.
var sinkTime = time.Date(2026, 3, 1, 12, 30, 45, 123456789, time.UTC)

func TestAppendEvent(t *testing.T) {
	full := Event{
		ID: "0a1b", Time: sinkTime, App: "web", Side: "old", Host: "h1",
		File: "/var/log/nginx/access.log", Offset: 4096, End: 4200,
		Record: Record{
			Method: "GET", Path: []byte("/users/42"), Endpoint: "/users/:id", Status: 502,
			Bytes: 0, Duration: 1500 * time.Millisecond, Upstream: 250 * time.Microsecond,
			Present: HasBytes | HasDuration | HasUpstream, Level: "error",
			Message: []byte("upstream \"timed\" out"), Fields: map[string]string{"req_id": "r1", "a": "b"},
			Raw: []byte(`1.2.3.4 - - "GET /users/42"`), ParseError: "malformed field",
		},
		Split: true, Unterminated: true,
	}
	tests := []struct {
		name string
		ev   Event
		want map[string]any
	}{
		{"every field", full, map[string]any{
			"id": "0a1b", "time": "2026-03-01T12:30:45.123456789Z", "app": "web", "side": "old", "host": "h1",
			"file": "/var/log/nginx/access.log", "offset": 4096.0, "line": `1.2.3.4 - - "GET /users/42"`,
			"method": "GET", "path": "/users/42", "endpoint": "/users/:id", "status": 502.0, "bytes": 0.0,
			"duration_seconds": 1.5, "upstream_seconds": 0.00025, "level": "error",
			"message": `upstream "timed" out`, "fields": map[string]any{"a": "b", "req_id": "r1"},
			"parse_error": "malformed field", "split": true, "unterminated": true,
		}},
		{"raw line only", Event{ID: "ff", Time: sinkTime, App: "web", Side: "new", Record: Record{Raw: []byte("hello")}},
			map[string]any{
				"id": "ff", "time": "2026-03-01T12:30:45.123456789Z", "app": "web", "side": "new", "host": "",
				"file": "", "offset": 0.0, "line": "hello",
			}},
		{"invalid utf-8 and controls", Event{ID: "1", Time: sinkTime, Record: Record{Raw: []byte("a\xffb\x00\t\u2028")}},
			map[string]any{
				"id": "1", "time": "2026-03-01T12:30:45.123456789Z", "app": "", "side": "", "host": "",
				"file": "", "offset": 0.0, "line": "a\ufffdb\x00\t\u2028",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := AppendEvent(nil, &tt.ev)
			var got map[string]any
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("AppendEvent() = %s: not JSON: %v", out, err)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("AppendEvent() mismatch (-got +want):\n%s", diff)
			}
		})
	}
	t.Run("key order", func(t *testing.T) {
		out := string(AppendEvent(nil, &full))
		keys := []string{"id", "time", "app", "side", "host", "file", "offset", "line", "method", "path",
			"endpoint", "status", "bytes", "duration_seconds", "upstream_seconds", "level", "message",
			"fields", "parse_error", "split", "unterminated"}
		last := -1
		for _, k := range keys {
			i := strings.Index(out, `"`+k+`":`)
			if i <= last {
				t.Errorf("key %q at %d, want after %d in %s", k, i, last, out)
			}
			last = i
		}
	})
}

// TestEncString compares the string encoding with encoding/json's (HTML
// escaping off), byte for byte.
func TestEncString(t *testing.T) {
	tests := []struct {
		name, in string
	}{
		{"empty", ""},
		{"ascii", "GET /index.html?q=1"},
		{"quotes and backslash", `say "hi" \o/`},
		{"controls", "\x00\x01\b\f\n\r\t\x1f\x7f"},
		{"html stays", "<a href='x'>&amp;</a>"},
		{"multibyte", "héllo wörld ✓ 日本 🎉"},
		{"invalid bytes", "a\xffb\xc3(c\xe2\x82"},
		{"truncated rune at end", "ok\xf0\x9f\x98"},
		{"line separators", "a\u2028b\u2029c"},
		{"surrogate encoded", "\xed\xa0\x80"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(encString(nil, tt.in))
			if got != stdJSONString(t, tt.in) {
				t.Errorf("encString(%q) = %s, want %s", tt.in, got, stdJSONString(t, tt.in))
			}
		})
	}
}

// stdJSONString is s as encoding/json writes it without HTML escaping.
func stdJSONString(t testing.TB, s string) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// FuzzAppendEvent checks that any bytes in an event give one valid JSON
// object whose strings are what encoding/json would have written.
func FuzzAppendEvent(f *testing.F) {
	f.Add("id", "web", []byte(`1.2.3.4 - - [x] "GET / HTTP/1.1" 200 5`), []byte("msg"), "k", "v", int64(3))
	f.Add("", "", []byte("\xff\xfe\x00\"\\"), []byte(nil), "\xff", "\u2028", int64(-1))
	f.Fuzz(func(t *testing.T, id, host string, raw, msg []byte, key, val string, off int64) {
		ev := Event{ID: id, Time: time.Unix(0, off).UTC(), App: "a", Side: "old", Host: host, Offset: off,
			Record: Record{Raw: raw, Message: msg, Path: raw, Fields: map[string]string{key: val},
				Duration: time.Duration(off), Present: HasDuration, ParseError: host}}
		out := AppendEvent([]byte("prefix"), &ev)[len("prefix"):]
		var got struct {
			ID, Host, Line, Message string
			Offset                  int64
			Fields                  map[string]string
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("AppendEvent() = %q: not JSON: %v", out, err)
		}
		if want := stdJSONString(t, host); string(encString(nil, host)) != want {
			t.Errorf("encString(%q) = %s, want %s", host, encString(nil, host), want)
		}
		var wantLine string
		if err := json.Unmarshal([]byte(stdJSONString(t, string(raw))), &wantLine); err != nil {
			t.Fatal(err)
		}
		if got.Line != wantLine || got.Message != strings.ToValidUTF8(got.Message, "") {
			t.Errorf("line = %q, want %q as encoding/json reads it back", got.Line, wantLine)
		}
		if got.Offset != off || len(got.Fields) != 1 {
			t.Errorf("offset %d fields %v, want %d and one field", got.Offset, got.Fields, off)
		}
	})
}

// BenchmarkAppendEvent encodes a typical parsed access line, the hot path
// of the file, stdout and Elasticsearch sinks.
func BenchmarkAppendEvent(b *testing.B) {
	ev := Event{
		ID: "9f86d081884c7d65", Time: sinkTime, App: "bobbarker", Side: "old", Host: "web-1",
		File: "/var/log/nginx/bobbarker.access.log", Offset: 123456789,
		Record: Record{
			Method: "GET", Path: []byte("/giveaways/1234/entries"), Endpoint: "/giveaways/:id/entries",
			Status: 200, Bytes: 5120, Duration: 23 * time.Millisecond, Present: HasBytes | HasDuration,
			Raw: []byte(`203.0.113.7 - - [01/Mar/2026:12:30:45 +0000] "GET /giveaways/1234/entries HTTP/1.1" 200 5120 "https://bobbarker.example.com/" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36"`),
		},
	}
	buf := AppendEvent(nil, &ev)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendEvent(buf[:0], &ev)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkJSONMarshalEvent is the peer: encoding/json on a struct with
// the same keys, for the ratio in BENCHMARKS.md.
func BenchmarkJSONMarshalEvent(b *testing.B) {
	type doc struct {
		ID       string  `json:"id"`
		Time     string  `json:"time"`
		App      string  `json:"app"`
		Side     string  `json:"side"`
		Host     string  `json:"host"`
		File     string  `json:"file"`
		Offset   int64   `json:"offset"`
		Line     string  `json:"line"`
		Method   string  `json:"method,omitempty"`
		Path     string  `json:"path,omitempty"`
		Endpoint string  `json:"endpoint,omitempty"`
		Status   int     `json:"status,omitempty"`
		Bytes    int64   `json:"bytes"`
		Duration float64 `json:"duration_seconds"`
	}
	raw := []byte(`203.0.113.7 - - [01/Mar/2026:12:30:45 +0000] "GET /giveaways/1234/entries HTTP/1.1" 200 5120 "https://bobbarker.example.com/" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36"`)
	path := []byte("/giveaways/1234/entries")
	b.ReportAllocs()
	var n int
	for b.Loop() {
		d := doc{ID: "9f86d081884c7d65", Time: sinkTime.Format(time.RFC3339Nano), App: "bobbarker", Side: "old",
			Host: "web-1", File: "/var/log/nginx/bobbarker.access.log", Offset: 123456789, Line: string(raw),
			Method: "GET", Path: string(path), Endpoint: "/giveaways/:id/entries", Status: 200, Bytes: 5120,
			Duration: 0.023}
		out, err := json.Marshal(&d)
		if err != nil {
			b.Fatal(err)
		}
		n = len(out)
	}
	b.SetBytes(int64(n))
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
