// Package h1 parses HTTP/1.1 request and response heads in place, without
// allocating, for the proxy's event-loop data path, and finds the end of
// chunked bodies as their bytes pass through.
//
// The request parser is deliberately narrow: it accepts only plainly
// ordinary heads whose meaning (method, target, version, header fields, body
// framing) is exactly what net/http would read, and answers ErrUnsupported
// for everything else so that the caller hands the connection to a full HTTP
// server. The response parser accepts what a proxy may pass on and answers
// ErrMalformed for heads it must not (a bad gateway). CheckHead judges any
// request head by the request rules every data path applies (check.go):
// what it accepts, and the status of what it refuses. Parsed slices alias
// the input buffer. The package emits nothing: no logs, no metrics.
package h1

import (
	"errors"
	"fmt"
	"strconv"
)

// MaxHeaders is the most header fields a head may have.
const MaxHeaders = 100

// Errors of the parsers. Errors with a reason wrap ErrUnsupported or
// ErrMalformed; test them with errors.Is.
var (
	// ErrIncomplete: no complete head yet (no CRLFCRLF in the input); not an
	// error of the client.
	ErrIncomplete = errors.New("incomplete head")
	// ErrUnsupported: a request head, valid or not, that is not for the loop
	// path; hand the connection to the full server.
	ErrUnsupported = errors.New("request head not for the loop path")
	// ErrTooManyHeaders: a request head with more than MaxHeaders fields;
	// it wraps ErrUnsupported.
	ErrTooManyHeaders = fmt.Errorf("more than %d header fields: %w", MaxHeaders, ErrUnsupported)
	// ErrMalformed: a response head or chunked body the proxy must not pass
	// on.
	ErrMalformed = errors.New("malformed message")
)

// Header is one header field; Name and Value alias the parsed buffer (Value
// without surrounding spaces/tabs).
type Header struct{ Name, Value []byte }

// parseError is a rejection with its reason and the offset of the byte or
// field that caused it.
type parseError struct {
	kind error // ErrUnsupported or ErrMalformed
	what string
	off  int
}

func (e *parseError) Error() string {
	return "parsing at byte " + strconv.Itoa(e.off) + ": " + e.what + ": " + e.kind.Error()
}

func (e *parseError) Unwrap() error { return e.kind }

// EqualFold is ASCII case-insensitive equality of b and s, no allocation.
func EqualFold[T string | []byte](b T, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// Tokens calls fn with each comma-separated token of a header value (OWS
// trimmed, empty ones skipped).
func Tokens(v []byte, fn func(tok []byte)) {
	for len(v) > 0 {
		var tok []byte
		tok, v = nextToken(v)
		if len(tok) > 0 {
			fn(tok)
		}
	}
}

// nextToken splits the comma-separated list v after its first item; tok is
// the item without surrounding spaces and tabs.
func nextToken(v []byte) (tok, rest []byte) {
	i := 0
	for i < len(v) && v[i] != ',' {
		i++
	}
	tok, rest = trimOWS(v[:i]), v[i:]
	if len(rest) > 0 {
		rest = rest[1:]
	}
	return tok, rest
}

// hasToken reports whether the comma-separated list v holds token t,
// ignoring ASCII case, as net/http's httpguts.HeaderValuesContainsToken.
func hasToken(v []byte, t string) bool {
	for len(v) > 0 {
		var tok []byte
		tok, v = nextToken(v)
		if EqualFold(tok, t) {
			return true
		}
	}
	return false
}

// lastToken is the last non-empty item of the comma-separated list v, nil
// when it has none.
func lastToken(v []byte) []byte {
	var last []byte
	for len(v) > 0 {
		var tok []byte
		if tok, v = nextToken(v); len(tok) > 0 {
			last = tok
		}
	}
	return last
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && isOWS(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isOWS(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isOWS(c byte) bool { return c == ' ' || c == '\t' }

// Bitmaps of RFC 9110 tchar: bit c of tokenLo for c < 64, bit c-64 of
// tokenHi for 64 <= c < 128.
const (
	tokenLo = 1<<'!' | 1<<'#' | 1<<'$' | 1<<'%' | 1<<'&' | 1<<'\'' | 1<<'*' |
		1<<'+' | 1<<'-' | 1<<'.' | (1<<10-1)<<'0'
	tokenHi = (1<<26-1)<<('A'-64) | (1<<26-1)<<('a'-64) |
		1<<('^'-64) | 1<<('_'-64) | 1<<('`'-64) | 1<<('|'-64) | 1<<('~'-64)
)

// isTokenChar reports whether c is an RFC 9110 tchar.
func isTokenChar(c byte) bool {
	if c < 64 {
		return tokenLo&(uint64(1)<<c) != 0
	}
	return c < 128 && tokenHi&(uint64(1)<<(c-64)) != 0
}

// isValueChar reports whether c may appear in a field value: HTAB, SP,
// VCHAR, obs-text.
func isValueChar(c byte) bool { return c == '\t' || (c >= ' ' && c != 0x7f) }

// parseLength parses a Content-Length value: decimal digits only, at most
// 2^62.
func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (1<<62)/10 {
			return 0, false
		}
		if n = n*10 + int64(c-'0'); n > 1<<62 {
			return 0, false
		}
	}
	return n, true
}
