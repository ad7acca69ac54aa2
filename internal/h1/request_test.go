package h1

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// hdrs builds a header list from name, value pairs.
func hdrs(kv ...string) []Header {
	var hs []Header
	for i := 0; i+1 < len(kv); i += 2 {
		hs = append(hs, Header{Name: []byte(kv[i]), Value: []byte(kv[i+1])})
	}
	return hs
}

// manyHeaders is a request head with n X-N headers besides Host.
func manyHeaders(n int) string {
	return "GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-N: 1\r\n", n) + "\r\n"
}

// acceptedRequests are heads ParseRequest takes, with what it reads.
var acceptedRequests = []struct {
	name string
	in   string
	want Request
}{
	{"GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\nbody", Request{HeadLen: 27, Method: []byte("GET"), Target: []byte("/"), Host: []byte("x"), Headers: hdrs("Host", "x")}},
	{"query and escapes", "GET /a%20b?q=1&r=%2F HTTP/1.1\r\nhost: example.com:8080\r\n\r\n", Request{HeadLen: 57, Method: []byte("GET"), Target: []byte("/a%20b?q=1&r=%2F"), Host: []byte("example.com:8080"), Headers: hdrs("host", "example.com:8080")}},
	{"OWS trimmed", "POST /p HTTP/1.1\r\nHost:\t[::1]:80 \r\nContent-Length:  007\t\r\nX-A:  b  c \r\nX-Empty:\r\n\r\n", Request{HeadLen: 83, Method: []byte("POST"), Target: []byte("/p"), ContentLength: 7, Host: []byte("[::1]:80"), Headers: hdrs("Host", "[::1]:80", "Content-Length", "007", "X-A", "b  c", "X-Empty", "")}},
	{"close among tokens", "GET / HTTP/1.1\r\nConnection: keep-alive, Close\r\nHost: x\r\n\r\n", Request{HeadLen: 58, Method: []byte("GET"), Target: []byte("/"), Close: true, Host: []byte("x"), Headers: hdrs("Connection", "keep-alive, Close", "Host", "x")}},
	{"keep-alive only", "GET / HTTP/1.1\r\nConnection: keep-alive,closed\r\nHost: x\r\n\r\n", Request{HeadLen: 58, Method: []byte("GET"), Target: []byte("/"), Host: []byte("x"), Headers: hdrs("Connection", "keep-alive,closed", "Host", "x")}},
	{"obs-text value", "GET / HTTP/1.1\r\nHost: x\r\nX-U: caf\xc3\xa9\r\n\r\n", Request{HeadLen: 39, Method: []byte("GET"), Target: []byte("/"), Host: []byte("x"), Headers: hdrs("Host", "x", "X-U", "caf\xc3\xa9")}},
	{"pragma no-cache", "GET / HTTP/1.1\r\nHost: x\r\nPragma: no-cache\r\nX_Y: z\r\n\r\n", Request{HeadLen: 53, Method: []byte("GET"), Target: []byte("/"), Host: []byte("x"), Headers: hdrs("Host", "x", "Pragma", "no-cache", "X_Y", "z")}},
	{"extension method", "PURGE /x HTTP/1.1\r\nHost: x\r\n\r\n", Request{HeadLen: 30, Method: []byte("PURGE"), Target: []byte("/x"), Host: []byte("x"), Headers: hdrs("Host", "x")}},
	{"length 2^62", "PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 4611686018427387904\r\n\r\n", Request{HeadLen: 64, Method: []byte("PUT"), Target: []byte("/"), ContentLength: 1 << 62, Host: []byte("x"), Headers: hdrs("Host", "x", "Content-Length", "4611686018427387904")}},
	{"chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n", Request{HeadLen: 56, Method: []byte("POST"), Target: []byte("/"), Chunked: true, Host: []byte("x"), Headers: hdrs("Host", "x", "Transfer-Encoding", "Chunked")}},
	{"100-continue", "PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nExpect: 100-Continue\r\n\r\n", Request{HeadLen: 68, Method: []byte("PUT"), Target: []byte("/"), ContentLength: 1, Continue: true, Host: []byte("x"), Headers: hdrs("Host", "x", "Content-Length", "1", "Expect", "100-Continue")}},
	{"HTTP/1.0 closes", "GET / HTTP/1.0\r\nHost: x\r\n\r\n", Request{HeadLen: 27, Method: []byte("GET"), Target: []byte("/"), Close: true, HTTP10: true, Host: []byte("x"), Headers: hdrs("Host", "x")}},
	{"HTTP/1.0 keep-alive", "GET / HTTP/1.0\r\nHost: x\r\nConnection: Keep-Alive\r\n\r\n", Request{HeadLen: 51, Method: []byte("GET"), Target: []byte("/"), HTTP10: true, Host: []byte("x"), Headers: hdrs("Host", "x", "Connection", "Keep-Alive")}},
	{"HTTP/1.0 without Host", "GET / HTTP/1.0\r\nA: b\r\n\r\n", Request{HeadLen: 24, Method: []byte("GET"), Target: []byte("/"), Close: true, HTTP10: true, Headers: hdrs("A", "b")}},
	{"HTTP/1.0 keep-alive and close", "GET / HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", Request{HeadLen: 70, Method: []byte("GET"), Target: []byte("/"), Close: true, HTTP10: true, Host: []byte("x"), Headers: hdrs("Host", "x", "Connection", "keep-alive", "Connection", "close")}},
	{"Upgrade", "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", Request{HeadLen: 70, Method: []byte("GET"), Target: []byte("/ws"), Host: []byte("x"), Upgrade: []byte("websocket"), Headers: hdrs("Host", "x", "Connection", "Upgrade", "Upgrade", "websocket")}},
	{"100 headers", manyHeaders(99), Request{HeadLen: len(manyHeaders(99)), Method: []byte("GET"), Target: []byte("/"), Host: []byte("x"), Headers: append(hdrs("Host", "x"), hdrs(strings.Split(strings.Repeat("X-N,1,", 99), ",")...)...)}},
}

// rejectedRequests are heads ParseRequest refuses, one per rule.
var rejectedRequests = []struct {
	name, in string
	want     error
}{
	{"method not a token", "G(T / HTTP/1.1\r\nHost: x\r\n\r\n", ErrUnsupported},
	{"empty method", " / HTTP/1.1\r\nHost: x\r\n\r\n", ErrUnsupported},
	{"leading blank line", "\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", ErrUnsupported},
	{"CONNECT", "CONNECT x:443 HTTP/1.1\r\nHost: x\r\n\r\n", ErrUnsupported},
	{"CONNECT origin-form", "CONNECT / HTTP/1.1\r\nHost: x\r\n\r\n", ErrUnsupported},
	{"PRI", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", ErrUnsupported},
	{"two spaces", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", ErrUnsupported},
	{"absolute-form", "GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n", ErrUnsupported},
	{"asterisk-form", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", ErrUnsupported},
	{"fragment", "GET /a#b HTTP/1.1\r\nHost: x\r\n\r\n", ErrUnsupported},
	{"non-ASCII target", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n", ErrUnsupported},
	{"DEL in target", "GET /a\x7f HTTP/1.1\r\nHost: x\r\n\r\n", ErrUnsupported},
	{"tab in target", "GET /a\tb HTTP/1.1\r\nHost: x\r\n\r\n", ErrUnsupported},
	{"bad escape", "GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n", ErrUnsupported},
	{"short escape", "GET /%4 HTTP/1.1\r\nHost: x\r\n\r\n", ErrUnsupported},
	{"HTTP/1.0 chunked", "POST / HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", ErrUnsupported},
	{"HTTP/1.0 100-continue", "POST / HTTP/1.0\r\nHost: x\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n", ErrUnsupported},
	{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", ErrUnsupported},
	{"lower-case version", "GET / http/1.1\r\nHost: x\r\n\r\n", ErrUnsupported},
	{"space after version", "GET / HTTP/1.1 \r\nHost: x\r\n\r\n", ErrUnsupported},
	{"no version", "GET /\r\nHost: x\r\n\r\n", ErrUnsupported},
	{"bare LF after request line", "GET / HTTP/1.1\nHost: x\r\n\r\n", ErrUnsupported},
	{"bare LF after header", "GET / HTTP/1.1\r\nHost: x\nA: b\r\n\r\n", ErrUnsupported},
	{"bare LF blank line", "GET / HTTP/1.1\r\nHost: x\r\n\n", ErrUnsupported},
	{"bare CR in value", "GET / HTTP/1.1\r\nHost: x\r\nA: b\rc\r\n\r\n", ErrUnsupported},
	{"CR without LF at end", "GET / HTTP/1.1\r\nHost: x\r\n\rX", ErrUnsupported},
	{"NUL in value", "GET / HTTP/1.1\r\nHost: x\r\nA: b\x00c\r\n\r\n", ErrUnsupported},
	{"control byte in value", "GET / HTTP/1.1\r\nHost: x\r\nA: \x01\r\n\r\n", ErrUnsupported},
	{"DEL in value", "GET / HTTP/1.1\r\nHost: x\r\nA: \x7f\r\n\r\n", ErrUnsupported},
	{"obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n c\r\n\r\n", ErrUnsupported},
	{"obs-fold with tab", "GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n\tc\r\n\r\n", ErrUnsupported},
	{"space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", ErrUnsupported},
	{"empty name", "GET / HTTP/1.1\r\nHost: x\r\n: b\r\n\r\n", ErrUnsupported},
	{"no colon", "GET / HTTP/1.1\r\nHost: x\r\nAb\r\n\r\n", ErrUnsupported},
	{"name not a token", "GET / HTTP/1.1\r\nHost: x\r\nA@b: c\r\n\r\n", ErrUnsupported},
	{"non-ASCII name", "GET / HTTP/1.1\r\nHost: x\r\n\xc3\xa9: c\r\n\r\n", ErrUnsupported},
	{"Content_Length", "POST / HTTP/1.1\r\nHost: x\r\nContent_Length: 5\r\n\r\n", ErrUnsupported},
	{"Transfer_Encoding", "POST / HTTP/1.1\r\nHost: x\r\ntransfer_encoding: chunked\r\n\r\n", ErrUnsupported},
	{"Transfer-Encoding twice", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", ErrUnsupported},
	{"Transfer-Encoding gzip, chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", ErrUnsupported},
	{"TE after length", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", ErrUnsupported},
	{"transfer-encoding identity", "POST / HTTP/1.1\r\nHost: x\r\ntransfer-encoding: identity\r\n\r\n", ErrUnsupported},
	{"TE and length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", ErrUnsupported},
	{"length not digits", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1a\r\n\r\n", ErrUnsupported},
	{"negative length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", ErrUnsupported},
	{"signed length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\n", ErrUnsupported},
	{"length list", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 1\r\n\r\n", ErrUnsupported},
	{"empty length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n", ErrUnsupported},
	{"two equal lengths", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\ncontent-length: 1\r\n\r\n", ErrUnsupported},
	{"two lengths", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", ErrUnsupported},
	{"length over 2^62", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4611686018427387905\r\n\r\n", ErrUnsupported},
	{"length over int64", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", ErrUnsupported},
	{"no Host", "GET / HTTP/1.1\r\nA: b\r\n\r\n", ErrUnsupported},
	{"empty Host", "GET / HTTP/1.1\r\nHost: \r\n\r\n", ErrUnsupported},
	{"two Hosts", "GET / HTTP/1.1\r\nHost: x\r\nhost: x\r\n\r\n", ErrUnsupported},
	{"Host with userinfo", "GET / HTTP/1.1\r\nHost: a@b\r\n\r\n", ErrUnsupported},
	{"Host with space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", ErrUnsupported},
	{"two Upgrades", "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nUpgrade: h2c\r\n\r\n", ErrUnsupported},
	{"empty Upgrade", "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: \r\n\r\n", ErrUnsupported},
	{"Expect other than 100-continue", "PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nExpect: 200-ok\r\n\r\n", ErrUnsupported},
	{"Expect twice", "PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nExpect: 100-continue\r\nExpect: 100-continue\r\n\r\n", ErrUnsupported},
	{"101 headers", manyHeaders(100), ErrTooManyHeaders},
	{"empty", "", ErrIncomplete},
	{"method only", "GET", ErrIncomplete},
	{"no blank line", "GET / HTTP/1.1\r\nHost: x\r\n", ErrIncomplete},
	{"half a blank line", "GET / HTTP/1.1\r\nHost: x\r\n\r", ErrIncomplete},
	{"escape cut", "GET /%4", ErrIncomplete},
}

func TestParseRequest(t *testing.T) {
	for _, tt := range acceptedRequests {
		t.Run(tt.name, func(t *testing.T) {
			var got Request
			if err := ParseRequest([]byte(tt.in), &got); err != nil {
				t.Fatalf("got error %v", err)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("request (-got +want):\n%s", diff)
			}
		})
	}
}

func TestParseRequestRejects(t *testing.T) {
	for _, tt := range rejectedRequests {
		t.Run(tt.name, func(t *testing.T) {
			var r Request
			got := ParseRequest([]byte(tt.in), &r)
			if !errors.Is(got, tt.want) {
				t.Fatalf("got error %v, want %v", got, tt.want)
			}
			if errors.Is(got, ErrUnsupported) && errors.Is(got, ErrIncomplete) {
				t.Fatalf("error %v is both unsupported and incomplete", got)
			}
		})
	}
}

// TestParseRequestPrefixes: every proper prefix of an accepted head is
// incomplete, never refused.
func TestParseRequestPrefixes(t *testing.T) {
	for _, tt := range acceptedRequests {
		t.Run(tt.name, func(t *testing.T) {
			var r Request
			for n := range tt.want.HeadLen {
				if err := ParseRequest([]byte(tt.in[:n]), &r); !errors.Is(err, ErrIncomplete) {
					t.Fatalf("prefix %q: got %v, want %v", tt.in[:n], err, ErrIncomplete)
				}
			}
		})
	}
}

func TestParseRequestReusesHeaders(t *testing.T) {
	r := Request{Headers: make([]Header, 0, 8)}
	in := []byte("GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\n\r\n")
	for range 2 {
		if err := ParseRequest(in, &r); err != nil {
			t.Fatalf("got error %v", err)
		}
	}
	if diff := cmp.Diff(r.Headers, hdrs("Host", "x", "A", "1")); diff != "" {
		t.Errorf("headers (-got +want):\n%s", diff)
	}
	if got, want := cap(r.Headers), 8; got != want {
		t.Errorf("got capacity %d, want %d", got, want)
	}
}

func TestParseAllocations(t *testing.T) {
	req := []byte(browserRequest)
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 12\r\nConnection: keep-alive\r\n\r\n")
	var r Request
	var s Response
	tests := []struct {
		name string
		run  func()
	}{
		{"request", func() { _ = ParseRequest(req, &r) }},
		{"incomplete request", func() { _ = ParseRequest(req[:100], &r) }},
		{"response", func() { _ = ParseResponse(resp, &s) }},
		{"incomplete response", func() { _ = ParseResponse(resp[:40], &s) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.run()
			if got := testing.AllocsPerRun(100, tt.run); got != 0 {
				t.Errorf("got %v allocations per run, want 0", got)
			}
		})
	}
}

func TestTokens(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"one", "close", []string{"close"}},
		{"OWS and empties", " a ,\tb,, ,c\t", []string{"a", "b", "c"}},
		{"empty", "", nil},
		{"only commas", ", ,", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			Tokens([]byte(tt.in), func(tok []byte) { got = append(got, string(tok)) })
			if diff := cmp.Diff(got, tt.want, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("tokens (-got +want):\n%s", diff)
			}
		})
	}
}

func TestEqualFold(t *testing.T) {
	tests := []struct {
		name, b, s string
		want       bool
	}{
		{"same", "Host", "Host", true},
		{"case", "hOsT", "Host", true},
		{"length", "Hos", "Host", false},
		{"not letters", "[", "{", false},
		{"Kelvin sign is not k", "\xe2\x84\xaa", "k", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := EqualFold([]byte(tt.b), tt.s); got != tt.want {
				t.Errorf("got %t, want %t", got, tt.want)
			}
		})
	}
}

// TestOriginForm checks the target rule OriginForm shares with
// ParseRequest: what one takes, the other does.
func TestOriginForm(t *testing.T) {
	for target, want := range map[string]bool{
		"/": true, "/a\"b": true, "/a%20b?x=1&y": true, "//x": true,
		"": false, "*": false, "http://x/": false, "/a%2": false, "/a%zz": false,
		"/a#f": false, "/caf\xe9": false, "/a b": false,
	} {
		if got := OriginForm(target); got != want {
			t.Errorf("OriginForm(%q) = %v, want %v", target, got, want)
		}
		err := ParseRequest([]byte("GET "+target+" HTTP/1.1\r\nHost: x\r\n\r\n"), &Request{})
		if taken := err == nil; taken != want && target != "/a b" {
			t.Errorf("ParseRequest of %q: %v, OriginForm says %v", target, err, want)
		}
	}
}
