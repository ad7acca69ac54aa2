package lb

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/migratekit/migrate/manifest"
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

// TestHead checks that the answer to HEAD keeps the backend's
// Content-Length and has no body.
func TestHead(t *testing.T) { forEachPath(t, testHead) }

func testHead(t *testing.T, path dataPath) {
	b := newBackendFunc(t, "b", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1234")
		if r.Method != http.MethodHead {
			w.Write(make([]byte, 1234))
		}
	})
	r := start(t, path, oneApp(testApp(b, b)), Options{})
	res, err := r.client.Head(r.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.ContentLength != 1234 {
		t.Errorf("HEAD Content-Length = %d, want 1234", res.ContentLength)
	}
}

// TestInterimThenSilence checks that the response-header timeout runs to
// the final answer head: a backend that sends 103 Early Hints and then
// nothing gets the client a 504, on every path.
func TestInterimThenSilence(t *testing.T) { forEachPath(t, testInterimThenSilence) }

func testInterimThenSilence(t *testing.T, path dataPath) {
	app := hintingApp(t)
	r := start(t, path, oneApp(app), Options{})
	r.client.Timeout = 10 * time.Second // a wait that never ends fails the test
	if code, _, body := r.do(t, http.MethodGet, "/", "", nil); code != http.StatusGatewayTimeout || body != "gateway timeout\n" {
		t.Errorf("answer %d %q, want 504 \"gateway timeout\\n\"", code, body)
	}
}

// hintingApp is an app whose one backend answers a request with 103
// Early Hints and then nothing, with a 100 ms response-header timeout.
func hintingApp(t *testing.T) *manifest.App {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hinted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(hinted)
			return
		}
		if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
			io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n")
		}
		hinted <- c // kept open, silent, until the test ends
	}()
	t.Cleanup(func() {
		ln.Close()
		if c, ok := <-hinted; ok {
			c.Close()
		}
	})
	u := "http://" + ln.Addr().String()
	return &manifest.App{Listen: "127.0.0.1:0", Old: manifest.Pool{Backends: []string{u}}, New: manifest.Pool{Backends: []string{u}},
		Timeouts: manifest.Timeouts{ResponseHeader: manifest.Duration(100 * time.Millisecond)}}
}
