package shadow

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/migratekit/migrate/compare"
)

// capture is the ResponseWriter of a mirrored request's primary: every
// byte goes to the client first, as it comes; a copy of up to max bytes is
// kept for the comparison. An event stream or a hijacked connection stops
// the copy (the pair is then skipped_stream).
type capture struct {
	http.ResponseWriter
	sb        *shared
	max       int
	code      int
	header    http.Header
	own       map[string]int // header values the proxy set before serving
	truncated bool
	stream    bool
	// clientGone says a write to the client failed: the client left
	// before the answer was complete.
	clientGone bool
}

// init readies c to capture into sb the answer written to w.
func (c *capture) init(w http.ResponseWriter, sb *shared, max int64) {
	*c = capture{ResponseWriter: w, sb: sb, max: int(max)}
	if h := w.Header(); len(h) > 0 {
		// The proxy's own headers (a sticky cookie it mints) are not the
		// backend's answer.
		c.own = make(map[string]int, len(h))
		for k, v := range h {
			c.own[k] = len(v)
		}
	}
}

// WriteHeader snapshots the final status and headers on their way out.
func (c *capture) WriteHeader(code int) {
	if c.code == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		c.snapshot(code)
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *capture) Write(b []byte) (int, error) {
	if c.code == 0 {
		c.snapshot(http.StatusOK)
	}
	n, err := c.ResponseWriter.Write(b)
	c.keep(b[:n])
	if err != nil {
		c.clientGone = c.clientGone || connError(err)
	}
	return n, err
}

// connError reports an error of the server's ResponseWriter that means the
// connection to the client broke, rather than a misuse of the writer.
func connError(err error) bool {
	return !errors.Is(err, http.ErrBodyNotAllowed) && !errors.Is(err, http.ErrContentLength) &&
		!errors.Is(err, http.ErrHijacked)
}

func (c *capture) snapshot(code int) {
	c.code = code
	c.header = c.ResponseWriter.Header().Clone()
	for k, n := range c.own {
		if v := c.header[k]; len(v) <= n {
			delete(c.header, k)
		} else {
			c.header[k] = v[n:]
		}
	}
	delete(c.header, "X-Migrate-Side") // the proxy's debug header
	if code == http.StatusSwitchingProtocols || isEventStream(c.header) {
		c.stream = true
	}
}

func (c *capture) keep(b []byte) {
	if c.stream || c.truncated || len(b) == 0 {
		return
	}
	room := c.max - c.sb.buf.Len()
	if len(b) > room {
		b, c.truncated = b[:room], true
	}
	c.sb.buf.Write(b)
}

// Unwrap lets http.ResponseController reach the server's writer (Flush,
// deadlines, full duplex).
func (c *capture) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// Flush implements http.Flusher.
func (c *capture) Flush() { _ = c.FlushError() }

// FlushError is what http.ResponseController calls to flush.
func (c *capture) FlushError() error {
	err := http.NewResponseController(c.ResponseWriter).Flush()
	if err != nil && !errors.Is(err, http.ErrNotSupported) {
		c.clientGone = c.clientGone || connError(err)
	}
	return err
}

// Hijack hands the connection over (a protocol switch) and stops the copy.
func (c *capture) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c.stream = true
	return http.NewResponseController(c.ResponseWriter).Hijack()
}

// response is the primary's answer as captured.
func (c *capture) response(latency time.Duration) compare.Response {
	if c.code == 0 {
		c.snapshot(http.StatusOK)
	}
	return compare.Response{
		Status:    c.code,
		Header:    c.header,
		Body:      c.sb.bytes(),
		Truncated: c.truncated,
		Latency:   latency,
	}
}

// isEventStream reports a text/event-stream response (SSE), which is
// streamed and never compared.
func isEventStream(h http.Header) bool {
	ct := strings.TrimSpace(h.Get("Content-Type"))
	const sse = "text/event-stream"
	if len(ct) < len(sse) || !strings.EqualFold(ct[:len(sse)], sse) {
		return false
	}
	rest := ct[len(sse):]
	return rest == "" || rest[0] == ';' || rest[0] == ' ' || rest[0] == '\t'
}
