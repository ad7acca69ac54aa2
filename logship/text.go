package logship

import (
	"bytes"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Readers of the text values found in logs: unescaping, request lines, and
// interning of the small sets (methods, protocols, levels) so that they
// cost no allocation.

// unescape appends src to dst with its backslash escapes decoded. It
// understands nginx's \xHH, the JSON escapes (\" \\ \/ \b \f \n \r \t
// \uXXXX with surrogate pairs) and Go's (\a \v \' \UXXXXXXXX); any other
// backslash is kept as written. Invalid code points become U+FFFD.
func unescape(dst, src []byte) []byte {
	for len(src) > 0 {
		i := bytes.IndexByte(src, '\\')
		if i < 0 || i == len(src)-1 {
			return append(dst, src...)
		}
		dst = append(dst, src[:i]...)
		var n int
		dst, n = unescapeOne(dst, src[i:])
		src = src[i+n:]
	}
	return dst
}

// unescapeOne decodes the escape at the start of s (s[0] is '\\', len(s) >
// 1) and returns how many bytes it used.
func unescapeOne(dst, s []byte) ([]byte, int) {
	switch c := s[1]; c {
	case 'x':
		if v, ok := hexValue(s, 2, 2); ok {
			return append(dst, byte(v)), 4
		}
	case 'u':
		if v, ok := hexValue(s, 2, 4); ok {
			return appendUTF16(dst, rune(v), s[6:])
		}
	case 'U':
		if v, ok := hexValue(s, 2, 8); ok {
			return utf8.AppendRune(dst, validRune(rune(v))), 10
		}
	case 'n':
		return append(dst, '\n'), 2
	case 'r':
		return append(dst, '\r'), 2
	case 't':
		return append(dst, '\t'), 2
	case 'b':
		return append(dst, '\b'), 2
	case 'f':
		return append(dst, '\f'), 2
	case 'a':
		return append(dst, '\a'), 2
	case 'v':
		return append(dst, '\v'), 2
	case '"', '\\', '/', '\'':
		return append(dst, c), 2
	}
	return append(dst, s[:2]...), 2
}

// appendUTF16 appends the code unit r of a \uXXXX escape, pairing a high
// surrogate with a \uXXXX low surrogate that follows in rest.
func appendUTF16(dst []byte, r rune, rest []byte) ([]byte, int) {
	if utf16.IsSurrogate(r) && len(rest) >= 6 && rest[0] == '\\' && rest[1] == 'u' {
		if lo, ok := hexValue(rest, 2, 4); ok {
			if pair := utf16.DecodeRune(r, rune(lo)); pair != utf8.RuneError {
				return utf8.AppendRune(dst, pair), 12
			}
		}
	}
	return utf8.AppendRune(dst, validRune(r)), 6
}

func validRune(r rune) rune {
	if !utf8.ValidRune(r) {
		return utf8.RuneError
	}
	return r
}

// hexValue reads the n hex digits at s[i:].
func hexValue(s []byte, i, n int) (uint32, bool) {
	if i+n > len(s) {
		return 0, false
	}
	var v uint32
	for _, c := range s[i : i+n] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		v = v<<4 | uint32(c)
	}
	return v, true
}

// parseRequest fills the method, path, query and protocol of rec from a
// request line "METHOD TARGET PROTO" (or "METHOD TARGET" for HTTP/0.9). On
// a malformed line it keeps the parts that make sense and reports
// ErrRequestLine.
func parseRequest(rec *Record, b []byte) error {
	sp := bytes.IndexByte(b, ' ')
	if sp <= 0 || !isToken(b[:sp]) {
		return ErrRequestLine
	}
	rec.Method = internMethod(b[:sp])
	target, proto := b[sp+1:], []byte(nil)
	if sp = bytes.LastIndexByte(target, ' '); sp >= 0 {
		target, proto = target[:sp], target[sp+1:]
	}
	ok := setTarget(rec, target) || rec.Method == "CONNECT" && isAuthority(target)
	if proto != nil {
		rec.Proto = internProto(proto)
		ok = ok && rec.Proto != ""
	}
	if !ok {
		return ErrRequestLine
	}
	return nil
}

// setTarget sets the path and query of rec from a request target: origin
// form ("/p?q"), asterisk form ("*") or absolute form
// ("http://host/p?q"). It reports whether the target was well formed.
func setTarget(rec *Record, t []byte) bool {
	if len(t) == 0 {
		return false
	}
	ok := bytes.IndexByte(t, ' ') < 0
	switch {
	case t[0] == '/':
	case len(t) == 1 && t[0] == '*':
	default:
		i := bytes.Index(t, []byte("://"))
		if i <= 0 || !isToken(t[:i]) {
			return false
		}
		t = t[i+3:]
		j := bytes.IndexAny(t, "/?")
		if j < 0 {
			return ok
		}
		t = t[j:]
	}
	rec.Path, rec.Query = splitQuery(t)
	return ok
}

// isAuthority reports whether t is the "host:port" target of a CONNECT.
func isAuthority(t []byte) bool {
	return len(t) > 0 && bytes.IndexAny(t, " /?") < 0
}

// splitQuery splits a target at its first '?'.
func splitQuery(t []byte) (path, query []byte) {
	if i := bytes.IndexByte(t, '?'); i >= 0 {
		return t[:i], t[i+1:]
	}
	return t, nil
}

// isToken reports whether b is a non-empty RFC 9110 token of at most 64
// bytes, as a method or a URI scheme is.
func isToken(b []byte) bool {
	if len(b) == 0 || len(b) > 64 {
		return false
	}
	for _, c := range b {
		if !isTokenByte(c) {
			return false
		}
	}
	return true
}

func isTokenByte(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// internMethod returns b as a string, without allocating for the common
// methods.
func internMethod(b []byte) string {
	switch string(b) {
	case "GET":
		return "GET"
	case "HEAD":
		return "HEAD"
	case "POST":
		return "POST"
	case "PUT":
		return "PUT"
	case "DELETE":
		return "DELETE"
	case "PATCH":
		return "PATCH"
	case "OPTIONS":
		return "OPTIONS"
	case "CONNECT":
		return "CONNECT"
	case "TRACE":
		return "TRACE"
	case "PROPFIND":
		return "PROPFIND"
	case "PRI":
		return "PRI"
	}
	return string(b)
}

// internProto returns b as a string if it is "HTTP/x" or "HTTP/x.y", else
// "".
func internProto(b []byte) string {
	switch string(b) {
	case "HTTP/1.1":
		return "HTTP/1.1"
	case "HTTP/1.0":
		return "HTTP/1.0"
	case "HTTP/2.0":
		return "HTTP/2.0"
	case "HTTP/3.0":
		return "HTTP/3.0"
	case "HTTP/2":
		return "HTTP/2"
	case "HTTP/3":
		return "HTTP/3"
	}
	v, ok := bytes.CutPrefix(b, []byte("HTTP/"))
	if !ok || len(v) != 1 && len(v) != 3 || !isDigit(v[0]) || len(v) == 3 && (v[1] != '.' || !isDigit(v[2])) {
		return ""
	}
	return string(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// internLevel returns b as a string, without allocating for the common
// level names.
func internLevel(b []byte) string {
	switch string(b) {
	case "debug":
		return "debug"
	case "info":
		return "info"
	case "warn":
		return "warn"
	case "warning":
		return "warning"
	case "error":
		return "error"
	case "DEBUG":
		return "DEBUG"
	case "INFO":
		return "INFO"
	case "WARN":
		return "WARN"
	case "WARNING":
		return "WARNING"
	case "ERROR":
		return "ERROR"
	}
	return string(b)
}
