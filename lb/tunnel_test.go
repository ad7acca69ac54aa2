package lb

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/migratekit/migrate/manifest"
)

// Upgraded connections (websocket) on every path: the loops tunnel them
// (looptunnel_linux.go), net/http's path through httputil.ReverseProxy.

// switchBackend is a raw backend that answers an upgrade request 101 and
// then runs tunnel on the connection (with what the reader has buffered
// first); a request without Upgrade gets 200 "plain", and refuse makes
// it answer an upgrade request 403 instead of switching.
func switchBackend(t *testing.T, refuse bool, tunnel func(c net.Conn, br *bufio.Reader)) string {
	t.Helper()
	ln := serveConns(t, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, req.Body)
			switch {
			case req.Header.Get("Upgrade") == "":
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nplain")
			case refuse:
				io.WriteString(c, "HTTP/1.1 403 Forbidden\r\nContent-Length: 7\r\n\r\nrefused")
			default:
				io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: "+req.Header.Get("Upgrade")+"\r\n\r\n")
				tunnel(c, br)
				return
			}
		}
	})
	return "http://" + ln.Addr().String()
}

// upgradeRequest asks to switch to websocket (the handshake's fields do
// not matter to the raw backends).
const upgradeRequest = "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"

// switched sends the upgrade request on a new raw connection to r and
// reads the 101.
func switched(t *testing.T, r *running) *rawConn {
	t.Helper()
	c := dialRaw(t, r)
	c.send(t, upgradeRequest)
	if code, h := c.head(t); code != http.StatusSwitchingProtocols || h.Get("Upgrade") != "websocket" {
		t.Fatalf("answer %d, Upgrade %q; want 101 websocket", code, h.Get("Upgrade"))
	}
	return c
}

// closeWrite shuts c for writing.
func closeWrite(t *testing.T, c net.Conn) {
	t.Helper()
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
}

// TestLoopTunnelsItself: a loop carries a websocket itself: no connection
// goes to net/http, and messages go both ways.
func TestLoopTunnelsItself(t *testing.T) {
	t.Parallel()
	var handed atomic.Int64
	ws := echoBackend(t)
	r := start(t, pathAuto, oneApp(testApp(ws, ws)), Options{test: testHooks{handedOff: func() { handed.Add(1) }}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(r.base, "http")+"/ws", &websocket.DialOptions{HTTPClient: r.client})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if got, err := echo(ctx, c, "hello"); err != nil || got != "hello" {
		t.Fatalf("echo %q, %v", got, err)
	}
	if n := handed.Load(); n != 0 {
		t.Errorf("%d connections handed to net/http, want none", n)
	}
}

// TestLoopTunnelsMirrored: a loop carries the websocket of a client the
// app's mirror samples too (the mirror is told of the switch, as of any
// request), handing nothing to net/http.
func TestLoopTunnelsMirrored(t *testing.T) {
	t.Parallel()
	var handed atomic.Int64
	mirror := &teeMirror{}
	ws := echoBackend(t)
	r := start(t, pathAuto, oneApp(testApp(ws, ws)), Options{
		Mirrors: map[string]Mirror{"web": mirror},
		test:    testHooks{handedOff: func() { handed.Add(1) }},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(r.base, "http")+"/ws", &websocket.DialOptions{HTTPClient: r.client})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if got, err := echo(ctx, c, "hello"); err != nil || got != "hello" {
		t.Fatalf("echo %q, %v", got, err)
	}
	if n := handed.Load(); n != 0 {
		t.Errorf("%d connections handed to net/http, want none", n)
	}
	mirror.mu.Lock()
	defer mirror.mu.Unlock()
	if mirror.began != 1 {
		t.Errorf("the mirror was told of %d requests, want the upgrade", mirror.began)
	}
}

// TestTunnelClientHalfClose: the client's end of stream reaches the
// backend as one (the backend's socket shut for writing), and what the
// backend then sends still reaches the client, then its end.
func TestTunnelClientHalfClose(t *testing.T) { forEachPath(t, testTunnelClientHalfClose) }

func testTunnelClientHalfClose(t *testing.T, path dataPath) {
	u := switchBackend(t, false, func(c net.Conn, br *bufio.Reader) {
		got, _ := io.ReadAll(br) // up to the end of stream the proxy passed on
		io.WriteString(c, "got "+string(got))
	})
	r := start(t, path, oneApp(urlApp(u)), Options{})
	c := switched(t, r)
	c.send(t, "abc")
	closeWrite(t, c.Conn)
	if got, err := io.ReadAll(c.br); err != nil || string(got) != "got abc" {
		t.Errorf("after the half-close the client read %q, %v; want %q and the end of stream", got, err, "got abc")
	}
}

// TestTunnelBackendHalfClose: the backend's end of stream reaches the
// client as one, and what the client then sends still reaches the
// backend.
func TestTunnelBackendHalfClose(t *testing.T) { forEachPath(t, testTunnelBackendHalfClose) }

func testTunnelBackendHalfClose(t *testing.T, path dataPath) {
	after := make(chan string, 1)
	u := switchBackend(t, false, func(c net.Conn, br *bufio.Reader) {
		io.WriteString(c, "bye")
		_ = c.(*net.TCPConn).CloseWrite()
		got, _ := io.ReadAll(br)
		after <- string(got)
	})
	r := start(t, path, oneApp(urlApp(u)), Options{})
	c := switched(t, r)
	if got, err := io.ReadAll(c.br); err != nil || string(got) != "bye" {
		t.Fatalf("the client read %q, %v; want \"bye\" and the end of stream", got, err)
	}
	c.send(t, "still here")
	closeWrite(t, c.Conn)
	select {
	case got := <-after:
		if got != "still here" {
			t.Errorf("the backend read %q after its half-close, want \"still here\"", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the backend did not get the client's end of stream")
	}
}

// TestTunnelRefused: a backend that answers an upgrade request with
// anything but 101 gives an ordinary answer, and the connection serves
// the next request.
func TestTunnelRefused(t *testing.T) { forEachPath(t, testTunnelRefused) }

func testTunnelRefused(t *testing.T, path dataPath) {
	u := switchBackend(t, true, nil)
	r := start(t, path, oneApp(urlApp(u)), Options{})
	c := dialRaw(t, r)
	c.send(t, upgradeRequest)
	if res, body := c.response(t, http.MethodGet); res.StatusCode != http.StatusForbidden || body != "refused" {
		t.Errorf("answer %d %q, want 403 \"refused\"", res.StatusCode, body)
	}
	c.send(t, get("/next"))
	if res, body := c.response(t, http.MethodGet); res.StatusCode != 200 || body != "plain" {
		t.Errorf("next answer %d %q, want 200 \"plain\"", res.StatusCode, body)
	}
}

// TestTunnelBackendCloses: a backend that closes in the middle of a
// tunnel ends the client's stream after what it sent, and once the client
// closes too the upgrade is counted as one request of status 101.
func TestTunnelBackendCloses(t *testing.T) { forEachPath(t, testTunnelBackendCloses) }

func testTunnelBackendCloses(t *testing.T, path dataPath) {
	u := switchBackend(t, false, func(c net.Conn, br *bufio.Reader) {
		line, _ := br.ReadString('\n')
		io.WriteString(c, "echo "+line)
	})
	metrics, reg := newMetrics(t)
	r := start(t, path, oneApp(urlApp(u)), Options{Metrics: metrics})
	c := switched(t, r)
	c.send(t, "one\n")
	if got, err := io.ReadAll(c.br); err != nil || string(got) != "echo one\n" {
		t.Errorf("the client read %q, %v; want \"echo one\\n\" and the end of stream", got, err)
	}
	c.Close()
	labels := map[string]string{"app": "web", "side": "old", "code_class": "1xx"}
	eventually(t, "the tunnel to be counted", func() bool {
		return metricValue(t, reg, "migrate_proxy_requests_total", labels) == 1
	})
}

// TestTunnelClientCloses: a client that closes in the middle of a tunnel
// closes the backend's connection.
func TestTunnelClientCloses(t *testing.T) { forEachPath(t, testTunnelClientCloses) }

func testTunnelClientCloses(t *testing.T, path dataPath) {
	ended := make(chan string, 1)
	u := switchBackend(t, false, func(c net.Conn, br *bufio.Reader) {
		line, _ := br.ReadString('\n')
		io.WriteString(c, "echo "+line)
		_, _ = io.Copy(io.Discard, br)
		ended <- line
	})
	r := start(t, path, oneApp(urlApp(u)), Options{})
	c := switched(t, r)
	c.send(t, "one\n")
	if line, err := c.br.ReadString('\n'); err != nil || line != "echo one\n" {
		t.Fatalf("the client read %q, %v", line, err)
	}
	c.Close()
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the backend's connection stayed open after the client closed")
	}
}

// TestTunnelBackpressure: 16 MiB each way at once through a tunnel to an
// echo, read back in small pieces (the proxy's buffers fill and it must
// stop reading the side that is ahead): every byte arrives, in order.
func TestTunnelBackpressure(t *testing.T) { forEachPath(t, testTunnelBackpressure) }

func testTunnelBackpressure(t *testing.T, path dataPath) {
	u := switchBackend(t, false, func(c net.Conn, br *bufio.Reader) {
		_, _ = io.Copy(c, br)
	})
	r := start(t, path, oneApp(urlApp(u)), Options{})
	c := switched(t, r)
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	const size = 16 << 20
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7 / 3)
	}
	wrote := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		wrote <- err
	}()
	got := sha256.New()
	buf := make([]byte, 1000)
	for n := 0; n < size; {
		k, err := c.br.Read(buf[:min(len(buf), size-n)])
		if err != nil {
			t.Fatalf("reading the echo after %d bytes: %v", n, err)
		}
		got.Write(buf[:k])
		n += k
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if want := sha256.Sum256(data); !bytes.Equal(got.Sum(nil), want[:]) {
		t.Error("the echo differs from what was sent")
	}
}

// urlApp is an app on 127.0.0.1:0 with backend u on both sides.
func urlApp(u string) *manifest.App {
	return &manifest.App{Listen: "127.0.0.1:0", Old: manifest.Pool{Backends: []string{u}}, New: manifest.Pool{Backends: []string{u}}}
}
