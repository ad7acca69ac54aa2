package h1

// ChunkScanner finds the end of a chunked body as its bytes pass,
// unchanged (chunk sizes, extensions, data, last chunk, trailers). Zero
// value = start of a body.
//
// It accepts a subset of what net/http's chunked reader does: sizes of 1 to
// 16 hex digits up to 2^62, then spaces/tabs or ";" and an extension of
// field-value bytes, each line ending in CRLF; trailer lines are checked
// like header lines.
type ChunkScanner struct {
	off    int64 // body bytes consumed so far, for error offsets
	size   uint64
	digits uint8
	state  chunkState
}

type chunkState uint8

const (
	chunkSize         chunkState = iota // hex digits of a chunk size
	chunkSizeSpace                      // spaces after the size, up to CR
	chunkExt                            // an extension, up to CR
	chunkSizeLF                         // the LF ending a size line
	chunkData                           // size bytes of data
	chunkDataCR                         // the CR after the data
	chunkDataLF                         // the LF after the data
	chunkTrailerStart                   // a trailer line's first byte, or the final CR
	chunkTrailerName                    // a trailer field name, up to ':'
	chunkTrailerValue                   // a trailer field value, up to CR
	chunkTrailerLF                      // the LF ending a trailer line
	chunkEndLF                          // the LF of the final CRLF
	chunkDone                           // the body is complete
)

// Scan consumes body bytes from p and returns how many belong to the body:
// all of p, or fewer when the body ends inside p (done set). ErrMalformed
// (wrapped) on invalid framing (non-hex size, size over 2^62, missing CRLF
// after data, bare LF, etc.). After done, Scan consumes nothing.
func (s *ChunkScanner) Scan(p []byte) (n int, done bool, err error) {
	if s.state == chunkDone {
		return 0, true, nil
	}
	for n < len(p) {
		if s.state == chunkData {
			k := min(uint64(len(p)-n), s.size)
			n += int(k)
			if s.size -= k; s.size == 0 {
				s.state = chunkDataCR
			}
			continue
		}
		if why := s.step(p[n]); why != "" {
			return n, false, &parseError{kind: ErrMalformed, what: "chunked body: " + why, off: int(s.off) + n}
		}
		n++
		if s.state == chunkDone {
			break
		}
	}
	s.off += int64(n)
	return n, s.state == chunkDone, nil
}

// Decode is Scan that also takes the framing out: the chunk data among
// the n bytes of p it consumes is moved, in order, to the start of p, and
// data is how many bytes of it there are (trailers are dropped).
func (s *ChunkScanner) Decode(p []byte) (n, data int, done bool, err error) {
	if s.state == chunkDone {
		return 0, 0, true, nil
	}
	for n < len(p) {
		if s.state == chunkData {
			k := int(min(uint64(len(p)-n), s.size))
			data += copy(p[data:], p[n:n+k])
			n += k
			if s.size -= uint64(k); s.size == 0 {
				s.state = chunkDataCR
			}
			continue
		}
		if why := s.step(p[n]); why != "" {
			return n, data, false, &parseError{kind: ErrMalformed, what: "chunked body: " + why, off: int(s.off) + n}
		}
		n++
		if s.state == chunkDone {
			break
		}
	}
	s.off += int64(n)
	return n, data, s.state == chunkDone, nil
}

// step consumes one byte outside chunk data and returns why it is wrong, or
// "".
func (s *ChunkScanner) step(c byte) string {
	switch s.state {
	case chunkSize:
		return s.sizeByte(c)
	case chunkSizeSpace:
		return s.sizeSpace(c)
	case chunkExt:
		return s.lineText(c, isValueChar(c), chunkSizeLF, "control byte in a chunk extension")
	case chunkSizeLF:
		return s.expect(c, '\n', s.afterSize())
	case chunkDataCR:
		return s.expect(c, '\r', chunkDataLF)
	case chunkDataLF:
		s.size, s.digits = 0, 0
		return s.expect(c, '\n', chunkSize)
	case chunkTrailerStart:
		return s.trailerStart(c)
	case chunkTrailerName:
		return s.trailerName(c)
	case chunkTrailerValue:
		return s.lineText(c, isValueChar(c), chunkTrailerLF, "control byte in a trailer value")
	case chunkTrailerLF:
		return s.expect(c, '\n', chunkTrailerStart)
	case chunkEndLF:
		return s.expect(c, '\n', chunkDone)
	}
	return "byte after the end"
}

// sizeByte consumes one byte of a chunk size.
func (s *ChunkScanner) sizeByte(c byte) string {
	if v, ok := hexValue(c); ok {
		if s.digits++; s.digits > 16 || s.size >= 1<<59 {
			return "chunk size over 16 hex digits or 2^62"
		}
		if s.size = s.size<<4 | uint64(v); s.size > 1<<62 {
			return "chunk size over 2^62"
		}
		return ""
	}
	if s.digits == 0 {
		return "chunk size not hex"
	}
	switch c {
	case ';':
		s.state = chunkExt
	case ' ', '\t':
		s.state = chunkSizeSpace
	case '\r':
		s.state = chunkSizeLF
	default:
		return "chunk size not hex"
	}
	return ""
}

// sizeSpace consumes a byte after the spaces following a size: net/http
// takes only more spaces then CRLF there (no extension).
func (s *ChunkScanner) sizeSpace(c byte) string {
	return s.lineText(c, isOWS(c), chunkSizeLF, "chunk size followed by spaces then text")
}

// lineText consumes a byte of a line's text (ok: a byte allowed there) up to
// its CR, after which the state is next.
func (s *ChunkScanner) lineText(c byte, ok bool, next chunkState, why string) string {
	switch {
	case c == '\r':
		s.state = next
	case !ok:
		return why
	}
	return ""
}

// trailerStart consumes the first byte of a trailer line or the final CR.
func (s *ChunkScanner) trailerStart(c byte) string {
	switch {
	case c == '\r':
		s.state = chunkEndLF
	case isTokenChar(c):
		s.state = chunkTrailerName
	default:
		return "trailer line not a field"
	}
	return ""
}

// trailerName consumes a byte of a trailer field name after its first.
func (s *ChunkScanner) trailerName(c byte) string {
	switch {
	case c == ':':
		s.state = chunkTrailerValue
	case !isTokenChar(c):
		return "trailer field name not a token"
	}
	return ""
}

// afterSize is the state after a size line: data, or the trailer section
// after the last (zero-size) chunk.
func (s *ChunkScanner) afterSize() chunkState {
	if s.size == 0 {
		return chunkTrailerStart
	}
	return chunkData
}

// expect moves to next when c is want, else tells why not.
func (s *ChunkScanner) expect(c, want byte, next chunkState) string {
	if c != want {
		if want == '\n' {
			return "CR without LF"
		}
		return "chunk data not followed by CRLF"
	}
	s.state = next
	return ""
}

func hexValue(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
