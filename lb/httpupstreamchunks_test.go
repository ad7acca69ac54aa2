package lb

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestChunkReader: one chunk at most per read, extensions ignored, the
// trailer in the response's Trailer, and a body cut short or malformed is
// an error (a unit test: the framing through both paths is
// TestLoopAnswerFraming's).
func TestChunkReader(t *testing.T) {
	res := &http.Response{}
	c := &chunkReader{br: bufio.NewReader(strings.NewReader("5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: abc\r\n\r\n")), res: res}
	var reads []string
	buf := make([]byte, 64)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			reads = append(reads, string(buf[:n]))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if strings.Join(reads, "|") != "hello| world" || res.Trailer.Get("X-Sum") != "abc" {
		t.Errorf("reads %q, trailer %v; want [hello  world] and X-Sum: abc", reads, res.Trailer)
	}
	for body, want := range map[string]error{"5\r\nhel": io.ErrUnexpectedEOF, "zz\r\nhello\r\n": errChunk, "2\r\nokXX\r\n": errChunk} {
		c := &chunkReader{br: bufio.NewReader(strings.NewReader(body)), res: &http.Response{}}
		if _, err := io.ReadAll(c); !errors.Is(err, want) {
			t.Errorf("%q: %v, want %v", body, err, want)
		}
	}
}
