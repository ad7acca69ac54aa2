package h1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const checkLimit = 256

var checkedHeads = []struct {
	name, in string
	status   int // 0: accepted
	want     RequestHead
}{
	{"plain GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 0, RequestHead{Len: 27}},
	{"bare LF", "GET / HTTP/1.1\nHost: a\n\n", 0, RequestHead{Len: 24}},
	{"empty lines first", "\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\nrest", 0, RequestHead{Skip: 3, Len: 27}},
	{"HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n", 0, RequestHead{Len: 18}},
	{"length", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n", 0, RequestHead{Len: 49, Length: 12}},
	{"same length twice", "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", 0, RequestHead{Len: 67, Length: 3}},
	{"chunked", "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n", 0, RequestHead{Len: 57, Chunked: true}},
	{"upgrade", "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", 0, RequestHead{Len: 68, Upgrade: true}},
	{"absolute form", "GET http://a/x HTTP/1.1\r\nHost: b\r\n\r\n", 0, RequestHead{Len: 36}},
	{"obs-text in a value and a target", "GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\nX: \xc3\xa9\t\r\n\r\n", 0, RequestHead{Len: 37}},

	{"head one byte over the limit", "GET /" + strings.Repeat("a", checkLimit-25) + " HTTP/1.1\r\nHost: a\r\n\r\n", 431, RequestHead{}},
	{"no end within the limit", "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", checkLimit), 431, RequestHead{}},
	{"HTTP/9.9", "GET / HTTP/9.9\r\nHost: a\r\n\r\n", 505, RequestHead{}},
	{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, RequestHead{}},
	{"HTTP/1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505, RequestHead{}},
	{"HTTP/01.1", "GET / HTTP/01.1\r\nHost: a\r\n\r\n", 400, RequestHead{}},
	{"no version", "GET /\r\nHost: a\r\n\r\n", 400, RequestHead{}},
	{"two spaces", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400, RequestHead{}},
	{"space after the version", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400, RequestHead{}},
	{"OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 0, RequestHead{Len: 31}},
	{"DELETE *", "DELETE * HTTP/1.1\r\nHost: a\r\n\r\n", 400, RequestHead{}},
	{"fragment in the target", "GET /a#f HTTP/1.1\r\nHost: a\r\n\r\n", 400, RequestHead{}},
	{"a scheme alone as the target", "GET A: HTTP/1.1\r\nHost: a\r\n\r\n", 400, RequestHead{}},
	{"another scheme's absolute-form", "GET mailto:x HTTP/1.1\r\nHost: a\r\n\r\n", 400, RequestHead{}},
	{"a target in no form", "GET x/y HTTP/1.1\r\nHost: a\r\n\r\n", 400, RequestHead{}},
	{"absolute-form, scheme in capitals", "GET HTTPS://a/x HTTP/1.1\r\nHost: b\r\n\r\n", 0, RequestHead{Len: 37}},
	{"authority-form for CONNECT", "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 0, RequestHead{Len: 39}},
	{"fragment in an absolute-form target", "GET http://a/#f HTTP/1.1\r\nHost: a\r\n\r\n", 400, RequestHead{}},
	{"control byte in the target", "GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400, RequestHead{}},
	{"space in a field name", "GET / HTTP/1.1\r\nHost: a\r\nFoo Bar: 1\r\n\r\n", 400, RequestHead{}},
	{"space before the colon", "GET / HTTP/1.1\r\nHost: a\r\nFoo : 1\r\n\r\n", 400, RequestHead{}},
	{"folded line", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400, RequestHead{}},
	{"bare CR in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400, RequestHead{}},
	{"no Host", "GET / HTTP/1.1\r\n\r\n", 400, RequestHead{}},
	{"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, RequestHead{}},
	{"two lengths", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400, RequestHead{}},
	{"length with a sign", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\n", 400, RequestHead{}},
	{"length and chunked", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400, RequestHead{}},
	{"chunked and length", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400, RequestHead{}},
	{"chunked on HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, RequestHead{}},
	{"gzip, chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, RequestHead{}},
	{"chunked twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 501, RequestHead{}},
}

func TestCheckHead(t *testing.T) {
	for _, tt := range checkedHeads {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CheckHead([]byte(tt.in), checkLimit)
			var he *HeadError
			switch {
			case tt.status == 0 && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.status != 0 && !errors.As(err, &he):
				t.Fatalf("got %+v, %v; want status %d", got, err, tt.status)
			case tt.status != 0 && he.Status != tt.status:
				t.Fatalf("status %d (%v), want %d", he.Status, err, tt.status)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestCheckHeadIncomplete: every proper prefix of an accepted head is
// incomplete, not refused.
func TestCheckHeadIncomplete(t *testing.T) {
	for _, tt := range checkedHeads {
		if tt.status != 0 {
			continue
		}
		in := tt.in[:tt.want.Skip+tt.want.Len]
		for i := range len(in) {
			if _, err := CheckHead([]byte(in[:i]), checkLimit); !errors.Is(err, ErrIncomplete) {
				t.Errorf("%s: %q: %v, want ErrIncomplete", tt.name, in[:i], err)
			}
		}
	}
}

// FuzzCheckHead: a head CheckHead accepts is read by net/http's
// ReadRequest to the same end, with the same body framing, or refused by
// it (a connection net/http then closes); CheckHead never lets through a
// head whose framing net/http would read otherwise. Anything before a
// found head's end cannot make it incomplete.
func FuzzCheckHead(f *testing.F) {
	for _, tt := range checkedHeads {
		f.Add([]byte(tt.in))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		h, err := CheckHead(p, 1<<16)
		if errors.Is(err, ErrIncomplete) {
			if bytes.Contains(p[skipEmptyLines(p):], []byte("\n\n")) || bytes.Contains(p[skipEmptyLines(p):], []byte("\n\r\n")) {
				t.Fatalf("%q: incomplete, but has an empty line", p)
			}
			return
		}
		if err != nil {
			return
		}
		head := p[h.Skip : h.Skip+h.Len]
		rd := bytes.NewReader(head)
		br := bufio.NewReader(rd)
		req, err := http.ReadRequest(br)
		if err != nil {
			return // net/http refuses it: its server answers and closes
		}
		if left := rd.Len() + br.Buffered(); left != 0 {
			t.Fatalf("%q: net/http's head ends %d bytes before CheckHead's", p, left)
		}
		chunked := len(req.TransferEncoding) > 0
		length := max(req.ContentLength, 0)
		if chunked != h.Chunked || (!chunked && length != h.Length) {
			t.Fatalf("%q: net/http reads chunked=%v length=%d, CheckHead chunked=%v length=%d", p, chunked, req.ContentLength, h.Chunked, h.Length)
		}
		if _, ok := req.Header["Upgrade"]; ok != h.Upgrade {
			t.Fatalf("%q: net/http sees Upgrade %v, CheckHead %v", p, ok, h.Upgrade)
		}
		_, _ = io.Copy(io.Discard, req.Body)
	})
}
