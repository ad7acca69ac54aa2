package lb

import (
	"net/http"
	"testing"
)

// TestOddAnswers: answers a backend should not send reach the client as
// on every other path: an HTTP/1.0 answer as HTTP/1.1 (the client's
// connection is 1.1, and a 1.0 status line would make it close), a 101 to
// a request that asked for no upgrade as 502, and a 204 without the length
// of a body it cannot have.
func TestOddAnswers(t *testing.T) { forEachPath(t, testOddAnswers) }

func testOddAnswers(t *testing.T, path dataPath) {
	tests := []struct {
		name, answer string
		closeUp      bool
		wantLine     string // the answer's status line
		wantBody     string
		noLength     bool // the answer has no Content-Length
	}{
		{"HTTP/1.0 backend", "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello", true, "HTTP/1.1 200 OK", "hello", false},
		{"switch nobody asked for", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", true, "HTTP/1.1 502 Bad Gateway", "bad gateway\n", false},
		{"204 with a length", "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", false, "HTTP/1.1 204 No Content", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rb := newRawBackend(t, func(*http.Request, int) (string, bool) { return tt.answer, tt.closeUp })
			r := start(t, path, oneApp(rb.app()), Options{})
			c := dialRaw(t, r)
			c.send(t, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			res, body := c.response(t, http.MethodGet)
			if line := res.Proto + " " + res.Status; line != tt.wantLine {
				t.Errorf("status line %q, want %q", line, tt.wantLine)
			}
			if body != tt.wantBody {
				t.Errorf("body %q, want %q", body, tt.wantBody)
			}
			if _, ok := res.Header["Content-Length"]; ok && tt.noLength {
				t.Errorf("Content-Length %q on a %d", res.Header.Get("Content-Length"), res.StatusCode)
			}
		})
	}
}
