package h1

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"net/http/httputil"
	"testing"
)

var chunkedBodies = []struct {
	name     string
	in       string
	wantBody int // bytes of the body; -1: not complete; 0 with an error
	wantErr  bool
}{
	{"two chunks", "5\r\nhello\r\na;ext=1\r\n0123456789\r\n0\r\n\r\nNEXT", 36, false},
	{"trailers", "3\r\nabc\r\n0\r\nX-Sum: 1\r\nY:2\r\n\r\nNEXT", 28, false},
	{"last chunk only", "0\r\n\r\n", 5, false},
	{"last chunk with extension", "0;a=\"b c\"\r\n\r\nX", 13, false},
	{"upper-case hex", "A\r\n0123456789\r\n0\r\n\r\n", 20, false},
	{"leading zeros", "0000000000000003\r\nabc\r\n0\r\n\r\n", 28, false},
	{"spaces after size", "3 \t\r\nabc\r\n0\r\n\r\n", 15, false},
	{"empty extension", "3;\r\nabc\r\n0\r\n\r\n", 14, false},
	{"data with CRLF inside", "4\r\n\r\n\r\n\r\n0\r\n\r\n", 14, false},
	{"size 2^62", "4000000000000000\r\n", -1, false},
	{"incomplete data", "5\r\nhel", -1, false},
	{"incomplete trailer", "0\r\nX: 1\r\n", -1, false},
	{"no size", "\r\nabc", 0, true},
	{"non-hex size", "g\r\n", 0, true},
	{"negative size", "-1\r\n", 0, true},
	{"size over 2^62", "4000000000000001\r\n", 0, true},
	{"17 digits", "00000000000000001\r\n", 0, true},
	{"space inside size", "1 2\r\n", 0, true},
	{"space before extension", "3 ;a\r\nabc\r\n0\r\n\r\n", 0, true},
	{"bare LF after size", "3\nabc\r\n0\r\n\r\n", 0, true},
	{"CR without LF after size", "3\rabc\r\n", 0, true},
	{"control byte in extension", "3;\x00\r\nabc\r\n", 0, true},
	{"no CRLF after data", "3\r\nabcd\r\n", 0, true},
	{"bare LF after data", "3\r\nabc\n0\r\n\r\n", 0, true},
	{"bare LF at end", "0\r\n\n", 0, true},
	{"bare LF after trailer", "0\r\nX: 1\n\r\n", 0, true},
	{"trailer without colon", "0\r\nX\r\n\r\n", 0, true},
	{"trailer with empty name", "0\r\n: 1\r\n\r\n", 0, true},
	{"folded trailer", "0\r\nX: 1\r\n 2\r\n\r\n", 0, true},
	{"control byte in trailer", "0\r\nX: \x01\r\n\r\n", 0, true},
}

// TestChunkScanner feeds each body whole, a byte at a time and in random
// pieces.
func TestChunkScanner(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tt := range chunkedBodies {
		t.Run(tt.name, func(t *testing.T) {
			splits := [][]int{{len(tt.in)}, ones(len(tt.in))}
			for k := 1; k < len(tt.in); k++ {
				splits = append(splits, []int{k, len(tt.in) - k})
			}
			for range 20 {
				splits = append(splits, randomSplit(rng, len(tt.in)))
			}
			for _, split := range splits {
				got, err := scanPieces([]byte(tt.in), split)
				if (err != nil) != tt.wantErr {
					t.Fatalf("pieces %v: got error %v, want one: %t", split, err, tt.wantErr)
				}
				if err != nil && !errors.Is(err, ErrMalformed) {
					t.Fatalf("pieces %v: got error %v, want %v", split, err, ErrMalformed)
				}
				if got != tt.wantBody {
					t.Fatalf("pieces %v: got %d body bytes, want %d", split, got, tt.wantBody)
				}
			}
		})
	}
}

// TestChunkScannerWriter: a body written by httputil's chunked writer ends
// exactly where the scanner says, whatever the pieces.
func TestChunkScannerWriter(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, sizes := range [][]int{{}, {1}, {1, 2, 3}, {4096, 17, 70000}} {
		body := chunkedBody(sizes, "X-T: v\r\n")
		in := append(bytes.Clone(body), "GET / HTTP/1.1\r\n"...)
		for range 50 {
			split := randomSplit(rng, len(in))
			got, err := scanPieces(in, split)
			if err != nil || got != len(body) {
				t.Fatalf("sizes %v, pieces %v: got %d, %v, want %d", sizes, split, got, err, len(body))
			}
		}
	}
}

func TestChunkScannerAfterDone(t *testing.T) {
	var s ChunkScanner
	if _, done, err := s.Scan([]byte("0\r\n\r\n")); !done || err != nil {
		t.Fatalf("got done %t, error %v, want done", done, err)
	}
	n, done, err := s.Scan([]byte("more"))
	if n != 0 || !done || err != nil {
		t.Errorf("got %d, %t, %v after the end, want 0, true, nil", n, done, err)
	}
}

// chunkedBody writes chunks of the given sizes with httputil's chunked
// writer, then the trailer section and the final CRLF.
func chunkedBody(sizes []int, trailer string) []byte {
	var b bytes.Buffer
	w := httputil.NewChunkedWriter(&b)
	for i, n := range sizes {
		_, _ = w.Write(bytes.Repeat([]byte{byte('a' + i%26)}, n))
	}
	_ = w.Close()
	b.WriteString(trailer + "\r\n")
	return b.Bytes()
}

func ones(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = 1
	}
	return s
}

// randomSplit is random piece lengths adding up to n.
func randomSplit(rng *rand.Rand, n int) []int {
	var s []int
	for n > 0 {
		k := 1 + rng.IntN(min(n, 8))
		if rng.IntN(4) == 0 {
			k = 1 + rng.IntN(n)
		}
		s = append(s, k)
		n -= k
	}
	return s
}

// scanPieces scans in in pieces of the given lengths: the body length when
// it ends, else -1; 0 with an error. A piece must not be consumed past the
// body's end.
func scanPieces(in []byte, pieces []int) (int, error) {
	var s ChunkScanner
	off := 0
	for _, k := range pieces {
		n, done, err := s.Scan(in[off : off+k])
		if err != nil {
			return 0, err
		}
		if done {
			return off + n, nil
		}
		if n != k {
			return 0, errors.New("scanning chunked body: piece not consumed whole before the end")
		}
		off += k
	}
	return -1, nil
}

// TestChunkDecode: Decode takes the framing out of a chunked body fed in
// pieces of every size, leaving its data, and stops at the body's end as
// Scan does.
func TestChunkDecode(t *testing.T) {
	body := "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-T: 1\r\n\r\nNEXT"
	for size := 1; size <= len(body); size++ {
		var d ChunkScanner
		var got []byte
		consumed := 0
		for i := 0; i < len(body); i += size {
			piece := []byte(body[i:min(i+size, len(body))])
			n, data, done, err := d.Decode(piece)
			if err != nil {
				t.Fatalf("size %d: %v", size, err)
			}
			got = append(got, piece[:data]...)
			if consumed += n; done {
				break
			}
		}
		if string(got) != "hello world" || consumed != len(body)-len("NEXT") {
			t.Errorf("size %d: data %q after %d bytes, want \"hello world\" after %d", size, got, consumed, len(body)-4)
		}
	}
}
