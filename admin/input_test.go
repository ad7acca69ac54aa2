package admin

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// send sends one request to addr and returns its status and body.
func send(t *testing.T, addr, method, path, host, auth, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestStrictBodies: a write's JSON body is one value with exactly the
// fields' names, each once, through a real listener; a refused body
// changes nothing.
func TestStrictBodies(t *testing.T) {
	t.Parallel()
	api, proxy, _ := newAPI(t, token)
	addr := serveAPI(t, api).Addr().String()
	const weight, rollback, promote = "/api/v1/apps/shop/weight", "/api/v1/apps/shop/rollback", "/api/v1/apps/shop/plan/promote"
	tests := []struct {
		name, method, path, body string
		want                     int
		wantErr                  string
	}{
		{"data after the value", "PUT", weight, `{"weight": 35} garbage`, 400, "invalid character 'g' after top-level value"},
		{"a second value", "PUT", weight, `{"weight": 35}{"weight": 36}`, 400, "after top-level value"},
		{"a key in another case", "PUT", weight, `{"WEIGHT": 32}`, 400, `unknown object member name \"WEIGHT\"`},
		{"a key twice", "PUT", weight, `{"weight": 10, "weight": 90}`, 400, `duplicate object member name \"weight\"`},
		{"an unknown key", "PUT", weight, `{"weight": 10, "force": true}`, 400, `unknown object member name \"force\"`},
		{"too large", "PUT", weight, `{"weight": 10, "reason": "` + strings.Repeat("x", 70<<10) + `"}`, 413, "over 64 KiB"},
		{"rollback reason twice", "POST", rollback, `{"reason": "a", "reason": "b"}`, 400, "duplicate object member name"},
		{"rollback reason in another case", "POST", rollback, `{"Reason": "a"}`, 400, "unknown object member name"},
		{"promote with data after", "POST", promote, `{"full": true} x`, 400, "after top-level value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := send(t, addr, tt.method, tt.path, "", token, tt.body)
			if code != tt.want || !strings.Contains(body, tt.wantErr) {
				t.Errorf("%s %s: %d %s; want %d with %q", tt.method, tt.path, code, body, tt.want, tt.wantErr)
			}
			if w := proxy.App("shop").Weight(); w != 0 {
				t.Errorf("weight %d after a refused body, want 0", w)
			}
		})
	}
	if code, body := send(t, addr, "PUT", weight, "", token, "{\"weight\": 35}\n"); code != 200 || proxy.App("shop").Weight() != 35 {
		t.Errorf("a good body: %d %s, weight %d", code, body, proxy.App("shop").Weight())
	}
}

// rawRequest writes head to a new connection to addr and returns the
// connection and its reader; it fails the test if no answer comes
// within 10 s.
func rawRequest(t *testing.T, addr, head string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	return c, bufio.NewReader(c)
}

// TestBodyTimeout: a request body that never arrives is answered 408 and
// its connection closed, for a handler that reads it and for one that
// does not (the server read the rest after the answer, with no deadline).
func TestBodyTimeout(t *testing.T) {
	t.Parallel()
	api, _, _ := newAPI(t, token, func(o *Options) { o.BodyTimeout = 200 * time.Millisecond })
	addr := serveAPI(t, api).Addr().String()

	_, br := rawRequest(t, addr, "PUT /api/v1/apps/shop/weight HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "+token+"\r\nContent-Length: 20\r\n\r\n{\"wei")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer to a body that stopped: %v", err)
	}
	if resp.StatusCode != http.StatusRequestTimeout || !resp.Close {
		t.Errorf("got %d (close %v), want 408 and the connection closed", resp.StatusCode, resp.Close)
	}

	_, br = rawRequest(t, addr, "GET /api/v1/apps HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n\r\n")
	resp, err = http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET with a body that never comes: %v %v", resp, err)
	}
	io.Copy(io.Discard, resp.Body)
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("after the answer the connection was not closed: %v", err)
	}
}

// TestHostCheck: a loopback admin listener answers only requests whose
// Host is one of its names or addresses; a browser's request after DNS
// rebinding carries the attacker's name.
func TestHostCheck(t *testing.T) {
	t.Parallel()
	api, _, _ := newAPI(t, token, func(o *Options) { o.Hosts = []string{"Admin.Internal"} })
	addr := serveAPI(t, api).Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	tests := []struct {
		host, path, auth string
		want             int
	}{
		{"127.0.0.1:" + port, "/api/v1/apps", "", 200},
		{"127.0.0.1", "/api/v1/apps", "", 200},
		{"localhost:" + port, "/api/v1/apps", "", 200},
		{"LOCALHOST.:" + port, "/api/v1/apps", "", 200},
		{"[::1]:" + port, "/api/v1/apps", "", 200},
		{"127.0.0.2:" + port, "/api/v1/apps", "", 200},
		{"admin.internal:" + port, "/api/v1/apps", "", 200},
		{"evil.example:" + port, "/api/v1/apps", "", 421},
		{"evil.example:" + port, "/metrics", "", 421},
		{"evil.example:" + port, "/api/v1/apps/shop/weight", token, 421},
		{"localhost.evil.example", "/api/v1/apps", "", 421},
		{"10.0.0.5:" + port, "/api/v1/apps", "", 421},
		{"evil.example:" + port, "/healthz", "", 200},
	}
	for _, tt := range tests {
		method := "GET"
		if strings.HasSuffix(tt.path, "/weight") {
			method = "PUT"
		}
		code, body := send(t, addr, method, tt.path, tt.host, tt.auth, `{"weight": 1}`)
		if code != tt.want {
			t.Errorf("%s %s with Host %s: %d %s, want %d", method, tt.path, tt.host, code, body, tt.want)
		}
	}
	_, br := rawRequest(t, addr, "GET /api/v1/apps HTTP/1.0\r\n\r\n")
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
		t.Errorf("HTTP/1.0 without Host: %v %v", resp, err)
	}
}
