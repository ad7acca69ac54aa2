package lb

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"strconv"
)

// chunkReader reads a chunked answer body for the h1 upstream one chunk at
// most per Read, where net/http's own reader joins the chunks it has at
// hand: httputil.ReverseProxy flushes each read of a body of unknown
// length, which net/http's server sends as one chunk, so the client gets
// the backend's chunks as they were, as the loops pass them on. (A chunk
// longer than the proxy's copy buffer goes out in pieces, and chunk
// extensions are dropped: net/http's server cannot write them.) The
// trailer goes into res.Trailer at the end, as net/http's reader does.
type chunkReader struct {
	br   *bufio.Reader
	res  *http.Response
	left int64 // of the chunk being read; 0: a chunk-size line comes next
	err  error
}

// maxChunkLine is the longest chunk-size line taken (net/http's limit).
const maxChunkLine = 4096

var errChunk = errors.New("malformed chunked answer body")

func (c *chunkReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if c.left == 0 {
		if c.left, c.err = c.size(); c.err != nil {
			return 0, c.err
		}
		if c.left == 0 {
			c.err = c.trailer()
			return 0, c.err
		}
	}
	n, err := c.br.Read(p[:min(int64(len(p)), c.left)])
	if c.left -= int64(n); c.left == 0 && err == nil {
		err = c.crlf()
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	c.err = err
	return n, err
}

// size reads a chunk-size line, extensions ignored.
func (c *chunkReader) size() (int64, error) {
	line, err := c.br.ReadSlice('\n')
	switch {
	case err == io.EOF:
		return 0, io.ErrUnexpectedEOF
	case err != nil:
		return 0, err
	case len(line) > maxChunkLine:
		return 0, errChunk
	}
	line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	line = bytes.TrimRight(line, " \t")
	n, perr := strconv.ParseUint(string(line), 16, 63)
	if perr != nil || len(line) == 0 {
		return 0, errChunk
	}
	return int64(n), nil
}

// crlf reads the CRLF after a chunk's data.
func (c *chunkReader) crlf() error {
	b, err := c.br.ReadSlice('\n')
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	if err != nil || !(string(b) == "\r\n" || string(b) == "\n") {
		return errChunk
	}
	return nil
}

// trailer reads the trailer section into res.Trailer and ends the body.
func (c *chunkReader) trailer() error {
	h, err := textproto.NewReader(c.br).ReadMIMEHeader()
	if err != nil {
		if err == io.EOF {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	if len(h) > 0 && c.res.Trailer == nil {
		c.res.Trailer = http.Header{}
	}
	for k, v := range h {
		c.res.Trailer[k] = v
	}
	return io.EOF
}

// chunked reports whether res's body is chunked (and there is one).
func chunked(res *http.Response) bool {
	return len(res.TransferEncoding) == 1 && res.TransferEncoding[0] == "chunked" && res.Body != http.NoBody
}

// Close does nothing: h1Body closes or pools the connection.
func (c *chunkReader) Close() error { return nil }
