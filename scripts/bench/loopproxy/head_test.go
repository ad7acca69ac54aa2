package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseRequestHead(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    requestHead
		wantErr error
	}{
		{"GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\nrest", requestHead{headLen: 27}, nil},
		{"incomplete", "GET / HTTP/1.1\r\nHost: x\r\n", requestHead{}, nil},
		{"POST with length", "POST /p HTTP/1.1\r\ncontent-length: 12\r\n\r\n", requestHead{headLen: 40, contentLength: 12}, nil},
		{"same length twice", "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", requestHead{headLen: 57, contentLength: 1}, nil},
		{"HEAD, close", "HEAD / HTTP/1.1\r\nConnection: keep-alive, Close\r\n\r\n", requestHead{headLen: 50, isHead: true, close: true}, nil},
		{"HTTP/1.0 closes", "GET / HTTP/1.0\r\n\r\n", requestHead{headLen: 18, close: true}, nil},
		{"chunked body", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", requestHead{}, errUnsupported},
		{"HTTP/2", "GET / HTTP/2.0\r\n\r\n", requestHead{}, errBadRequest},
		{"space in target", "GET /a b HTTP/1.1\r\n\r\n", requestHead{}, errBadRequest},
		{"folded header", "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", requestHead{}, errBadRequest},
		{"bare LF in value", "GET / HTTP/1.1\r\nA: b\nc\r\n\r\n", requestHead{}, errBadRequest},
		{"bad length", "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", requestHead{}, errBadRequest},
		{"two lengths", "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", requestHead{}, errBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseRequestHead([]byte(tt.in))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(got, tt.want, cmp.AllowUnexported(requestHead{})); diff != "" {
				t.Errorf("head (-got +want):\n%s", diff)
			}
		})
	}
}

func TestAppendRequestHead(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"adds X-Forwarded-For", "GET /a?b HTTP/1.1\r\nHost: x\r\n\r\n", "GET /a?b HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n"},
		{"appends to X-Forwarded-For", "GET / HTTP/1.1\r\nx-forwarded-for: 1.2.3.4\r\nHost: x\r\n\r\n", "GET / HTTP/1.1\r\nX-Forwarded-For: 1.2.3.4, 10.0.0.1\r\nHost: x\r\n\r\n"},
		{"drops hop-by-hop", "GET / HTTP/1.1\r\nConnection: close\r\nKeep-Alive: 5\r\nUpgrade: ws\r\nA: b\r\n\r\n", "GET / HTTP/1.1\r\nA: b\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(appendRequestHead(nil, []byte(tt.in), []byte("10.0.0.1")))
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("head (-got +want):\n%s", diff)
			}
		})
	}
}

func TestParseResponseHead(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    responseHead
		wantErr bool
	}{
		{"length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", responseHead{headLen: 38, status: 200, contentLength: 5}, false},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", responseHead{headLen: 53, status: 200, contentLength: -1, chunked: true}, false},
		{"other coding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", responseHead{headLen: 44, status: 200, contentLength: -1, otherCoding: true}, false},
		{"no reason, close", "HTTP/1.1 204\r\nConnection: close\r\n\r\n", responseHead{headLen: 35, status: 204, contentLength: -1, close: true}, false},
		{"HTTP/1.0", "HTTP/1.0 200 OK\r\n\r\n", responseHead{headLen: 19, status: 200, contentLength: -1, close: true}, false},
		{"HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", responseHead{headLen: 43, status: 200, contentLength: -1}, false},
		{"incomplete", "HTTP/1.1 200 OK\r\n", responseHead{contentLength: -1}, false},
		{"bad status", "HTTP/1.1 2x0 OK\r\n\r\n", responseHead{}, true},
		{"not HTTP", "SSH-2.0-OpenSSH\r\n\r\n", responseHead{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseResponseHead([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want one: %t", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(got, tt.want, cmp.AllowUnexported(responseHead{})); diff != "" {
				t.Errorf("head (-got +want):\n%s", diff)
			}
		})
	}
}

// TestChunkScanner feeds chunked bodies whole and a byte at a time.
func TestChunkScanner(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantBody int // bytes of the body; -1: not complete
		wantErr  bool
	}{
		{"two chunks", "5\r\nhello\r\na;ext=1\r\n0123456789\r\n0\r\n\r\nNEXT", 36, false},
		{"trailers", "3\r\nabc\r\n0\r\nX-Sum: 1\r\nY: 2\r\n\r\nNEXT", 29, false},
		{"last chunk only", "0\r\n\r\n", 5, false},
		{"upper-case hex", "A\r\n0123456789\r\n0\r\n\r\n", 20, false},
		{"incomplete", "5\r\nhel", -1, false},
		{"no size", "\r\nabc", 0, true},
		{"no CRLF after data", "3\r\nabcd\r\n", 0, true},
		{"size too long", "1000000000000000\r\n", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			whole, wholeErr := scanAll(tt.in, len(tt.in))
			bytewise, bytewiseErr := scanAll(tt.in, 1)
			if tt.wantErr {
				if wholeErr == nil || bytewiseErr == nil {
					t.Fatalf("got errors %v, %v, want both", wholeErr, bytewiseErr)
				}
				return
			}
			if wholeErr != nil || bytewiseErr != nil {
				t.Fatalf("got errors %v, %v", wholeErr, bytewiseErr)
			}
			if whole != tt.wantBody || bytewise != tt.wantBody {
				t.Errorf("got %d (whole), %d (byte-wise) body bytes, want %d", whole, bytewise, tt.wantBody)
			}
		})
	}
}

// scanAll scans in in pieces of step bytes: the body length when it ends,
// else -1.
func scanAll(in string, step int) (int, error) {
	var s chunkScanner
	for off := 0; off < len(in); off += step {
		n, done, err := s.scan([]byte(in[off:min(off+step, len(in))]))
		if err != nil {
			return 0, err
		}
		if done {
			return off + n, nil
		}
	}
	return -1, nil
}

// FuzzParseHead: the parser never panics; a head it takes ends at the
// first blank line, is incomplete without its last byte, and rewritten for
// the backend it parses again to the same head with one X-Forwarded-For.
func FuzzParseHead(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /p?q HTTP/1.1\r\nContent-Length: 3\r\nX-Forwarded-For: 1.2.3.4\r\n\r\nabc",
		"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\nKeep-Alive: 5\r\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		h, err := parseRequestHead(in)
		if err != nil || h.headLen == 0 {
			return
		}
		if want := bytes.Index(in, crlf2) + 4; h.headLen != want {
			t.Fatalf("head length %d, want %d", h.headLen, want)
		}
		if short, err := parseRequestHead(in[:h.headLen-1]); err != nil || short.headLen != 0 {
			t.Fatalf("head without its last byte: %+v, %v; want incomplete", short, err)
		}
		out := appendRequestHead(nil, in[:h.headLen], []byte("192.0.2.1"))
		again, err := parseRequestHead(out)
		if err != nil {
			t.Fatalf("rewritten head %q: %v", out, err)
		}
		again.headLen = h.headLen
		if diff := cmp.Diff(again, h, cmp.AllowUnexported(requestHead{})); diff != "" {
			t.Fatalf("rewritten head %q (-got +want):\n%s", out, diff)
		}
		if n := strings.Count(strings.ToLower(string(out)), "\r\nx-forwarded-for:"); n != 1 {
			t.Fatalf("rewritten head %q has %d X-Forwarded-For", out, n)
		}
	})
}
