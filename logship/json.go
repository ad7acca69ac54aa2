package logship

import (
	"bytes"
	"unicode/utf8"
)

// The json parser reads one JSON object per line with a small validating
// scanner that keeps values as slices of the line. Nested objects are
// flattened with dots; arrays are kept as their JSON text; null is no value.

// maxDepth bounds the nesting of objects and arrays in a line.
const maxDepth = 128

type jsonParser struct {
	keyed
	key []byte // the flattened key being read
}

// Parse implements Parser.
func (p *jsonParser) Parse(line []byte, rec *Record) error {
	line = begin(rec, line)
	p.scratch, p.key = p.scratch[:0], p.key[:0]
	var err error
	s := scanner{b: line}
	s.space()
	if s.i == len(line) {
		fail(rec, &err, ErrEmpty)
		return err
	}
	if !utf8.Valid(line) {
		fail(rec, &err, ErrInvalidUTF8)
	}
	if !s.consume('{') || !p.object(&s, rec, 1) {
		fail(rec, &err, ErrSyntax)
		return finish(rec, &p.opts, err)
	}
	if s.space(); s.i != len(line) {
		fail(rec, &err, ErrSyntax)
	}
	return finish(rec, &p.opts, err)
}

// object reads the members of an object whose '{' is consumed, with p.key
// holding the key path of the object.
func (p *jsonParser) object(s *scanner, rec *Record, depth int) bool {
	if depth > maxDepth {
		return false
	}
	base := len(p.key)
	if s.space(); s.consume('}') {
		return true
	}
	for {
		s.space()
		name, esc, ok := s.str()
		if !ok {
			return false
		}
		p.key = p.key[:base]
		if base > 0 {
			p.key = append(p.key, '.')
		}
		p.key = appendText(p.key, name, esc)
		if s.space(); !s.consume(':') {
			return false
		}
		if s.space(); !p.value(s, rec, depth) {
			return false
		}
		p.key = p.key[:base]
		if s.space(); !s.consume(',') {
			return s.consume('}')
		}
	}
}

// value reads the value of key p.key.
func (p *jsonParser) value(s *scanner, rec *Record, depth int) bool {
	if s.i == len(s.b) {
		return false
	}
	start := s.i
	switch c := s.b[s.i]; c {
	case '{':
		s.i++
		return p.object(s, rec, depth+1)
	case '"':
		v, esc, ok := s.str()
		if ok {
			p.assign(rec, p.key, p.text(v, esc))
		}
		return ok
	case '[':
		if !s.skip(depth) {
			return false
		}
		setField(rec, string(p.key), s.b[start:s.i])
		return true
	case 'n':
		return s.literal("null")
	case 't', 'f':
		if !s.literal("true") && !s.literal("false") {
			return false
		}
	default:
		if !s.number() {
			return false
		}
	}
	p.assign(rec, p.key, s.b[start:s.i])
	return true
}

func appendText(dst, v []byte, hasEscapes bool) []byte {
	if hasEscapes {
		return unescape(dst, v)
	}
	return append(dst, v...)
}

// scanner reads JSON tokens from b at i.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) consume(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *scanner) literal(lit string) bool {
	if bytes.HasPrefix(s.b[s.i:], []byte(lit)) {
		s.i += len(lit)
		return true
	}
	return false
}

// str reads a string and returns its contents as written and whether they
// have escapes.
func (s *scanner) str() (v []byte, hasEscapes, ok bool) {
	if !s.consume('"') {
		return nil, false, false
	}
	start := s.i
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], hasEscapes, true
		case c == '\\':
			if !s.escape() {
				return nil, false, false
			}
			hasEscapes = true
		case c < 0x20:
			return nil, false, false
		default:
			s.i++
		}
	}
	return nil, false, false
}

// escape reads a JSON escape sequence.
func (s *scanner) escape() bool {
	if s.i+1 >= len(s.b) {
		return false
	}
	switch s.b[s.i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		s.i += 2
		return true
	case 'u':
		if _, ok := hexValue(s.b, s.i+2, 4); ok {
			s.i += 6
			return true
		}
	}
	return false
}

// number reads -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() bool {
	s.consume('-')
	if !s.consume('0') && !s.digits() {
		return false
	}
	if s.consume('.') && !s.digits() {
		return false
	}
	if s.consume('e') || s.consume('E') {
		if !s.consume('+') {
			s.consume('-')
		}
		return s.digits()
	}
	return true
}

// digits reads one or more digits.
func (s *scanner) digits() bool {
	start := s.i
	for s.i < len(s.b) && isDigit(s.b[s.i]) {
		s.i++
	}
	return s.i > start
}

// skip reads any value, checking it is well formed.
func (s *scanner) skip(depth int) bool {
	if s.i == len(s.b) || depth > maxDepth {
		return false
	}
	switch s.b[s.i] {
	case '{', '[':
		return s.skipContainer(depth + 1)
	case '"':
		_, _, ok := s.str()
		return ok
	case 'n':
		return s.literal("null")
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	}
	return s.number()
}

// skipContainer reads an object or an array.
func (s *scanner) skipContainer(depth int) bool {
	closer := byte(']')
	if s.b[s.i] == '{' {
		closer = '}'
	}
	s.i++
	if s.space(); s.consume(closer) {
		return true
	}
	for {
		s.space()
		if closer == '}' {
			if _, _, ok := s.str(); !ok {
				return false
			}
			if s.space(); !s.consume(':') {
				return false
			}
			s.space()
		}
		if !s.skip(depth) {
			return false
		}
		if s.space(); !s.consume(',') {
			return s.consume(closer)
		}
	}
}
