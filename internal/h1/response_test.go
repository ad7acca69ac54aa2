package h1

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// acceptedResponses are heads ParseResponse takes; want leaves out
// StatusLine and Headers, checked by their own tests.
var acceptedResponses = []struct {
	name string
	in   string
	want Response
}{
	{"length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", Response{HeadLen: 38, Status: 200, ContentLength: 5}},
	{"no length", "HTTP/1.1 200 OK\r\n\r\n", Response{HeadLen: 19, Status: 200, ContentLength: -1}},
	{"equal lengths", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-length:5 \r\n\r\n", Response{HeadLen: 57, Status: 200, ContentLength: 5}},
	{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", Response{HeadLen: 47, Status: 200, ContentLength: -1, Chunked: true}},
	{"gzip then chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n", Response{HeadLen: 53, Status: 200, ContentLength: -1, Chunked: true}},
	{"chunked over two headers", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", Response{HeadLen: 72, Status: 200, ContentLength: -1, Chunked: true}},
	{"other coding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", Response{HeadLen: 44, Status: 200, ContentLength: -1, OtherCoding: true}},
	{"chunked not last", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", Response{HeadLen: 53, Status: 200, ContentLength: -1, OtherCoding: true}},
	{"TE wins over length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", Response{HeadLen: 66, Status: 200, ContentLength: -1, Chunked: true}},
	{"length after TE", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", Response{HeadLen: 66, Status: 200, ContentLength: -1, Chunked: true}},
	{"no reason", "HTTP/1.1 204\r\n\r\n", Response{HeadLen: 16, Status: 204, ContentLength: -1}},
	{"empty reason", "HTTP/1.1 304 \r\nContent-Length: 10\r\n\r\n", Response{HeadLen: 37, Status: 304, ContentLength: 10}},
	{"1xx", "HTTP/1.1 100 Continue\r\n\r\n", Response{HeadLen: 25, Status: 100, ContentLength: -1}},
	{"103 with links", "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n", Response{HeadLen: 57, Status: 103, ContentLength: -1}},
	{"status 999", "HTTP/1.1 999 Odd\r\n\r\n", Response{HeadLen: 20, Status: 999, ContentLength: -1}},
	{"reason with obs-text", "HTTP/1.1 200 \xc3\x9cber\tOK\r\n\r\n", Response{HeadLen: 25, Status: 200, ContentLength: -1}},
	{"close", "HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\n\r\n", Response{HeadLen: 50, Status: 200, ContentLength: -1, Close: true}},
	{"HTTP/1.0 closes", "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", Response{HeadLen: 38, Status: 200, ContentLength: 0, Close: true}},
	{"HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n\r\n", Response{HeadLen: 43, Status: 200, ContentLength: -1}},
	{"HTTP/1.0 keep-alive and close", "HTTP/1.0 200 OK\r\nConnection: close\r\nConnection: keep-alive\r\n\r\n", Response{HeadLen: 62, Status: 200, ContentLength: -1, Close: true}},
	{"HTTP/1.1 keep-alive", "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\n", Response{HeadLen: 43, Status: 200, ContentLength: -1}},
}

var rejectedResponses = []struct {
	name, in string
	want     error
}{
	{"not HTTP", "SSH-2.0-OpenSSH\r\n\r\n", ErrMalformed},
	{"HTTP/2", "HTTP/2.0 200 OK\r\n\r\n", ErrMalformed},
	{"HTTP/1.2", "HTTP/1.2 200 OK\r\n\r\n", ErrMalformed},
	{"lower-case", "http/1.1 200 OK\r\n\r\n", ErrMalformed},
	{"two-digit status", "HTTP/1.1 20 OK\r\n\r\n", ErrMalformed},
	{"four-digit status", "HTTP/1.1 2000 OK\r\n\r\n", ErrMalformed},
	{"status 099", "HTTP/1.1 099 OK\r\n\r\n", ErrMalformed},
	{"non-digit status", "HTTP/1.1 2x0 OK\r\n\r\n", ErrMalformed},
	{"two spaces", "HTTP/1.1  200 OK\r\n\r\n", ErrMalformed},
	{"control byte in reason", "HTTP/1.1 200 O\x01K\r\n\r\n", ErrMalformed},
	{"bare LF status line", "HTTP/1.1 200 OK\nA: b\r\n\r\n", ErrMalformed},
	{"bare LF header", "HTTP/1.1 200 OK\r\nA: b\n\r\n", ErrMalformed},
	{"bare LF blank line", "HTTP/1.1 200 OK\r\n\n", ErrMalformed},
	{"obs-fold", "HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n", ErrMalformed},
	{"space before colon", "HTTP/1.1 200 OK\r\nA : b\r\n\r\n", ErrMalformed},
	{"empty name", "HTTP/1.1 200 OK\r\n: b\r\n\r\n", ErrMalformed},
	{"NUL in value", "HTTP/1.1 200 OK\r\nA: \x00\r\n\r\n", ErrMalformed},
	{"two lengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", ErrMalformed},
	{"same length written differently", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 05\r\n\r\n", ErrMalformed},
	{"length list", "HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n", ErrMalformed},
	{"non-digit length", "HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n", ErrMalformed},
	{"length over 2^62", "HTTP/1.1 200 OK\r\nContent-Length: 4611686018427387905\r\n\r\n", ErrMalformed},
	{"TE in HTTP/1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", ErrMalformed},
	{"empty TE", "HTTP/1.1 200 OK\r\nTransfer-Encoding: ,\r\n\r\n", ErrMalformed},
	{"101 headers", "HTTP/1.1 200 OK\r\n" + strings.Repeat("A: b\r\n", 101) + "\r\n", ErrMalformed},
	{"empty", "", ErrIncomplete},
	{"status line cut", "HTTP/1.1 20", ErrIncomplete},
	{"no blank line", "HTTP/1.1 200 OK\r\nA: b\r\n", ErrIncomplete},
}

func TestParseResponse(t *testing.T) {
	for _, tt := range acceptedResponses {
		t.Run(tt.name, func(t *testing.T) {
			var got Response
			if err := ParseResponse([]byte(tt.in), &got); err != nil {
				t.Fatalf("got error %v", err)
			}
			if want := strings.Index(tt.in, "\r\n"); string(got.StatusLine) != tt.in[:want] {
				t.Errorf("got status line %q, want %q", got.StatusLine, tt.in[:want])
			}
			got.StatusLine, got.Headers = nil, nil
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("response (-got +want):\n%s", diff)
			}
		})
	}
}

func TestParseResponseHeaders(t *testing.T) {
	var r Response
	in := "HTTP/1.1 200 OK\r\nContent-Type:text/html \r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n"
	if err := ParseResponse([]byte(in), &r); err != nil {
		t.Fatalf("got error %v", err)
	}
	want := hdrs("Content-Type", "text/html", "Set-Cookie", "a=1", "Set-Cookie", "b=2")
	if diff := cmp.Diff(r.Headers, want); diff != "" {
		t.Errorf("headers (-got +want):\n%s", diff)
	}
}

func TestParseResponseRejects(t *testing.T) {
	for _, tt := range rejectedResponses {
		t.Run(tt.name, func(t *testing.T) {
			var r Response
			if got := ParseResponse([]byte(tt.in), &r); !errors.Is(got, tt.want) {
				t.Fatalf("got error %v, want %v", got, tt.want)
			}
		})
	}
}

// TestParseResponsePrefixes: every proper prefix of an accepted head is
// incomplete.
func TestParseResponsePrefixes(t *testing.T) {
	for _, tt := range acceptedResponses {
		t.Run(tt.name, func(t *testing.T) {
			var r Response
			for n := range tt.want.HeadLen {
				if err := ParseResponse([]byte(tt.in[:n]), &r); !errors.Is(err, ErrIncomplete) {
					t.Fatalf("prefix %q: got %v, want %v", tt.in[:n], err, ErrIncomplete)
				}
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	var r Request
	err := ParseRequest([]byte("GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"), &r)
	got, want := err.Error(), "parsing at byte 25: Transfer-Encoding other than one chunked: request head not for the loop path"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
