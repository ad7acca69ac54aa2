package h1

// lineStatus is the outcome of scanning one line of a head.
type lineStatus uint8

const (
	lineOK         lineStatus = iota // a complete, valid line
	lineEnd                          // the blank line ending the head
	lineIncomplete                   // p ends before the line does
	lineInvalid                      // the line can never be valid
)

// scanHeader scans the header line (or the blank line) at p[i:]. On lineOK
// it returns the field's name, trimmed value and the offset after its CRLF;
// on lineEnd the offset after the blank line; on lineInvalid the offset of
// the offending byte in next and the reason in why.
func scanHeader(p []byte, i int) (h Header, next int, st lineStatus, why string) {
	start := i
	for i < len(p) && isTokenChar(p[i]) {
		i++
	}
	if i == len(p) {
		return h, 0, lineIncomplete, ""
	}
	if i == start {
		return blankLine(p, i)
	}
	if p[i] != ':' {
		return h, i, lineInvalid, "header name not a token"
	}
	h.Name = p[start:i]
	i++
	for i < len(p) && isOWS(p[i]) {
		i++
	}
	vstart := i
	for i < len(p) && isValueChar(p[i]) {
		i++
	}
	switch {
	case i == len(p):
		return h, 0, lineIncomplete, ""
	case p[i] != '\r':
		return h, i, lineInvalid, "control byte in header value"
	case i+1 == len(p):
		return h, 0, lineIncomplete, ""
	case p[i+1] != '\n':
		return h, i, lineInvalid, "CR without LF"
	}
	h.Value = p[vstart:i]
	for len(h.Value) > 0 && isOWS(h.Value[len(h.Value)-1]) {
		h.Value = h.Value[:len(h.Value)-1]
	}
	return h, i + 2, lineOK, ""
}

// blankLine checks for the CRLF of the blank line at p[i:], where a header
// line did not start with a token byte.
func blankLine(p []byte, i int) (h Header, next int, st lineStatus, why string) {
	switch p[i] {
	case '\r':
		if i+1 == len(p) {
			return h, 0, lineIncomplete, ""
		}
		if p[i+1] == '\n' {
			return h, i + 2, lineEnd, ""
		}
		return h, i, lineInvalid, "CR without LF"
	case ' ', '\t':
		return h, i, lineInvalid, "folded header line (obs-fold)"
	case ':':
		return h, i, lineInvalid, "empty header name"
	case '\n':
		return h, i, lineInvalid, "bare LF"
	}
	return h, i, lineInvalid, "header name not a token"
}

// crlfAt reports whether p[i:] starts with CRLF: ok when it does, complete
// when enough of p is there to tell.
func crlfAt(p []byte, i int) (ok, complete bool) {
	switch {
	case i >= len(p):
		return false, false
	case p[i] != '\r':
		return false, true
	case i+1 == len(p):
		return false, false
	}
	return p[i+1] == '\n', true
}
