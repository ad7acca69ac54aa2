package lb

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// h1Response is the http.ResponseWriter of h1Server. It writes the header
// when the body starts (or the handler returns), frames the body by the
// Content-Length the handler gave, else chunked (HTTP/1.1) or by closing
// the connection (HTTP/1.0), and supports Flush, Hijack and trailers, which
// is what httputil.ReverseProxy uses.
type h1Response struct {
	c      *h1ServerConn
	req    *http.Request
	header http.Header

	status      int
	wroteHeader bool // WriteHeader was called with a final status
	sentHeader  bool // the header is in the write buffer
	noBody      bool // HEAD, 204, 304: the body is dropped
	chunked     bool
	length      int64 // declared Content-Length; -1 when none
	written     int64
	closeAfter  bool
	broken      bool // the connection cannot carry another response
	panicked    bool // the handler panicked: nothing more is written
	canContinue bool // a 100 Continue may still be sent
	// pending holds the first bytes of a body without a declared length,
	// so that a short one gets a Content-Length rather than chunks (as
	// net/http does). It is the connection's scratch buffer.
	pending []byte
}

// pendingMax is how much of a body without a declared length is held
// back to learn its length.
const pendingMax = 2048

var errBodyNotAllowed = http.ErrBodyNotAllowed

func newH1Response(c *h1ServerConn, req *http.Request) *h1Response {
	return &h1Response{c: c, req: req, header: make(http.Header, 8), length: -1,
		closeAfter: req.Close || !keepAlive(req), pending: c.pending[:0]}
}

// keepAlive reports whether the client keeps the connection open after
// this request.
func keepAlive(req *http.Request) bool {
	if req.ProtoAtLeast(1, 1) {
		return true
	}
	return strings.EqualFold(req.Header.Get("Connection"), "keep-alive")
}

// expectContinue handles Expect: it arms a 100 Continue for the first read
// of the body, or answers 417 to an expectation it cannot meet. It reports
// whether the request goes on.
func (w *h1Response) expectContinue() bool {
	exp := w.req.Header.Get("Expect")
	if exp == "" {
		return true
	}
	if strings.EqualFold(exp, "100-continue") && w.req.ProtoAtLeast(1, 1) && w.req.ContentLength != 0 {
		w.canContinue = true
		w.req.Body = &continueReader{w: w, body: w.req.Body}
		return true
	}
	w.c.writeError(http.StatusExpectationFailed, "unsupported Expect")
	return false
}

// continueReader sends 100 Continue before the first read of the body.
type continueReader struct {
	w    *h1Response
	body io.ReadCloser
	sent atomic.Bool
}

func (r *continueReader) Read(p []byte) (int, error) {
	if r.sent.CompareAndSwap(false, true) && r.w.canContinue && !r.w.sentHeader {
		r.w.canContinue = false
		bw := r.w.c.bw
		_, _ = bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
		if err := bw.Flush(); err != nil {
			return 0, err
		}
	}
	return r.body.Read(p)
}

func (r *continueReader) Close() error { return r.body.Close() }

func (w *h1Response) Header() http.Header { return w.header }

// WriteHeader records the status; 1xx statuses other than 101 are sent at
// once, as net/http does (103 Early Hints).
func (w *h1Response) WriteHeader(code int) {
	if w.wroteHeader || w.c.hijacked {
		return
	}
	if code < 100 || code > 999 {
		panic("lb: invalid WriteHeader code " + strconv.Itoa(code))
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		w.canContinue = false
		bw := w.c.bw
		bw.WriteString("HTTP/1.1 ")
		bw.WriteString(statusLine(code))
		bw.WriteString("\r\n")
		writeHeaderLines(bw, w.header, nil)
		bw.WriteString("\r\n")
		_ = bw.Flush()
		return
	}
	w.wroteHeader = true
	w.status = code
}

func (w *h1Response) Write(p []byte) (int, error) {
	if w.c.hijacked {
		return 0, http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.sentHeader {
		if w.holdBack(p) {
			return len(p), nil
		}
		w.sendHeader(false)
	}
	if w.noBody {
		if w.req.Method == http.MethodHead {
			return len(p), nil
		}
		return 0, errBodyNotAllowed
	}
	if w.length >= 0 && w.written+int64(len(p)) > w.length {
		n, _ := w.writeBody(p[:w.length-w.written])
		return n, http.ErrContentLength
	}
	return w.writeBody(p)
}

// holdBack keeps p in pending while the body has no declared length and
// fits in pendingMax; it reports whether it did.
func (w *h1Response) holdBack(p []byte) bool {
	if w.header.Get("Content-Length") != "" || w.header["Trailer"] != nil || len(w.pending)+len(p) > pendingMax {
		return false
	}
	w.pending = append(w.pending, p...)
	return true
}

// sendPending writes what holdBack kept.
func (w *h1Response) sendPending() {
	if len(w.pending) > 0 {
		p := w.pending
		w.pending = w.pending[:0]
		if !w.noBody {
			_, _ = w.writeBody(p)
		}
	}
}

func (w *h1Response) writeBody(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	bw := w.c.bw
	if w.chunked {
		bw.WriteString(strconv.FormatInt(int64(len(p)), 16))
		bw.WriteString("\r\n")
	}
	n, err := bw.Write(p)
	w.written += int64(n)
	if err == nil && w.chunked {
		_, err = bw.WriteString("\r\n")
	}
	if err != nil {
		w.broken = true
	}
	return n, err
}

// Flush sends what is buffered, the header first.
func (w *h1Response) Flush() { _ = w.FlushError() }

// FlushError is what http.ResponseController calls to flush.
func (w *h1Response) FlushError() error {
	if w.c.hijacked {
		return http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.sentHeader {
		w.sendHeader(false)
	}
	err := w.c.bw.Flush()
	if err != nil {
		w.broken = true
	}
	return err
}

// EnableFullDuplex is a no-op: the server never reads ahead of the
// handler, so reading the body while writing the answer always works.
func (w *h1Response) EnableFullDuplex() error { return nil }

// SetReadDeadline and SetWriteDeadline serve http.ResponseController.
func (w *h1Response) SetReadDeadline(t time.Time) error  { return w.c.nc.SetReadDeadline(t) }
func (w *h1Response) SetWriteDeadline(t time.Time) error { return w.c.nc.SetWriteDeadline(t) }

// Hijack hands the connection to the handler (websockets): what the client
// sent beyond the request stays readable from the returned reader.
func (w *h1Response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c := w.c
	if c.hijacked {
		return nil, nil, http.ErrHijacked
	}
	if w.sentHeader {
		if err := c.bw.Flush(); err != nil {
			return nil, nil, err
		}
	}
	c.hijacked = true
	_ = c.nc.SetDeadline(time.Time{})
	c.lr.n = 1<<63 - 1
	return c.nc, bufio.NewReadWriter(c.br, c.bw), nil
}

// sendHeader puts the status line and header in the write buffer, after
// choosing how the body is framed. final means the handler has returned,
// so a response without a declared length and no body gets a length of 0.
func (w *h1Response) sendHeader(final bool) {
	w.sentHeader = true
	w.canContinue = false
	h := w.header
	code := w.status
	w.noBody = w.req.Method == http.MethodHead || code == http.StatusNoContent ||
		code == http.StatusNotModified || (code >= 100 && code <= 199)
	if cl := h.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n >= 0 {
			w.length = n
		} else {
			h.Del("Content-Length")
		}
	}
	if w.length >= 0 || w.noBody {
		h.Del("Transfer-Encoding")
	}
	switch {
	case w.noBody || w.length >= 0:
	case final && (h["Trailer"] == nil || !w.req.ProtoAtLeast(1, 1)):
		w.length = int64(len(w.pending))
		h["Content-Length"] = []string{strconv.Itoa(len(w.pending))}
	case w.req.ProtoAtLeast(1, 1):
		w.chunked = true
		h["Transfer-Encoding"] = []string{"chunked"}
	default:
		w.closeAfter = true // HTTP/1.0 without a length: the close ends the body
	}
	if hasToken(h.Get("Connection"), "close") || w.c.srv.shutting.Load() {
		w.closeAfter = true
	}
	if w.closeAfter {
		h["Connection"] = []string{"close"}
	} else if !w.req.ProtoAtLeast(1, 1) {
		h["Connection"] = []string{"keep-alive"}
	}
	if _, ok := h["Date"]; !ok {
		h["Date"] = []string{httpDate()}
	}
	bw := w.c.bw
	bw.WriteString("HTTP/1.1 ")
	bw.WriteString(statusLine(code))
	bw.WriteString("\r\n")
	writeHeaderLines(bw, h, trailerSkip)
	bw.WriteString("\r\n")
	w.sendPending()
}

// trailerSkip leaves out of the header the trailers a handler declared
// with http.TrailerPrefix.
func trailerSkip(key string) bool { return strings.HasPrefix(key, http.TrailerPrefix) }

// finish completes the response after the handler returned, and reports
// whether the connection may serve another request.
func (w *h1Response) finish() bool {
	defer func() { w.c.pending = w.pending[:0] }()
	if w.panicked {
		return false
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.sentHeader {
		w.sendHeader(true)
	}
	bw := w.c.bw
	if w.chunked {
		bw.WriteString("0\r\n")
		w.writeTrailers(bw)
		bw.WriteString("\r\n")
	}
	if err := bw.Flush(); err != nil {
		return false
	}
	if w.broken || w.closeAfter || (w.length >= 0 && !w.noBody && w.written < w.length) {
		return false
	}
	return drainBody(w.req.Body)
}

// writeTrailers writes the trailers the handler declared in the Trailer
// header or set with http.TrailerPrefix.
func (w *h1Response) writeTrailers(bw *bufio.Writer) {
	for _, decl := range w.header["Trailer"] {
		for k := range strings.SplitSeq(decl, ",") {
			k = http.CanonicalHeaderKey(strings.TrimSpace(k))
			for _, v := range w.header[k] {
				writeField(bw, k, v)
			}
		}
	}
	for k, vs := range w.header {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
			for _, v := range vs {
				writeField(bw, name, v)
			}
		}
	}
}

// drainBody reads what the handler left of the request body, up to a
// bound, so that the next request can be read; past the bound, or on an
// error, the connection closes.
func drainBody(body io.ReadCloser) bool {
	if body == nil || body == http.NoBody {
		return true
	}
	n, err := io.CopyN(io.Discard, body, 256<<10)
	body.Close()
	return n < 256<<10 && (err == nil || errors.Is(err, io.EOF))
}

// writeHeaderLines writes each field of h as "Key: value\r\n", with line
// breaks in values turned into spaces (as http.Header.Write does), and
// without the keys skip reports.
func writeHeaderLines(bw *bufio.Writer, h http.Header, skip func(string) bool) {
	for k, vs := range h {
		if skip != nil && skip(k) {
			continue
		}
		for _, v := range vs {
			writeField(bw, k, v)
		}
	}
}

func writeField(bw *bufio.Writer, k, v string) {
	if !validFieldName(k) {
		return
	}
	bw.WriteString(k)
	bw.WriteString(": ")
	if strings.ContainsAny(v, "\r\n") {
		v = strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ").Replace(v)
	}
	bw.WriteString(strings.TrimSpace(v))
	bw.WriteString("\r\n")
}

// validFieldName reports whether k is a header field name token.
func validFieldName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !isTokenByte(k[i]) {
			return false
		}
	}
	return true
}

func isTokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// hasToken reports whether the comma-separated list v holds token t.
func hasToken(v, t string) bool {
	for part := range strings.SplitSeq(v, ",") {
		if strings.EqualFold(strings.TrimSpace(part), t) {
			return true
		}
	}
	return false
}

// statusLine returns "200 OK" for 200.
func statusLine(code int) string {
	if code >= 0 && code < len(statusLines) && statusLines[code] != "" {
		return statusLines[code]
	}
	text := http.StatusText(code)
	if text == "" {
		text = "status code " + strconv.Itoa(code)
	}
	return strconv.Itoa(code) + " " + text
}

var statusLines = func() []string {
	lines := make([]string, 600)
	for code := range lines {
		if text := http.StatusText(code); text != "" {
			lines[code] = strconv.Itoa(code) + " " + text
		}
	}
	return lines
}()

// dateCache holds the Date header of the current second.
var dateCache atomic.Pointer[cachedDate]

type cachedDate struct {
	sec  int64
	text string
}

func httpDate() string {
	now := time.Now()
	if d := dateCache.Load(); d != nil && d.sec == now.Unix() {
		return d.text
	}
	d := &cachedDate{sec: now.Unix(), text: now.UTC().Format(http.TimeFormat)}
	dateCache.Store(d)
	return d.text
}
