package h1

// Request is a parsed request head. Slices alias the input; Headers is
// reused across calls (keep its capacity: r.Headers = r.Headers[:0]).
type Request struct {
	HeadLen       int      // bytes of the head with its final CRLFCRLF
	Method        []byte   // a token, never CONNECT or PRI
	Target        []byte   // origin-form only: starts with '/'
	ContentLength int64    // 0 when absent
	Close         bool     // Connection: close among its tokens
	Host          []byte   // the one Host header's value (must be present exactly once, non-empty)
	Headers       []Header // every header in order, Host included
}

// ParseRequest parses the request head at the start of p into r.
// ErrIncomplete when p has no full head yet (the caller reads more or, when
// its buffer is full, hands off); ErrUnsupported (wrapped, with a reason in
// the message) for anything else it does not accept. A head that can no
// longer become acceptable is refused as soon as the offending byte is in p,
// even before its end. On error r's fields are not meaningful.
//
// It accepts only "METHOD SP /origin-form SP HTTP/1.1 CRLF", header lines
// "token:OWS value OWS CRLF" and the blank line, with exactly one non-empty
// Host, at most one Content-Length, and no Transfer-Encoding, Upgrade or
// Expect; see the package tests for every rule.
func ParseRequest(p []byte, r *Request) error {
	*r = Request{Headers: r.Headers[:0]}
	i, err := r.parseRequestLine(p)
	if err != nil {
		return err
	}
	sawLength := false
	for {
		h, next, st, why := scanHeader(p, i)
		switch st {
		case lineIncomplete:
			return ErrIncomplete
		case lineInvalid:
			return unsupported(why, next)
		case lineEnd:
			if r.Host == nil {
				return unsupported("no Host header", i)
			}
			r.HeadLen = next
			return nil
		}
		if len(r.Headers) == MaxHeaders {
			return ErrTooManyHeaders
		}
		r.Headers = append(r.Headers, h)
		if err := r.field(h, i, &sawLength); err != nil {
			return err
		}
		i = next
	}
}

func unsupported(what string, off int) error {
	return &parseError{kind: ErrUnsupported, what: what, off: off}
}

// field records the header h, which starts at offset off.
func (r *Request) field(h Header, off int, sawLength *bool) error {
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
			if !ok || *sawLength {
				return unsupported("Content-Length not one length of at most 2^62", off)
			}
			r.ContentLength, *sawLength = n, true
		}
	case len("Connection"):
		if EqualFold(h.Name, "Connection") && hasToken(h.Value, "close") {
			r.Close = true
		}
	case len("Transfer-Encoding"):
		if EqualFold(h.Name, "Transfer-Encoding") {
			return unsupported("Transfer-Encoding header", off)
		}
		if looseName(h.Name, "Transfer-Encoding") {
			return unsupported("Transfer_Encoding header (some backends read it as Transfer-Encoding)", off)
		}
	case len("Upgrade"):
		if EqualFold(h.Name, "Upgrade") {
			return unsupported("Upgrade header", off)
		}
	case len("Expect"):
		if EqualFold(h.Name, "Expect") {
			return unsupported("Expect header", off)
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
	return matchVersion(p, end+1)
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

// matchVersion checks "HTTP/1.1" CRLF at p[i:] and returns the offset
// after it.
func matchVersion(p []byte, i int) (int, error) {
	const want = "HTTP/1.1\r\n"
	for k := range len(want) {
		if i+k == len(p) {
			return 0, ErrIncomplete
		}
		if p[i+k] != want[k] {
			return 0, unsupported("version not HTTP/1.1 followed by CRLF", i)
		}
	}
	return i + len(want), nil
}
