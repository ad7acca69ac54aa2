package h1

// Response is a parsed response head.
type Response struct {
	HeadLen       int
	Status        int      // 3 digits, 100-999
	StatusLine    []byte   // the status line without CRLF
	ContentLength int64    // -1 when absent
	Chunked       bool     // Transfer-Encoding's last coding is chunked
	OtherCoding   bool     // Transfer-Encoding present but its last coding is not chunked (body ends at close)
	Close         bool     // Connection: close token, or HTTP/1.0 without a keep-alive token
	Headers       []Header // reused like Request.Headers
}

// responseFields is what ParseResponse tracks across header lines.
type responseFields struct {
	http10, keepAlive bool
	length            []byte // the first Content-Length value, nil before one
}

// ParseResponse parses the response head at the start of p into r:
// ErrIncomplete, or ErrMalformed (wrapped, with a reason) for an invalid
// head: status line not "HTTP/1.x SP 3DIGIT [SP reason] CRLF" (x 0 or 1),
// bare LF, obs-fold, bad header names/values (same rules as requests), more
// than one Content-Length with different values (compared as text, as
// net/http does: 5 and 05 differ) or a non-digit one, a
// Transfer-Encoding in an HTTP/1.0 response or without any coding, more
// than MaxHeaders. When both Transfer-Encoding and Content-Length are
// present, Chunked/OtherCoding rule and ContentLength is -1 (RFC 9112 6.3:
// Transfer-Encoding wins; the caller closes after). Status-based rules (1xx,
// 204, 304, answers to HEAD have no body) are the caller's.
func ParseResponse(p []byte, r *Response) error {
	*r = Response{ContentLength: -1, Headers: r.Headers[:0]}
	i, http10, err := r.parseStatusLine(p)
	if err != nil {
		return err
	}
	f := responseFields{http10: http10}
	for {
		h, next, st, why := scanHeader(p, i)
		switch st {
		case lineIncomplete:
			return ErrIncomplete
		case lineInvalid:
			return malformed(why, next)
		case lineEnd:
			r.finish(f)
			r.HeadLen = next
			return nil
		}
		if len(r.Headers) == MaxHeaders {
			return malformed("more than 100 header fields", i)
		}
		r.Headers = append(r.Headers, h)
		if err := r.field(h, i, &f); err != nil {
			return err
		}
		i = next
	}
}

func malformed(what string, off int) error {
	return &parseError{kind: ErrMalformed, what: what, off: off}
}

// field records the header h, which starts at offset off.
func (r *Response) field(h Header, off int, f *responseFields) error {
	switch len(h.Name) {
	case len("Content-Length"):
		if EqualFold(h.Name, "Content-Length") {
			n, ok := parseLength(h.Value)
			if !ok || (f.length != nil && string(h.Value) != string(f.length)) {
				return malformed("Content-Length not one length of at most 2^62", off)
			}
			r.ContentLength, f.length = n, h.Value
		}
	case len("Transfer-Encoding"):
		if EqualFold(h.Name, "Transfer-Encoding") {
			return r.transferEncoding(h.Value, off, f)
		}
	case len("Connection"):
		if EqualFold(h.Name, "Connection") {
			r.Close = r.Close || hasToken(h.Value, "close")
			f.keepAlive = f.keepAlive || hasToken(h.Value, "keep-alive")
		}
	}
	return nil
}

// transferEncoding records a Transfer-Encoding header: its last coding
// decides (a later header's codings come after an earlier one's).
func (r *Response) transferEncoding(v []byte, off int, f *responseFields) error {
	if f.http10 {
		return malformed("Transfer-Encoding in an HTTP/1.0 response", off)
	}
	last := lastToken(v)
	if last == nil {
		return malformed("Transfer-Encoding without a coding", off)
	}
	r.Chunked = EqualFold(last, "chunked")
	r.OtherCoding = !r.Chunked
	return nil
}

// finish applies the rules that need every header.
func (r *Response) finish(f responseFields) {
	if f.http10 && !f.keepAlive {
		r.Close = true
	}
	if r.Chunked || r.OtherCoding {
		r.ContentLength = -1
	}
}

// parseStatusLine parses "HTTP/1.x SP 3DIGIT [SP reason] CRLF" at the start
// of p and returns the offset after it.
func (r *Response) parseStatusLine(p []byte) (next int, http10 bool, err error) {
	const prefix = "HTTP/1."
	for k := range len(prefix) + 5 {
		if k == len(p) {
			return 0, false, ErrIncomplete
		}
		if !statusLineByte(p[k], k, prefix) {
			return 0, false, malformed("status line not HTTP/1.x SP 3DIGIT", k)
		}
		if k >= 9 {
			r.Status = r.Status*10 + int(p[k]-'0')
		}
	}
	i := len(prefix) + 5
	if i < len(p) && p[i] == ' ' {
		for i++; i < len(p) && isValueChar(p[i]); i++ {
		}
	}
	ok, complete := crlfAt(p, i)
	if !complete {
		return 0, false, ErrIncomplete
	}
	if !ok {
		return 0, false, malformed("status line with a control byte or not ending in CRLF", i)
	}
	r.StatusLine = p[:i]
	return i + 2, p[7] == '0', nil
}

// statusLineByte checks byte k of "HTTP/1.x SP 3DIGIT".
func statusLineByte(c byte, k int, prefix string) bool {
	switch {
	case k < len(prefix):
		return c == prefix[k]
	case k == 7:
		return c == '0' || c == '1'
	case k == 8:
		return c == ' '
	case k == 9:
		return '1' <= c && c <= '9'
	}
	return '0' <= c && c <= '9'
}
