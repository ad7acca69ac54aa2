package h1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var crlf2 = []byte("\r\n\r\n")

// FuzzParseRequest: a head ParseRequest takes ends at the first blank line
// and net/http's ReadRequest reads it the same way: method, target, Host,
// Content-Length (-1 for a chunked body), Close and every header field in
// order (net/http takes Transfer-Encoding out of them). An incomplete head
// has no blank line.
func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(browserRequest))
	for _, tt := range acceptedRequests {
		f.Add([]byte(tt.in))
	}
	for _, tt := range rejectedRequests {
		f.Add([]byte(tt.in))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		var r Request
		err := ParseRequest(p, &r)
		if errors.Is(err, ErrIncomplete) && bytes.Contains(p, crlf2) {
			t.Fatalf("%q: incomplete, but has a blank line", p)
		}
		if err != nil {
			return
		}
		if want := bytes.Index(p, crlf2) + 4; r.HeadLen != want {
			t.Fatalf("%q: head length %d, want %d", p, r.HeadLen, want)
		}
		rd := bytes.NewReader(p[:r.HeadLen])
		br := bufio.NewReader(rd)
		req, err := http.ReadRequest(br)
		if err != nil {
			t.Fatalf("%q: accepted, but net/http: %v", p, err)
		}
		if left := rd.Len() + br.Buffered(); left != 0 {
			t.Fatalf("%q: net/http's head ends %d bytes before h1's", p, left)
		}
		compareRequest(t, p, &r, req)
	})
}

// netRequest is what both parsers must agree on.
type netRequest struct {
	Method, RequestURI, Host string
	Upgrade                  string
	ContentLength            int64
	Close, HTTP10            bool
	Header                   http.Header
}

func compareRequest(t *testing.T, p []byte, r *Request, req *http.Request) {
	t.Helper()
	length, header := r.ContentLength, netHeader(r.Headers)
	if r.Chunked {
		length = -1
		delete(header, "Transfer-Encoding")
	}
	got := netRequest{string(r.Method), string(r.Target), string(r.Host), string(r.Upgrade), length, r.Close, r.HTTP10, header}
	want := netRequest{req.Method, req.RequestURI, req.Host, req.Header.Get("Upgrade"), req.ContentLength, req.Close, req.ProtoMinor == 0, req.Header}
	if diff := cmp.Diff(got, want, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("%q: h1 and net/http differ (-h1 +net/http):\n%s", p, diff)
	}
}

// netHeader is hs as net/http's ReadRequest presents it: canonical names,
// values in order, Host moved out, and Cache-Control: no-cache added for
// Pragma: no-cache without a Cache-Control (its fixPragmaCacheControl).
func netHeader(hs []Header) http.Header {
	h := http.Header{}
	for _, f := range hs {
		if EqualFold(f.Name, "Host") {
			continue
		}
		k := textproto.CanonicalMIMEHeaderKey(string(f.Name))
		h[k] = append(h[k], string(f.Value))
	}
	if p := h["Pragma"]; len(p) > 0 && p[0] == "no-cache" && h["Cache-Control"] == nil {
		h["Cache-Control"] = []string{"no-cache"}
	}
	return h
}

// FuzzParseResponse: net/http's ReadResponse reads a head ParseResponse
// takes with the same status and framing: chunked or not, Content-Length
// when not chunked, and whether the connection closes after the body
// (ParseResponse's Close, or a body that runs to the close).
//
// Not compared: the header list (net/http deletes Transfer-Encoding,
// duplicate or overridden Content-Length and chunked Trailer fields);
// Content-Length of 1xx, 204 and 304 answers (net/http forces 0; they have
// no body whatever they say); and heads with a Transfer-Encoding other than
// exactly one "chunked" field, which net/http refuses outright while
// ParseResponse reports them (OtherCoding, or Chunked for "gzip, chunked").
func FuzzParseResponse(f *testing.F) {
	for _, tt := range acceptedResponses {
		f.Add([]byte(tt.in))
	}
	for _, tt := range rejectedResponses {
		f.Add([]byte(tt.in))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		var r Response
		err := ParseResponse(p, &r)
		if errors.Is(err, ErrIncomplete) && bytes.Contains(p, crlf2) {
			t.Fatalf("%q: incomplete, but has a blank line", p)
		}
		if err != nil {
			return
		}
		if want := bytes.Index(p, crlf2) + 4; r.HeadLen != want {
			t.Fatalf("%q: head length %d, want %d", p, r.HeadLen, want)
		}
		rd := bytes.NewReader(p[:r.HeadLen])
		br := bufio.NewReader(rd)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			if r.Chunked || r.OtherCoding {
				return // net/http takes only one "Transfer-Encoding: chunked"
			}
			t.Fatalf("%q: accepted, but net/http: %v", p, err)
		}
		if left := rd.Len() + br.Buffered(); left != 0 {
			t.Fatalf("%q: net/http's head ends %d bytes before h1's", p, left)
		}
		compareResponse(t, p, &r, resp)
	})
}

// netFraming is what both parsers must agree on.
type netFraming struct {
	Status        int
	Chunked       bool
	ContentLength int64
	Close         bool
}

func compareResponse(t *testing.T, p []byte, r *Response, resp *http.Response) {
	t.Helper()
	bodyAllowed := r.Status >= 200 && r.Status != 204 && r.Status != 304
	got := netFraming{Status: r.Status, Close: r.Close || (bodyAllowed && !r.Chunked && r.ContentLength < 0)}
	want := netFraming{Status: resp.StatusCode, Close: resp.Close}
	if bodyAllowed {
		got.Chunked, want.Chunked = r.Chunked, len(resp.TransferEncoding) > 0
		if !r.Chunked {
			got.ContentLength, want.ContentLength = r.ContentLength, resp.ContentLength
		}
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Fatalf("%q: h1 and net/http differ (-h1 +net/http):\n%s", p, diff)
	}
}

// FuzzChunkScanner: a body the scanner takes, net/http's chunked reader
// reads to its end without error, and what follows the last chunk is a
// trailer section textproto reads whole; the scanner finds the same end
// whole and in random pieces. A body written by httputil's chunked writer
// (chunk sizes from the input) ends exactly where the scanner says.
func FuzzChunkScanner(f *testing.F) {
	for _, tt := range chunkedBodies {
		f.Add([]byte(tt.in), uint64(1))
	}
	f.Fuzz(func(t *testing.T, p []byte, seed uint64) {
		rng := rand.New(rand.NewPCG(seed, 0))
		whole, wholeErr := scanPieces(p, []int{len(p)})
		split := randomSplit(rng, len(p))
		pieces, piecesErr := scanPieces(p, split)
		if whole != pieces || (wholeErr == nil) != (piecesErr == nil) {
			t.Fatalf("%q: whole %d, %v; in pieces %v: %d, %v", p, whole, wholeErr, split, pieces, piecesErr)
		}
		if wholeErr == nil && whole > 0 {
			checkNetChunked(t, p[:whole])
		}
		sizes := make([]int, min(len(p), 16))
		for i, c := range p[:len(sizes)] {
			sizes[i] = int(c) * (1 + i%3*100)
		}
		body := chunkedBody(sizes, "")
		in := append(bytes.Clone(body), p...)
		split = randomSplit(rng, len(in))
		if got, err := scanPieces(in, split); got != len(body) || err != nil {
			t.Fatalf("sizes %v, pieces %v: got %d, %v, want %d", sizes, split, got, err, len(body))
		}
	})
}

// checkNetChunked checks that net/http reads body, a whole chunked body, to
// its end: chunks with the chunked reader, then the trailer section.
func checkNetChunked(t *testing.T, body []byte) {
	t.Helper()
	rd := bytes.NewReader(body)
	br := bufio.NewReader(rd)
	if _, err := io.Copy(io.Discard, httputil.NewChunkedReader(br)); err != nil {
		if strings.Contains(err.Error(), "too much non-data") {
			return // net/http's limit on extension overhead, not framing
		}
		t.Fatalf("%q: accepted, but net/http's chunked reader: %v", body, err)
	}
	tp := textproto.NewReader(br)
	if _, err := tp.ReadMIMEHeader(); err != nil {
		t.Fatalf("%q: accepted, but net/http's trailer reader: %v", body, err)
	}
	if left := rd.Len() + br.Buffered(); left != 0 {
		t.Fatalf("%q: accepted, but net/http leaves %d bytes after the trailers", body, left)
	}
}
