package h1

import (
	"bytes"
	"net/http"
	"strconv"
)

// The request rules: what every data path of the proxy accepts as a
// request head, and how it answers one it refuses. ParseRequest takes a
// narrow subset of these heads and hands the others to a full HTTP server;
// CheckHead judges any head by the rules before that server reads it, so
// that the answer to a doubtful head is the same whichever path it came
// to.
//
// The rules, after RFC 9112 and nginx where they choose:
//   - a head longer than the configured limit (request line, fields and
//     the empty line) is answered 431;
//   - a version other than HTTP/1.0 and HTTP/1.1 is answered 505 (a
//     version that is not "HTTP/" DIGIT "." DIGIT, 400);
//   - Transfer-Encoding with Content-Length (RFC 9112 6.3: a smuggling
//     attempt), Transfer-Encoding on HTTP/1.0, Content-Length values that
//     are not one decimal length, a field name that is not a token (a
//     space in it or before the colon), a folded field line, a control
//     byte in a value, a missing Host on HTTP/1.1, a second Host, a
//     request target with a fragment ('#'), the asterisk-form "*" with
//     another method than OPTIONS, and a target in no form of RFC 9112
//     3.2 (not '/' first, not http:// or https://, not "*", not CONNECT's
//     authority-form: "A:", "mailto:x") are answered 400, as nginx does;
//   - a Transfer-Encoding other than one "chunked" is answered 501, as
//     net/http and nginx do.
//
// Empty lines before the request line are skipped (RFC 9112 2.2), and
// lines may end in a bare LF, as nginx and net/http read them.

// RequestHead is what CheckHead found of an acceptable head.
type RequestHead struct {
	Skip    int   // bytes of empty lines before the head (ignored)
	Len     int   // bytes of the head from its request line, final empty line included
	Length  int64 // the Content-Length, 0 when there is none
	Chunked bool  // the body is chunked
	Upgrade bool  // the request has an Upgrade field
}

// HeadError is a request head the rules refuse, with the status it is
// answered with.
type HeadError struct {
	Status int // 400, 431, 501 or 505
	What   string
	Off    int // the offending byte or line, from the start of the input
}

func (e *HeadError) Error() string {
	return "request head refused (" + http.StatusText(e.Status) + ") at byte " + strconv.Itoa(e.Off) + ": " + e.What
}

// CheckHead judges the request head at the start of p by the rules, with
// limit the most bytes a head may have. It returns ErrIncomplete while p
// holds no whole head and limit is not passed yet (with Skip set: the empty
// lines may go), a *HeadError for a head the rules refuse, else what it
// found.
func CheckHead(p []byte, limit int) (RequestHead, error) {
	skip := skipEmptyLines(p)
	end := headEnd(p[skip:])
	switch {
	case end < 0 && len(p)-skip > limit, end > limit:
		return RequestHead{}, &HeadError{Status: http.StatusRequestHeaderFieldsTooLarge, What: "head longer than " + strconv.Itoa(limit) + " bytes", Off: skip + limit}
	case end < 0:
		return RequestHead{Skip: skip}, ErrIncomplete
	}
	var c headCheck
	c.head, c.base = p[skip:skip+end], skip
	if err := c.run(); err != nil {
		return RequestHead{}, err
	}
	return RequestHead{Skip: skip, Len: end, Length: c.length, Chunked: c.chunked, Upgrade: c.upgrade}, nil
}

// skipEmptyLines returns the bytes of the empty lines (LF or CRLF) at the
// start of p.
func skipEmptyLines(p []byte) int {
	i := 0
	for i < len(p) {
		switch {
		case p[i] == '\n':
			i++
		case p[i] == '\r' && i+1 < len(p) && p[i+1] == '\n':
			i += 2
		default:
			return i
		}
	}
	return i
}

// headEnd returns the length of the head at the start of p up to and
// including its empty line, or -1 when p does not hold it whole.
func headEnd(p []byte) int {
	for i := 0; i < len(p); {
		j := i
		for j < len(p) && p[j] != '\n' {
			j++
		}
		if j == len(p) {
			return -1
		}
		if j == i || (j == i+1 && p[i] == '\r') {
			return j + 1
		}
		i = j + 1
	}
	return -1
}

// headCheck walks one whole head.
type headCheck struct {
	head    []byte
	base    int // offset of head in the caller's input
	http10  bool
	hosts   int
	length  int64
	lengths int
	te      int // Transfer-Encoding fields
	chunked bool
	upgrade bool
}

func (c *headCheck) fail(status, off int, what string) error {
	return &HeadError{Status: status, What: what, Off: c.base + off}
}

// run checks the request line, then each field line, then what they say
// together.
func (c *headCheck) run() error {
	line, next := c.line(0)
	if err := c.requestLine(line); err != nil {
		return err
	}
	for {
		start := next
		line, next = c.line(start)
		if len(line) == 0 {
			break
		}
		if err := c.field(line, start); err != nil {
			return err
		}
	}
	return c.framing()
}

// line returns the line at head[i:] without its LF or CRLF, and the offset
// of the next one.
func (c *headCheck) line(i int) (line []byte, next int) {
	j := i
	for c.head[j] != '\n' {
		j++
	}
	line = c.head[i:j]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, j + 1
}

// requestLine checks "method SP target SP HTTP/x.y".
func (c *headCheck) requestLine(line []byte) error {
	i := 0
	for i < len(line) && isTokenChar(line[i]) {
		i++
	}
	if i == 0 || i == len(line) || line[i] != ' ' {
		return c.fail(http.StatusBadRequest, i, "method not a token followed by one space")
	}
	i++
	start := i
	for i < len(line) && isTargetChar(line[i]) {
		i++
	}
	if i == start || i == len(line) || line[i] != ' ' {
		return c.fail(http.StatusBadRequest, i, "request target not followed by one space")
	}
	if err := c.target(line[:start-1], line[start:i], start); err != nil {
		return err
	}
	return c.version(line[i+1:], i+1)
}

// target checks what RFC 9112 3.2 allows of a request target that its
// bytes alone do not tell: never a fragment ('#': a client strips it
// before sending), and the asterisk-form "*" with OPTIONS only.
func (c *headCheck) target(method, target []byte, off int) error {
	if k := bytes.IndexByte(target, '#'); k >= 0 {
		return c.fail(http.StatusBadRequest, off+k, "request target with a fragment ('#')")
	}
	if len(target) == 1 && target[0] == '*' {
		if string(method) != http.MethodOptions {
			return c.fail(http.StatusBadRequest, off, "asterisk-form target with "+string(method)+", not OPTIONS")
		}
		return nil
	}
	// Origin-form, CONNECT's authority-form (the router refuses it 405),
	// absolute-form.
	if len(target) > 0 && target[0] == '/' || string(method) == http.MethodConnect ||
		hasPrefixFold(target, "http://") || hasPrefixFold(target, "https://") {
		return nil
	}
	return c.fail(http.StatusBadRequest, off, "request target not in origin-form, absolute-form (http:// or https://) or '*'")
}

// hasPrefixFold reports whether b starts with prefix, ASCII case-insensitive.
func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && EqualFold(b[:len(prefix)], prefix)
}

// isTargetChar: a byte of a request target (visible ASCII or obs-text).
func isTargetChar(c byte) bool { return c > ' ' && c != 0x7f }

// version checks an HTTP version at offset off: 1.0 or 1.1, else 505 for
// another well-formed one and 400 for the rest.
func (c *headCheck) version(v []byte, off int) error {
	switch string(v) {
	case "HTTP/1.1":
		return nil
	case "HTTP/1.0":
		c.http10 = true
		return nil
	}
	if len(v) == len("HTTP/x.y") && string(v[:5]) == "HTTP/" && isDigit(v[5]) && v[6] == '.' && isDigit(v[7]) {
		return c.fail(http.StatusHTTPVersionNotSupported, off, "version "+string(v)+" not HTTP/1.0 or HTTP/1.1")
	}
	return c.fail(http.StatusBadRequest, off, "version not HTTP/DIGIT.DIGIT")
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// field checks one field line, at offset off, and records what the rules
// look at.
func (c *headCheck) field(line []byte, off int) error {
	if isOWS(line[0]) {
		return c.fail(http.StatusBadRequest, off, "folded field line (obs-fold)")
	}
	i := 0
	for i < len(line) && isTokenChar(line[i]) {
		i++
	}
	if i == 0 || i == len(line) || line[i] != ':' {
		return c.fail(http.StatusBadRequest, off+i, "field name not a token followed by ':'")
	}
	name, value := line[:i], trimOWS(line[i+1:])
	for k, b := range value {
		if !isValueChar(b) {
			return c.fail(http.StatusBadRequest, off+i+1+k, "control byte in a field value")
		}
	}
	return c.record(name, value, off)
}

// record notes the fields that decide the framing and the Host.
func (c *headCheck) record(name, value []byte, off int) error {
	switch {
	case EqualFold(name, "Host"):
		c.hosts++
	case EqualFold(name, "Content-Length"):
		n, ok := parseLength(value)
		if !ok || (c.lengths > 0 && n != c.length) {
			return c.fail(http.StatusBadRequest, off, "Content-Length not one decimal length")
		}
		c.length = n
		c.lengths++
	case EqualFold(name, "Transfer-Encoding"):
		c.te++
		c.chunked = EqualFold(value, "chunked")
	case EqualFold(name, "Upgrade"):
		c.upgrade = true
	}
	return nil
}

// framing checks what the fields say together: the Host and how the body
// ends.
func (c *headCheck) framing() error {
	switch {
	case c.hosts > 1:
		return c.fail(http.StatusBadRequest, 0, "more than one Host field")
	case c.hosts == 0 && !c.http10:
		return c.fail(http.StatusBadRequest, 0, "no Host field in an HTTP/1.1 request")
	case c.te == 0:
		return nil
	case c.lengths > 0:
		return c.fail(http.StatusBadRequest, 0, "both Transfer-Encoding and Content-Length (RFC 9112 6.3)")
	case c.http10:
		return c.fail(http.StatusBadRequest, 0, "Transfer-Encoding in an HTTP/1.0 request")
	case c.te > 1 || !c.chunked:
		return c.fail(http.StatusNotImplemented, 0, "Transfer-Encoding other than one chunked")
	}
	return nil
}
