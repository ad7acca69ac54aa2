package main

import "errors"

// errChunked is a malformed chunked body from the backend.
var errChunked = errors.New("malformed chunked body")

// chunkScanner finds the end of a chunked body as its bytes go by,
// without changing them: chunk sizes, extensions, data, the last chunk and
// the trailer section. Its zero value is at the start of a body.
type chunkScanner struct {
	state  uint8
	size   uint64 // the chunk size being read, then the data left of it
	digits int
}

const (
	chunkSize        = iota // hex digits of a chunk size
	chunkExt                // an extension, up to CR
	chunkSizeLF             // the LF ending a size line
	chunkData               // size bytes of data
	chunkDataCR             // the CR after the data
	chunkDataLF             // the LF after the data
	chunkTrailerLine        // at the start of a trailer line (or the final CRLF)
	chunkTrailerText        // inside a trailer line, up to CR
	chunkTrailerLF          // the LF ending a trailer line
	chunkEndLF              // the LF of the final CRLF
	chunkDone               // the body is complete
)

// scan consumes bytes of the body from p and returns how many belong to
// it: all of p, or fewer when the body ends inside p (done is then set).
func (s *chunkScanner) scan(p []byte) (n int, done bool, err error) {
	for n < len(p) {
		if s.state == chunkData {
			k := min(uint64(len(p)-n), s.size)
			n += int(k)
			if s.size -= k; s.size == 0 {
				s.state = chunkDataCR
			}
			continue
		}
		if err := s.step(p[n]); err != nil {
			return n, false, err
		}
		n++
		if s.state == chunkDone {
			return n, true, nil
		}
	}
	return n, s.state == chunkDone, nil
}

// step consumes one byte outside chunk data.
func (s *chunkScanner) step(c byte) error {
	switch s.state {
	case chunkSize:
		return s.sizeByte(c)
	case chunkExt:
		if c == '\r' {
			s.state = chunkSizeLF
		} else if c == '\n' {
			return errChunked
		}
	case chunkSizeLF:
		return s.expect(c, '\n', s.afterSize())
	case chunkDataCR:
		return s.expect(c, '\r', chunkDataLF)
	case chunkDataLF:
		s.size, s.digits = 0, 0
		return s.expect(c, '\n', chunkSize)
	case chunkTrailerLine:
		s.state = chunkTrailerText
		if c == '\r' {
			s.state = chunkEndLF
		}
	case chunkTrailerText:
		if c == '\r' {
			s.state = chunkTrailerLF
		}
	case chunkTrailerLF:
		return s.expect(c, '\n', chunkTrailerLine)
	case chunkEndLF:
		return s.expect(c, '\n', chunkDone)
	default:
		return errChunked
	}
	return nil
}

// sizeByte consumes one byte of a chunk-size line.
func (s *chunkScanner) sizeByte(c byte) error {
	if v, ok := hexValue(c); ok {
		if s.digits++; s.digits > 15 {
			return errChunked
		}
		s.size = s.size<<4 | uint64(v)
		return nil
	}
	if s.digits == 0 {
		return errChunked
	}
	switch c {
	case ';', ' ', '\t':
		s.state = chunkExt
	case '\r':
		s.state = chunkSizeLF
	default:
		return errChunked
	}
	return nil
}

// afterSize is the state after a size line: data, or the trailer section
// after the last (zero-size) chunk.
func (s *chunkScanner) afterSize() uint8 {
	if s.size == 0 {
		return chunkTrailerLine
	}
	return chunkData
}

// expect moves to next when c is want, else fails.
func (s *chunkScanner) expect(c, want byte, next uint8) error {
	if c != want {
		return errChunked
	}
	s.state = next
	return nil
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
