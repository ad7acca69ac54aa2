package main

import "bytes"

// Hop-by-hop headers the proxy does not forward (RFC 9110 section 7.6.1);
// Transfer-Encoding is not among them for answers: chunked bodies are
// copied through as they are.
var (
	requestHopHeaders  = []string{"Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Transfer-Encoding", "Upgrade"}
	responseHopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection"}
)

// appendRequestHead appends to dst the request head head (as checked by
// parseRequestHead) for the backend: the request line as it is, the
// headers but the hop-by-hop ones, and the client's address ip appended to
// X-Forwarded-For (or in a new X-Forwarded-For).
func appendRequestHead(dst, head, ip []byte) []byte {
	line, rest := nextLine(head)
	dst = append(append(dst, line...), "\r\n"...)
	sawXFF := false
	for {
		line, rest = nextLine(rest)
		if len(line) == 0 {
			break
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		switch {
		case isOneOf(name, requestHopHeaders):
			continue
		case equalFold(name, "X-Forwarded-For") && !sawXFF:
			sawXFF = true
			dst = append(dst, "X-Forwarded-For: "...)
			if v := bytes.Trim(value, " \t"); len(v) > 0 {
				dst = append(append(dst, v...), ", "...)
			}
			dst = append(append(dst, ip...), "\r\n"...)
			continue
		}
		dst = append(append(dst, line...), "\r\n"...)
	}
	if !sawXFF {
		dst = append(append(append(dst, "X-Forwarded-For: "...), ip...), "\r\n"...)
	}
	return append(dst, "\r\n"...)
}

// appendResponseHead appends to dst the response head head (as checked by
// parseResponseHead) for the client: the status line as it is, the headers
// but the hop-by-hop ones, and Connection: close when closing is set.
func appendResponseHead(dst, head []byte, closing bool) []byte {
	line, rest := nextLine(head)
	dst = append(append(dst, line...), "\r\n"...)
	for {
		line, rest = nextLine(rest)
		if len(line) == 0 {
			break
		}
		name, _, _ := bytes.Cut(line, []byte(":"))
		if isOneOf(name, responseHopHeaders) {
			continue
		}
		dst = append(append(dst, line...), "\r\n"...)
	}
	if closing {
		dst = append(dst, "Connection: close\r\n"...)
	}
	return append(dst, "\r\n"...)
}

// rewriteSlack bounds what the rewrites add to a head: an X-Forwarded-For
// line or value, or a Connection: close line.
const rewriteSlack = 128

// isOneOf reports whether name is one of names, ignoring case.
func isOneOf(name []byte, names []string) bool {
	for _, n := range names {
		if equalFold(name, n) {
			return true
		}
	}
	return false
}

// equalFold reports whether b equals the ASCII string s, ignoring case.
func equalFold(b []byte, s string) bool {
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

// hasToken reports whether the comma-separated list v holds token t
// (ignoring case and spaces).
func hasToken(v []byte, t string) bool {
	for len(v) > 0 {
		var item []byte
		item, v, _ = bytes.Cut(v, []byte(","))
		if equalFold(bytes.Trim(item, " \t"), t) {
			return true
		}
	}
	return false
}

// lastTokenIs reports whether the last item of the comma-separated list v
// is t (ignoring case and spaces).
func lastTokenIs(v []byte, t string) bool {
	if i := bytes.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return equalFold(bytes.Trim(v, " \t"), t)
}

// isToken reports whether b is a non-empty RFC 9110 token.
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !isTokenChar(c) {
			return false
		}
	}
	return true
}

func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), c) >= 0
}

// isTargetText reports whether a request target has no space or control byte.
func isTargetText(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// isFieldValue reports whether a header value has no control byte but tab.
func isFieldValue(b []byte) bool {
	for _, c := range b {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
