package lb

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/migratekit/migrate/manifest"
)

// The bytes a backend receives for a client's request are the same from
// both data paths, and the same as net/http's own proxy,
// httputil.ReverseProxy with SetURL and SetXForwarded, would send, but
// where the project's rules differ on purpose:
//   - Host stays the client's (SetURL would send the backend's): the apps
//     behind the proxy route and build links on the public name, as
//     behind nginx's "proxy_set_header Host $host".
//   - the toolkit's reserved headers (X-Migrate-Shadow, -Replay, rules.go)
//     are dropped, so that only its own requests carry them.
//   - Expect is for the proxy's hop, as nginx has it: the proxy answers
//     100 Continue itself and sends the body with the request.
//   - the request target goes on as the client sent it (no path
//     cleaning, no re-escaping: TestRequestURIUntouched), where net/http's
//     proxy sends its URL re-escaped ("*" of a DELETE becomes "/%2A").
//     Bytes outside ASCII, which RFC 9112 does not allow in a target,
//     the paths percent-encode; net/http's proxy passes them raw.
//   - the trailers of a chunked request go on with its body (Trailer is
//     not hop-by-hop: RFC 9110 6.6.2); net/http's proxy sends their names
//     in a Trailer field but loses their values (sentTrailers).
//   - the request rules (h1.CheckHead) refuse some heads net/http would
//     pass on: those are compared between the paths only (TestRequestRules
//     has the rules).
//
// What legitimately differs in the bytes is normalised away (normalise):
// the order of header fields of different names (net/http writes them
// sorted by name, the loops as they came), the letter case of their names,
// the sizes of the chunks of a chunked body (the loops pass chunks on as
// they come, net/http writes its own): the body is compared decoded, with
// its framing (chunked or by length) and trailers; the Host an HTTP/1.0
// request without one gets (each sender's own backend: ownHost); and a "Content-Length:
// 0" on a request without a body, which says what no length says (RFC
// 9112 6.3): the loops pass on the client's, net/http's transport writes
// one for POST, PUT and PATCH only (reported on issue 15).

// capture is a request as a backend received it.
type capture struct {
	Line     string      // request line
	Header   [][2]string // fields in order, as sent
	Chunked  bool
	Body     string // decoded
	Trailers [][2]string

	ZeroLength bool // it had "Content-Length: 0" (normalise drops it; TestBackendZeroLength)
}

// captureBackend is a raw TCP backend that records the bytes of each
// request it reads and answers it 204.
type captureBackend struct {
	ln  net.Listener
	got chan capture
}

func newCaptureBackend(t testing.TB) *captureBackend {
	t.Helper()
	cb := &captureBackend{got: make(chan capture, 16)}
	cb.ln = serveConns(t, cb.serve)
	return cb
}

func (cb *captureBackend) url() string { return "http://" + cb.ln.Addr().String() }

// serve reads the requests of one connection and answers each.
func (cb *captureBackend) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		got, err := readCapture(br, c)
		if err != nil {
			return
		}
		cb.got <- got
		if _, err := io.WriteString(c, "HTTP/1.1 204 No Content\r\n\r\n"); err != nil {
			return
		}
	}
}

// readCapture reads one request from br as it came: its head line by
// line, then its body by its framing (answering an Expect: 100-continue
// on w first).
func readCapture(br *bufio.Reader, w io.Writer) (capture, error) {
	var got capture
	line, err := readLine(br)
	if err != nil {
		return got, err
	}
	got.Line = line
	if got.Header, err = readFields(br); err != nil {
		return got, err
	}
	length := int64(0)
	for _, f := range got.Header {
		switch strings.ToLower(f[0]) {
		case "transfer-encoding":
			got.Chunked = strings.EqualFold(strings.TrimSpace(f[1]), "chunked")
		case "content-length":
			fmt.Sscan(f[1], &length)
		case "expect":
			io.WriteString(w, "HTTP/1.1 100 Continue\r\n\r\n")
		}
	}
	if got.Chunked {
		body, err := io.ReadAll(httputilChunked(br))
		if err != nil {
			return got, err
		}
		got.Body = string(body)
		got.Trailers, err = readFields(br)
		return got, err
	}
	body := make([]byte, length)
	_, err = io.ReadFull(br, body)
	got.Body = string(body)
	return got, err
}

// httputilChunked decodes a chunked body from br, up to its last chunk
// (the trailer section stays in br).
func httputilChunked(br *bufio.Reader) io.Reader { return httputil.NewChunkedReader(br) }

func readLine(br *bufio.Reader) (string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"), nil
}

// readFields reads header (or trailer) fields up to the empty line.
func readFields(br *bufio.Reader) ([][2]string, error) {
	var fields [][2]string
	for {
		line, err := readLine(br)
		if err != nil || line == "" {
			return fields, err
		}
		name, value, _ := strings.Cut(line, ":")
		fields = append(fields, [2]string{name, strings.TrimSpace(value)})
	}
}

// normalise makes what may differ between senders the same (see the
// comment at the top of the file): names in canonical case, fields sorted
// by name, fields of one name kept in their order.
func normalise(c capture) capture {
	if !c.Chunked && c.Body == "" {
		c.ZeroLength = slices.Contains(c.Header, [2]string{"Content-Length", "0"})
		c.Header = slices.DeleteFunc(c.Header, func(f [2]string) bool {
			return strings.EqualFold(f[0], "Content-Length") && f[1] == "0"
		})
	}
	for _, fs := range [][][2]string{c.Header, c.Trailers} {
		for i := range fs {
			fs[i][0] = http.CanonicalHeaderKey(fs[i][0])
		}
		slices.SortStableFunc(fs, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	}
	return c
}

// sender is a proxy the table's requests go through to its own backend.
type sender struct {
	name    string
	addr    string
	backend *captureBackend
}

// senders are the proxy on each data path and net/http's ReverseProxy,
// the reference, each in front of a capture backend of its own.
func senders(t testing.TB) (paths []sender, reference sender) {
	t.Helper()
	for p := range numPaths {
		cb := newCaptureBackend(t)
		u := cb.url()
		app := &manifest.App{Listen: "127.0.0.1:0", Old: manifest.Pool{Backends: []string{u}}, New: manifest.Pool{Backends: []string{u}}}
		r := serveProxy(t, oneApp(app), Options{test: testHooks{path: p}})
		paths = append(paths, sender{name: p.String(), addr: strings.TrimPrefix(r.base, "http://"), backend: cb})
	}
	cb := newCaptureBackend(t)
	target, _ := url.Parse(cb.url())
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
			pr.Out.Host = pr.In.Host // the project's rule: Host stays the client's
		},
		Transport: &http.Transport{DisableCompression: true, Proxy: nil},
		ErrorLog:  nil,
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	reference = sender{name: "httputil.ReverseProxy", addr: strings.TrimPrefix(srv.URL, "http://"), backend: cb}
	return paths, reference
}

// ownHost writes "backend" for the Host of c when it names s's own backend
// (every sender has its own): what an HTTP/1.0 request without Host
// gets, on every path and from net/http's proxy.
func (s sender) ownHost(c capture) capture {
	for i, f := range c.Header {
		if f[0] == "Host" && "http://"+f[1] == s.backend.url() {
			c.Header[i][1] = "backend"
		}
	}
	return c
}

// send writes raw to s and returns the answer's status and what s's
// backend received (ok false when the proxy answered without it).
func (s sender) send(t testing.TB, raw string) (int, capture, bool) {
	t.Helper()
	for len(s.backend.got) > 0 {
		<-s.backend.got // a request an earlier one left (sent twice)
	}
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatalf("%s: writing request: %v", s.name, err)
	}
	br := bufio.NewReader(c)
	method, _, _ := strings.Cut(raw, " ")
	res, err := http.ReadResponse(br, &http.Request{Method: method})
	for err == nil && res.StatusCode < 200 {
		res, err = http.ReadResponse(br, &http.Request{Method: method})
	}
	if err != nil {
		t.Fatalf("%s: reading answer: %v", s.name, err)
	}
	res.Body.Close()
	select {
	case got := <-s.backend.got:
		return res.StatusCode, s.ownHost(normalise(got)), true
	default:
		return res.StatusCode, capture{}, false
	}
}

// backendRequests are client requests, as raw bytes, whose bytes at the
// backend TestBackendBytes compares.
var backendRequests = []struct{ name, raw string }{
	{"GET", "GET / HTTP/1.1\r\nHost: shop.example\r\nUser-Agent: t\r\nAccept: */*\r\n\r\n"},
	{"no User-Agent", "GET /x HTTP/1.1\r\nHost: shop.example\r\n\r\n"},
	{"path and query as sent", "GET /a/../b%2Fc//d?x=%20&y HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"empty query", "GET /p? HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"header order and case", "GET / HTTP/1.1\r\nhost: x\r\nx-b: 2\r\nX-A: 1\r\ncookie: a=1\r\nCookie: b=2\r\nx-b: 3\r\n\r\n"},
	{"empty value", "GET / HTTP/1.1\r\nHost: x\r\nX-Empty:\r\nX-Space:   v  \r\n\r\n"},
	{"POST with a length", "POST /f HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"},
	{"empty POST", "POST /f HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"},
	{"POST without a length", "POST /f HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"GET with a zero length", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"},
	{"DELETE *", "DELETE * HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"a quote in the target", "GET /a\"b HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"chunked upload", "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"},
	{"chunked upload with trailer", "POST /c HTTP/1.1\r\nHost: x\r\nTrailer: X-Sum\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Sum: 9\r\n\r\n"},
	{"Expect: 100-continue", "PUT /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc"},
	{"hop-by-hop", "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, X-Secret\r\nX-Secret: 1\r\nKeep-Alive: 300\r\nProxy-Connection: keep-alive\r\nProxy-Authorization: Basic eDp5\r\nTE: gzip\r\nUpgrade: h2c\r\nX-Kept: yes\r\n\r\n"},
	{"websocket upgrade", "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://x\r\n\r\n"},
	{"Upgrade without Connection: upgrade", "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n"},
	{"TE: trailers", "GET / HTTP/1.1\r\nHost: x\r\nTE: trailers\r\n\r\n"},
	{"client's X-Forwarded-*", "GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Host: evil\r\nX-Forwarded-Proto: https\r\nForwarded: for=6.6.6.6\r\nVia: 1.1 other\r\n\r\n"},
	{"reserved headers", "GET / HTTP/1.1\r\nHost: x\r\nX-Migrate-Shadow: 1\r\nX-Migrate-Replay: 1\r\n\r\n"},
	{"HEAD", "HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"DELETE", "DELETE /d HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"HTTP/1.0", "GET /old HTTP/1.0\r\nHost: x\r\n\r\n"},
	{"HTTP/1.0 without Host", "GET /old HTTP/1.0\r\nUser-Agent: t\r\n\r\n"},
	{"HTTP/1.0 POST without Host", "POST /f HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello"},
	{"Host with a port", "GET / HTTP/1.1\r\nHost: shop.example:8080\r\n\r\n"},
	{"obs-text value", "GET / HTTP/1.1\r\nHost: x\r\nX-Latin: caf\xe9\r\n\r\n"},
}

// TestBackendBytes checks that a backend receives the same request from
// both data paths, and the request net/http's own proxy would send but
// where the project's rules differ (the top of this file says where).
func TestBackendBytes(t *testing.T) {
	t.Parallel()
	paths, reference := senders(t)
	for _, tt := range backendRequests {
		t.Run(tt.name, func(t *testing.T) {
			compareSenders(t, paths, reference, tt.raw)
		})
	}
}

// compareSenders sends raw through every sender and compares what their
// backends received.
func compareSenders(t testing.TB, paths []sender, reference sender, raw string) {
	t.Helper()
	code, want, reached := paths[0].send(t, raw)
	for _, s := range paths[1:] {
		c, got, ok := s.send(t, raw)
		if c != code || ok != reached {
			t.Fatalf("%q: %s answered %d (backend reached: %v), %s %d (%v)", raw, paths[0].name, code, reached, s.name, c, ok)
		}
		if diff := cmp.Diff(want, got, ignoreZeroLength); diff != "" {
			t.Errorf("%q: the backend of %s received (-) and of %s (+):\n%s", raw, paths[0].name, s.name, diff)
		}
	}
	if !reached {
		return // the request rules refused it: net/http's proxy has none
	}
	if _, ref, ok := reference.send(t, raw); ok {
		if diff := cmp.Diff(expected(ref, raw), want, ignoreZeroLength); diff != "" {
			t.Errorf("%q: the backend of %s received (-) and of the paths (+):\n%s", raw, reference.name, diff)
		}
	}
}

var ignoreZeroLength = cmpopts.IgnoreFields(capture{}, "ZeroLength")

// TestBackendZeroLength checks that both paths say "Content-Length: 0"
// to the backend of a request without a body alike. They do not today:
// the loops pass on the client's (or none), net/http's transport writes
// one for POST, PUT and PATCH only, whatever the client sent (issue 15).
func TestBackendZeroLength(t *testing.T) {
	t.Parallel()
	paths, _ := senders(t)
	for _, raw := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\n\r\n",
	} {
		var said []bool
		for _, s := range paths {
			_, got, _ := s.send(t, raw)
			said = append(said, got.ZeroLength)
		}
		if slices.Contains(said, !said[0]) {
			t.Errorf("%q: Content-Length: 0 sent to the backend by %s, %s: %v", raw, paths[0].name, paths[1].name, said)
		}
	}
}

// expected is what the paths send where net/http's proxy sent ref for
// the client's request raw: its request without the toolkit's reserved
// headers and Expect, with the client's request target where net/http
// re-escaped it.
func expected(ref capture, raw string) capture {
	ref.Header = slices.DeleteFunc(ref.Header, func(f [2]string) bool { return reserved([]byte(f[0])) || f[0] == "Expect" })
	if ref.Chunked && ref.Trailers == nil {
		ref.Trailers = sentTrailers(raw)
	}
	line, _, _ := strings.Cut(raw, "\r\n")
	if method, rest, ok := strings.Cut(line, " "); ok {
		if target, _, ok := strings.Cut(rest, " "); ok && ref.Line == method+" "+reescaped(target)+" HTTP/1.1" {
			ref.Line = method + " " + target + " HTTP/1.1"
		}
		ref.Line = method + " " + encodeNonASCII(strings.TrimPrefix(ref.Line, method+" "))
	}
	return ref
}

// sentTrailers are the trailers of the chunked request raw, which the
// paths pass on and net/http's proxy loses (its outgoing request's Trailer
// is a copy made before the body is read: the names go, not the values).
func sentTrailers(raw string) [][2]string {
	c, err := readCapture(bufio.NewReader(strings.NewReader(raw)), io.Discard)
	if err != nil || !c.Chunked {
		return nil
	}
	return c.Trailers
}

// encodeNonASCII percent-encodes the bytes of s outside ASCII.
func encodeNonASCII(s string) string {
	var b strings.Builder
	for i := range len(s) {
		if c := s[i]; c >= 0x80 {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// reescaped is the request target net/http's proxy sends to a backend
// without a path for a client's target.
func reescaped(target string) string {
	in, err := http.NewRequest(http.MethodGet, "http://x", nil)
	if err != nil {
		return target
	}
	if in.URL, err = url.ParseRequestURI(target); err != nil {
		return target
	}
	pr := &httputil.ProxyRequest{In: in, Out: in.Clone(in.Context())}
	pr.SetURL(&url.URL{Scheme: "http", Host: "backend"})
	return pr.Out.URL.RequestURI()
}

// FuzzBackendBytes is TestBackendBytes over requests made of a method, a
// request target, one header field and a body: whatever the paths accept
// reaches the backend the same from both, and as net/http's proxy sends
// it where that accepts it too.
//
// scripts/test: fuzztime 5000x
func FuzzBackendBytes(f *testing.F) {
	f.Add("GET", "/", "Accept", "*/*", "")
	f.Add("POST", "/a/../b%2Fc?x=1", "Content-Type", "text/plain", "hello")
	f.Add("PUT", "/p?", "Connection", "X-A", "x")
	f.Add("DELETE", "*", "TE", "trailers", "")
	f.Add("OPTIONS", "/o", "X-Forwarded-For", "1.2.3.4", "")
	paths, reference := senders(f)
	f.Fuzz(func(t *testing.T, method, target, name, value, body string) {
		for _, s := range []string{method, target, name, value} {
			if s == "" || strings.ContainsAny(s, "\r\n") {
				return // another head than these fields: TestRequestRules' probes
			}
		}
		raw := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: x\r\n%s: %s\r\nContent-Length: %d\r\n\r\n%s", method, target, name, value, len(body), body)
		compareSenders(t, paths, reference, raw)
	})
}
