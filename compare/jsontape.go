package compare

import (
	"errors"
	"math"
	"unicode/utf16"
	"unicode/utf8"
)

// jkind is the kind of one JSON value on a tape.
type jkind uint8

const (
	jNull jkind = iota + 1
	jFalse
	jTrue
	jNumber
	jString
	jArray
	jObject
)

// maxDepth is encoding/json's nesting limit: deeper documents are not JSON
// to the engine either, so both agree on what parses.
const maxDepth = 10000

var errNotJSON = errors.New("not JSON")

// node is one JSON value of a parsed document. A tape lists the values in
// document order, a container followed by its descendants (an object's
// members as key, value, key, value): the walk never builds maps or
// strings for values that turn out equal.
type node struct {
	kind jkind
	esc  bool  // a string with backslash escapes
	n    int32 // arrays: elements; objects: members
	// start and end delimit the value's raw text (a string's include the
	// quotes); next is the tape index after the value and its descendants.
	start, end, next int32
}

// tape is a parsed document: its text and its values. It refers to the
// text, which must not change while the tape is in use.
type tape struct {
	doc   []byte
	nodes []node
	depth int
	pos   int
}

// parse fills t with doc's values, reusing t's storage. It accepts exactly
// what json.Valid accepts.
func (t *tape) parse(doc []byte) error {
	t.doc, t.nodes, t.depth, t.pos = doc, t.nodes[:0], 0, 0
	if len(doc) >= math.MaxInt32 {
		return errNotJSON
	}
	t.skipSpace()
	if err := t.value(); err != nil {
		return err
	}
	t.skipSpace()
	if t.pos != len(doc) {
		return errNotJSON
	}
	return nil
}

func (t *tape) skipSpace() {
	for t.pos < len(t.doc) {
		switch t.doc[t.pos] {
		case ' ', '\t', '\n', '\r':
			t.pos++
		default:
			return
		}
	}
}

func (t *tape) value() error {
	if t.pos >= len(t.doc) {
		return errNotJSON
	}
	switch c := t.doc[t.pos]; {
	case c == '{':
		return t.container(jObject)
	case c == '[':
		return t.container(jArray)
	case c == '"':
		return t.str()
	case c == '-' || (c >= '0' && c <= '9'):
		return t.number()
	case c == 't':
		return t.literal("true", jTrue)
	case c == 'f':
		return t.literal("false", jFalse)
	case c == 'n':
		return t.literal("null", jNull)
	}
	return errNotJSON
}

func (t *tape) literal(word string, k jkind) error {
	end := t.pos + len(word)
	if end > len(t.doc) || string(t.doc[t.pos:end]) != word {
		return errNotJSON
	}
	t.push(k, end)
	return nil
}

// push appends a scalar spanning [t.pos, end) and moves past it.
func (t *tape) push(k jkind, end int) {
	i := int32(len(t.nodes))
	t.nodes = append(t.nodes, node{kind: k, start: int32(t.pos), end: int32(end), next: i + 1})
	t.pos = end
}

func (t *tape) container(k jkind) error {
	t.depth++
	if t.depth > maxDepth {
		return errNotJSON
	}
	at := len(t.nodes)
	t.nodes = append(t.nodes, node{kind: k, start: int32(t.pos)})
	t.pos++
	n, err := t.members(k)
	if err != nil {
		return err
	}
	t.depth--
	t.nodes[at].n, t.nodes[at].end, t.nodes[at].next = n, int32(t.pos), int32(len(t.nodes))
	return nil
}

// members parses a container's contents after its opening bracket, up to
// and including the closing one.
func (t *tape) members(k jkind) (int32, error) {
	closer := byte(']')
	if k == jObject {
		closer = '}'
	}
	t.skipSpace()
	if t.pos < len(t.doc) && t.doc[t.pos] == closer {
		t.pos++
		return 0, nil
	}
	var n int32
	for {
		if err := t.member(k); err != nil {
			return 0, err
		}
		n++
		t.skipSpace()
		if t.pos >= len(t.doc) {
			return 0, errNotJSON
		}
		switch t.doc[t.pos] {
		case ',':
			t.pos++
			t.skipSpace()
		case closer:
			t.pos++
			return n, nil
		default:
			return 0, errNotJSON
		}
	}
}

// member parses an array element, or an object's "key": value.
func (t *tape) member(k jkind) error {
	if k == jObject {
		if t.pos >= len(t.doc) || t.doc[t.pos] != '"' {
			return errNotJSON
		}
		if err := t.str(); err != nil {
			return err
		}
		t.skipSpace()
		if t.pos >= len(t.doc) || t.doc[t.pos] != ':' {
			return errNotJSON
		}
		t.pos++
		t.skipSpace()
	}
	return t.value()
}

func (t *tape) str() error {
	esc := false
	for i := t.pos + 1; i < len(t.doc); i++ {
		switch c := t.doc[i]; {
		case c == '"':
			t.push(jString, i+1)
			t.nodes[len(t.nodes)-1].esc = esc
			return nil
		case c == '\\':
			n, ok := escapeLen(t.doc[i:])
			if !ok {
				return errNotJSON
			}
			esc = true
			i += n - 1
		case c < 0x20:
			return errNotJSON
		}
	}
	return errNotJSON
}

// escapeLen is the length of the escape sequence s starts with.
func escapeLen(s []byte) (int, bool) {
	if len(s) < 2 {
		return 0, false
	}
	switch s[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, true
	case 'u':
		if len(s) < 6 {
			return 0, false
		}
		for _, c := range s[2:6] {
			if unhex(c) < 0 {
				return 0, false
			}
		}
		return 6, true
	}
	return 0, false
}

func unhex(c byte) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case c >= 'a' && c <= 'f':
		return rune(c - 'a' + 10)
	case c >= 'A' && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

func (t *tape) number() error {
	d, i := t.doc, t.pos
	if d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		i = digits(d, i)
	default:
		return errNotJSON
	}
	if i < len(d) && d[i] == '.' {
		if j := digits(d, i+1); j > i+1 {
			i = j
		} else {
			return errNotJSON
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := digits(d, i)
		if j == i {
			return errNotJSON
		}
		i = j
	}
	t.push(jNumber, i)
	return nil
}

func digits(d []byte, i int) int {
	for i < len(d) && d[i] >= '0' && d[i] <= '9' {
		i++
	}
	return i
}

// raw is a value's text.
func (t *tape) raw(i int32) []byte {
	n := &t.nodes[i]
	return t.doc[n.start:n.end]
}

// strContent is a string's text between its quotes, still escaped.
func (t *tape) strContent(i int32) []byte {
	n := &t.nodes[i]
	return t.doc[n.start+1 : n.end-1]
}

// unquote appends the decoded content of string node i to buf. Invalid
// surrogates become U+FFFD, as with encoding/json.
func (t *tape) unquote(buf []byte, i int32) []byte {
	s := t.strContent(i)
	if !t.nodes[i].esc {
		return append(buf, s...)
	}
	for k := 0; k < len(s); k++ {
		c := s[k]
		if c != '\\' {
			buf = append(buf, c)
			continue
		}
		k++
		switch s[k] {
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			var r rune
			r, k = decodeU(s, k)
			buf = utf8.AppendRune(buf, r)
		default:
			buf = append(buf, s[k])
		}
	}
	return buf
}

// decodeU decodes the \u escape whose 'u' is at s[k], with a following
// low surrogate when it is a high one; it returns the rune and the index
// of the escape's last byte.
func decodeU(s []byte, k int) (rune, int) {
	r := hex4(s[k+1 : k+5])
	k += 4
	if !utf16.IsSurrogate(r) {
		return r, k
	}
	if k+6 < len(s) && s[k+1] == '\\' && s[k+2] == 'u' {
		if r2 := utf16.DecodeRune(r, hex4(s[k+3:k+7])); r2 != utf8.RuneError {
			return r2, k + 6
		}
	}
	return utf8.RuneError, k
}

func hex4(s []byte) rune {
	return unhex(s[0])<<12 | unhex(s[1])<<8 | unhex(s[2])<<4 | unhex(s[3])
}
