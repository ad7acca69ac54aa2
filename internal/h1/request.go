package h1

// Request is a parsed request head. Slices alias the input; Headers is
// reused across calls (keep its capacity: r.Headers = r.Headers[:0]).
type Request struct {
	HeadLen       int      // bytes of the head with its final CRLFCRLF
	Method        []byte   // a token, never CONNECT or PRI
	Target        []byte   // origin-form only: starts with '/'
	ContentLength int64    // 0 when absent (and when Chunked)
	Chunked       bool     // the body is chunked: one "Transfer-Encoding: chunked", no Content-Length
	Continue      bool     // "Expect: 100-continue": the client waits for a 100 before its body
	Close         bool     // Connection: close among its tokens; on HTTP/1.0, keep-alive not among them
	HTTP10        bool     // the version is HTTP/1.0
	Host          []byte   // the one Host header's value (non-empty; HTTP/1.1 must have one): nil when absent
	Upgrade       []byte   // the one Upgrade header's value (non-empty), nil when absent
	Headers       []Header // every header in order, Host included
}

// ParseRequest parses the request head at the start of p into r.
// ErrIncomplete when p has no full head yet (the caller reads more or, when
// its buffer is full, hands off); ErrUnsupported (wrapped, with a reason in
// the message) for anything else it does not accept. A head that can no
// longer become acceptable is refused as soon as the offending byte is in p,
// even before its end. On error r's fields are not meaningful.
//
// It accepts only "METHOD SP /origin-form SP HTTP/1.x CRLF" (1.0 or 1.1), header lines
// "token:OWS value OWS CRLF" and the blank line, with exactly one non-empty
// Host (HTTP/1.0: at most one), at most one Content-Length or one "Transfer-Encoding: chunked"
// (not both), at most one "Expect: 100-continue", and at most one
// non-empty Upgrade (the caller decides whether to switch); see the
// package tests for every rule. On HTTP/1.0 it takes no Transfer-Encoding
// and no Expect.
func ParseRequest(p []byte, r *Request) error {
	*r = Request{Headers: r.Headers[:0]}
	i, err := r.parseRequestLine(p)
	if err != nil {
		return err
	}
	var saw seen
	for {
		h, next, st, why := scanHeader(p, i)
		switch st {
		case lineIncomplete:
			return ErrIncomplete
		case lineInvalid:
			return unsupported(why, next)
		case lineEnd:
			if r.Host == nil && !r.HTTP10 {
				return unsupported("no Host header on HTTP/1.1", i)
			}
			if r.Chunked && saw.length {
				return unsupported("both Transfer-Encoding and Content-Length", i)
			}
			if r.HTTP10 {
				if r.Chunked || r.Continue {
					return unsupported("Transfer-Encoding or Expect on HTTP/1.0", i)
				}
				r.Close = r.Close || !saw.keepAlive
			}
			r.HeadLen = next
			return nil
		}
		if len(r.Headers) == MaxHeaders {
			return ErrTooManyHeaders
		}
		r.Headers = append(r.Headers, h)
		if err := r.field(h, i, &saw); err != nil {
			return err
		}
		i = next
	}
}

func unsupported(what string, off int) error {
	return &parseError{kind: ErrUnsupported, what: what, off: off}
}

// seen are the framing fields a head has had so far.
type seen struct{ length, coding, expect, keepAlive bool }

// field records the header h, which starts at offset off.
func (r *Request) field(h Header, off int, saw *seen) error {
	switch len(h.Name) {
	case len("Host"):
		if EqualFold(h.Name, "Host") {
			return r.host(h.Value, off)
		}
	case len("Content-Length"):
		if looseName(h.Name, "Content-Length") {
			return unsupported("Content_Length header (some backends read it as Content-Length)", off)
		}
		if EqualFold(h.Name, "Content-Length") {
			n, ok := parseLength(h.Value)
			if !ok || saw.length {
				return unsupported("Content-Length not one length of at most 2^62", off)
			}
			r.ContentLength, saw.length = n, true
		}
	case len("Connection"):
		if EqualFold(h.Name, "Connection") {
			r.Close = r.Close || hasToken(h.Value, "close")
			saw.keepAlive = saw.keepAlive || hasToken(h.Value, "keep-alive")
		}
	case len("Transfer-Encoding"):
		if EqualFold(h.Name, "Transfer-Encoding") {
			if saw.coding || !EqualFold(h.Value, "chunked") {
				return unsupported("Transfer-Encoding other than one chunked", off)
			}
			r.Chunked, saw.coding = true, true
		}
		if looseName(h.Name, "Transfer-Encoding") {
			return unsupported("Transfer_Encoding header (some backends read it as Transfer-Encoding)", off)
		}
	case len("Upgrade"):
		if EqualFold(h.Name, "Upgrade") {
			if r.Upgrade != nil || len(h.Value) == 0 {
				return unsupported("Upgrade header not one non-empty value", off)
			}
			r.Upgrade = h.Value
		}
	case len("Expect"):
		if EqualFold(h.Name, "Expect") {
			if saw.expect || !EqualFold(h.Value, "100-continue") {
				return unsupported("Expect other than one 100-continue", off)
			}
			r.Continue, saw.expect = true, true
		}
	}
	return nil
}

// host records the value of a Host header: the first one, non-empty, of
// plain host[:port] bytes.
func (r *Request) host(v []byte, off int) error {
	if r.Host != nil {
		return unsupported("second Host header", off)
	}
	if len(v) == 0 {
		return unsupported("empty Host header", off)
	}
	for _, c := range v {
		if !isHostChar(c) {
			return unsupported("Host header with a byte other than letters, digits, -._:[]", off)
		}
	}
	r.Host = v
	return nil
}

// looseName reports whether name is s with some '-' written '_' (ignoring
// case): a different field for net/http, the same for backends that map
// both to one CGI variable.
func looseName(name []byte, s string) bool {
	if len(name) != len(s) {
		return false
	}
	under := false
	for i := range len(name) {
		c := name[i]
		if c == '_' && s[i] == '-' {
			under = true
			continue
		}
		if lower(c) != lower(s[i]) {
			return false
		}
	}
	return under
}

func isHostChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return c == '-' || c == '.' || c == '_' || c == ':' || c == '[' || c == ']'
}

// parseRequestLine parses "METHOD SP target SP HTTP/1.1 CRLF" at the start
// of p and returns the offset after it.
func (r *Request) parseRequestLine(p []byte) (int, error) {
	i := 0
	for i < len(p) && isTokenChar(p[i]) {
		i++
	}
	switch {
	case i == len(p):
		return 0, ErrIncomplete
	case i == 0 || p[i] != ' ':
		return 0, unsupported("method not a token followed by one space", i)
	}
	r.Method = p[:i]
	if string(r.Method) == "CONNECT" || string(r.Method) == "PRI" {
		return 0, unsupported("method CONNECT or PRI", 0)
	}
	i++
	end, err := scanTarget(p, i)
	if err != nil {
		return 0, err
	}
	r.Target = p[i:end]
	next, err := matchVersion(p, end+1)
	r.HTTP10 = err == nil && p[next-3] == '0'
	return next, err
}

// OriginForm reports whether target is an origin-form request target as
// ParseRequest takes one (the loops forward it as the client sent it):
// '/' first, printable ASCII without '#', every '%' followed by two hex
// digits.
func OriginForm(target string) bool {
	end, err := scanTarget(append([]byte(target), ' '), 0)
	return err == nil && end == len(target)
}

// scanTarget scans an origin-form target at p[i:] and returns the offset
// of the space after it.
func scanTarget(p []byte, i int) (int, error) {
	if i == len(p) {
		return 0, ErrIncomplete
	}
	if p[i] != '/' {
		return 0, unsupported("request target not in origin-form", i)
	}
	for ; i < len(p); i++ {
		c := p[i]
		switch {
		case c == ' ':
			return i, nil
		case c == '%':
			if err := checkEscape(p, i); err != nil {
				return 0, err
			}
		case c < 0x21 || c > 0x7e || c == '#':
			return 0, unsupported("request target byte not printable ASCII, or a '#'", i)
		}
	}
	return 0, ErrIncomplete
}

// checkEscape checks the two hex digits after the '%' at p[i].
func checkEscape(p []byte, i int) error {
	for k := i + 1; k <= i+2; k++ {
		if k == len(p) {
			return ErrIncomplete
		}
		if _, ok := hexValue(p[k]); !ok {
			return unsupported("request target with '%' not followed by two hex digits", i)
		}
	}
	return nil
}

// matchVersion checks "HTTP/1.1" or "HTTP/1.0", then CRLF, at p[i:] and
// returns the offset after it.
func matchVersion(p []byte, i int) (int, error) {
	const want = "HTTP/1.1\r\n"
	for k := range len(want) {
		if i+k == len(p) {
			return 0, ErrIncomplete
		}
		if p[i+k] != want[k] && (k != 7 || p[i+k] != '0') {
			return 0, unsupported("version not HTTP/1.1 or HTTP/1.0 followed by CRLF", i)
		}
	}
	return i + len(want), nil
}
