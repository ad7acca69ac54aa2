package lb

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
)

// The request head and body the h1 upstream (Upstream) sends, written by
// the rules the loops follow rather than by http.Request.Write, which
// re-escapes the target (URL.RequestURI) and decides "Content-Length: 0"
// by method (POST, PUT and PATCH get one whatever the client sent, other
// methods never).

// writeHeadExcluded are the fields writeRequest writes itself.
// User-Agent is written only when not empty: httputil.ReverseProxy sets an
// empty one to keep http.Request.Write from adding its own.
var writeHeadExcluded = map[string]bool{"Host": true, "User-Agent": true, "Content-Length": true, "Transfer-Encoding": true, "Trailer": true}

// requestTarget is the target the request line of req says: its URL's
// Opaque when the proxy set it (side.attempt, the client's own target by
// the loops' rule), else the URL's escaped form.
func requestTarget(req *http.Request) string {
	if u := req.URL; u.Opaque != "" && strings.HasPrefix(u.Opaque, "/") {
		return u.Opaque
	}
	return req.URL.RequestURI()
}

// bodyLess reports whether req carries no body (one with a ContentLength
// of 0 has one of unknown length, as for http.Request.Write).
func bodyLess(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody
}

// writeHead writes req's head to bw: request line, Host, the header
// fields, and the framing the body needs (sendsZeroLength for none).
func writeHead(bw *bufio.Writer, req *http.Request) error {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	bw.WriteString(req.Method)
	bw.WriteByte(' ')
	bw.WriteString(requestTarget(req))
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(host)
	bw.WriteString("\r\n")
	for _, ua := range req.Header["User-Agent"] {
		if ua != "" {
			bw.WriteString("User-Agent: " + headerValue(ua) + "\r\n")
		}
	}
	if err := req.Header.WriteSubset(bw, writeHeadExcluded); err != nil {
		return err
	}
	switch {
	case bodyLess(req):
		if sendsZeroLength(req.Header) {
			bw.WriteString("Content-Length: 0\r\n")
		}
	case req.ContentLength > 0:
		bw.WriteString("Content-Length: " + strconv.FormatInt(req.ContentLength, 10) + "\r\n")
	default:
		bw.WriteString("Transfer-Encoding: chunked\r\n")
		if err := writeTrailerNames(bw, req.Trailer); err != nil {
			return err
		}
	}
	if req.Close && !hasCloseToken(req.Header) {
		bw.WriteString("Connection: close\r\n")
	}
	_, err := bw.WriteString("\r\n")
	return err
}

// sendsZeroLength is the rule of every path for a request without a
// body: "Content-Length: 0" goes to the backend when the client sent it,
// and only then (the loops pass the client's head on as it came).
func sendsZeroLength(h http.Header) bool {
	_, ok := h["Content-Length"]
	return ok
}

func writeTrailerNames(bw *bufio.Writer, tr http.Header) error {
	if len(tr) == 0 {
		return nil
	}
	names := make([]string, 0, len(tr))
	for k := range tr {
		names = append(names, k)
	}
	_, err := bw.WriteString("Trailer: " + strings.Join(names, ",") + "\r\n")
	return err
}

// headerValue is v as http.Header.Write writes a value: line breaks
// made spaces, outer blanks trimmed.
func headerValue(v string) string {
	return strings.TrimSpace(newlineToSpace.Replace(v))
}

// newlineToSpace is built once: a Replacer is costly to make, and
// headerValue runs for every request net/http's path sends.
var newlineToSpace = strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ")

func hasCloseToken(h http.Header) bool {
	for _, v := range h["Connection"] {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "close") {
				return true
			}
		}
	}
	return false
}

// writeBody writes req's body to bw, framed as writeHead said, and closes
// it. A body that fails to read, or is shorter than its Content-Length,
// is a bodyReadError.
func writeBody(bw *bufio.Writer, req *http.Request) error {
	if bodyLess(req) {
		closeBody(req)
		return nil
	}
	defer req.Body.Close()
	src := &readTap{r: req.Body}
	err := copyBody(bw, src, req)
	if src.err != nil {
		return bodyReadError{src.err}
	}
	return err
}

func copyBody(bw *bufio.Writer, src *readTap, req *http.Request) error {
	if req.ContentLength > 0 {
		n, err := io.CopyN(bw, src, req.ContentLength)
		if n < req.ContentLength && src.err == nil && (err == nil || err == io.EOF) {
			src.err = io.ErrUnexpectedEOF
		}
		return err
	}
	cw := httputil.NewChunkedWriter(bw)
	if _, err := io.Copy(cw, src); err != nil {
		return err
	}
	if err := cw.Close(); err != nil {
		return err
	}
	if err := req.Trailer.Write(bw); err != nil {
		return err
	}
	_, err := bw.WriteString("\r\n")
	return err
}

// bodyReadError is a request body that could not be read whole: the
// request cannot end, so the connection is cut.
type bodyReadError struct{ error }

func (e bodyReadError) Unwrap() error { return e.error }

// readTap keeps the first read error of r but io.EOF.
type readTap struct {
	r   io.Reader
	err error
}

func (t *readTap) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF && t.err == nil {
		t.err = err
	}
	return n, err
}
