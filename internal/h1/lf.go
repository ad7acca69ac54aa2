package h1

import "bytes"

// LFState is what CRLFHead found.
type LFState int

const (
	// LFNone: the head has no line ending in a bare LF up to its end, or
	// to the end of the input; nothing was changed.
	LFNone LFState = iota
	// LFIncomplete: a line ends in a bare LF but the head has not ended
	// yet; nothing was changed (read more and call again).
	LFIncomplete
	// LFRewritten: every line of the head now ends in CRLF.
	LFRewritten
	// LFNoRoom: the rewritten head would not fit in the buffer; nothing
	// was changed.
	LFNoRoom
)

// CRLFHead rewrites, in place, a request head at the start of buf[:n]
// whose lines end in a bare LF so that they end in CRLF, and returns the
// new length of the input. RFC 9112 2.2 lets a recipient take a bare LF
// as a line's end, as nginx and net/http do; the rest of the package needs
// CRLF.
//
// The head ends at its first empty line (LF or CRLF alone). Only the head
// changes: the bytes after it (a body, a next request) move right by the
// number of CRs added, within buf's length. A CR not followed by LF is
// left alone for the parser to refuse.
func CRLFHead(buf []byte, n int) (int, LFState) {
	p := buf[:n]
	// Empty lines before the request line are not its end (RFC 9112 2.2).
	i := 0
	for i < n {
		if p[i] == '\n' {
			i++
		} else if p[i] == '\r' && i+1 < n && p[i+1] == '\n' {
			i += 2
		} else {
			break
		}
	}
	end := -1
	for end < 0 {
		j := bytes.IndexByte(p[i:], '\n')
		if j < 0 {
			break
		}
		j += i
		if j == i || (j == i+1 && p[i] == '\r') { // the empty line: the head's end
			end = j + 1
		}
		i = j + 1
	}
	limit := n
	if end >= 0 {
		limit = end
	}
	bare := 0
	for k := range limit {
		if p[k] == '\n' && (k == 0 || p[k-1] != '\r') {
			bare++
		}
	}
	switch {
	case bare == 0:
		return n, LFNone
	case end < 0:
		return n, LFIncomplete
	case n+bare > len(buf):
		return n, LFNoRoom
	}
	copy(buf[end+bare:], p[end:]) // what follows the head
	// Rewrite the head from its end back, each bare LF as CRLF; w stays at
	// or after r, so buf[r-1] is still the input's byte.
	w := end + bare
	for r := end - 1; r >= 0; r-- {
		c := buf[r]
		w--
		buf[w] = c
		if c == '\n' && (r == 0 || buf[r-1] != '\r') {
			w--
			buf[w] = '\r'
		}
	}
	return n + bare, LFRewritten
}
