package compare

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// pointerPattern is a JSON Pointer whose segments may be "*", matching any
// one object key or array index.
type pointerPattern []string

// parsePointerPattern splits a pattern such as /items/*/token into its
// unescaped segments (~1 is "/", ~0 is "~").
func parsePointerPattern(p string) (pointerPattern, error) {
	if p == "" || p[0] != '/' {
		return nil, fmt.Errorf("parsing JSON pointer pattern %q: must start with /", p)
	}
	segs := strings.Split(p[1:], "/")
	for i, s := range segs {
		segs[i] = strings.NewReplacer("~1", "/", "~0", "~").Replace(s)
	}
	return segs, nil
}

// pointerSegments splits a concrete JSON Pointer into unescaped segments; "" is
// the root (no segments).
func pointerSegments(p string) []string {
	if p == "" {
		return nil
	}
	pat, err := parsePointerPattern(p)
	if err != nil {
		return []string{p}
	}
	return pat
}

// matchPrefix reports whether the pattern matches path or one of its
// ancestors: a value inside a redacted value is redacted too.
func (pp pointerPattern) matchPrefix(path []string) bool {
	if len(path) < len(pp) {
		return false
	}
	for i, s := range pp {
		if s != "*" && s != path[i] {
			return false
		}
	}
	return true
}

// jsonFrame is one open object or array of the rewriter.
type jsonFrame struct {
	obj     bool
	wantKey bool   // in an object: the next token is a key (or '}')
	n       int    // members written so far
	key     string // in an object: the key of the member being written
	seg     string // this container's segment in its parent ("" for a root)
}

// jsonRedactor rewrites a JSON text token by token, keeping member order and
// numbers as written, and replacing the values the patterns match.
type jsonRedactor struct {
	patterns []pointerPattern
	base     []string // path of the text's root in an enclosing document
	dec      *json.Decoder
	out      bytes.Buffer
	str      *json.Encoder
	stack    []jsonFrame
	changed  bool
}

// redactJSON returns body with the values that patterns match (relative to
// base) replaced by "[redacted]", and changed=true when it replaced one.
// Input that does not start like JSON comes back untouched. Input that
// starts like JSON but breaks off or goes wrong (a truncated capture) comes
// back as the redacted part that parsed, with cut=true: nothing after the
// break is kept, since it cannot be checked.
func redactJSON(body []byte, base []string, patterns []pointerPattern) (out []byte, changed, cut bool) {
	if len(patterns) == 0 || !startsLikeJSON(body) {
		return body, false, false
	}
	r := &jsonRedactor{patterns: patterns, base: base, dec: json.NewDecoder(bytes.NewReader(body))}
	r.dec.UseNumber()
	r.str = json.NewEncoder(&r.out)
	r.str.SetEscapeHTML(false)
	err := r.run()
	if err == nil && !r.changed {
		return body, false, false
	}
	return r.out.Bytes(), r.changed, err != nil
}

// startsLikeJSON reports whether the first non-space byte opens an object
// or array: scalars and other text are left alone.
func startsLikeJSON(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && (b[0] == '{' || b[0] == '[')
}

func (r *jsonRedactor) run() error {
	for roots := 0; ; {
		tok, err := r.dec.Token()
		if err == io.EOF && len(r.stack) == 0 && roots > 0 {
			return nil
		}
		if err != nil {
			return err
		}
		if len(r.stack) == 0 {
			if roots > 0 {
				r.out.WriteByte('\n')
			}
			roots++
		}
		if err := r.token(tok); err != nil {
			return err
		}
	}
}

// token writes one token, tracking where in the document it is.
func (r *jsonRedactor) token(tok json.Token) error {
	var top *jsonFrame
	if len(r.stack) > 0 {
		top = &r.stack[len(r.stack)-1]
	}
	if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
		r.out.WriteByte(byte(d))
		r.stack = r.stack[:len(r.stack)-1]
		r.valueDone()
		return nil
	}
	if top != nil && top.obj && top.wantKey {
		r.member(top)
		r.writeString(tok.(string))
		r.out.WriteByte(':')
		top.key, top.wantKey = tok.(string), false
		return nil
	}
	seg := ""
	if top != nil && !top.obj {
		r.member(top)
		seg = strconv.Itoa(top.n - 1)
	} else if top != nil {
		seg = top.key
	}
	if r.matches(seg) {
		r.changed = true
		r.writeString(Redacted)
		return r.skip(tok)
	}
	return r.value(tok, seg)
}

// member writes the comma before a container's next member and counts it.
func (r *jsonRedactor) member(top *jsonFrame) {
	if top.n > 0 {
		r.out.WriteByte(',')
	}
	top.n++
}

// value writes a kept value: a scalar, or the start of a container.
func (r *jsonRedactor) value(tok json.Token, seg string) error {
	switch v := tok.(type) {
	case json.Delim:
		r.out.WriteByte(byte(v))
		r.stack = append(r.stack, jsonFrame{obj: v == '{', wantKey: v == '{', seg: seg})
		return nil
	case string:
		r.writeString(v)
	case json.Number:
		r.out.WriteString(v.String())
	case bool:
		r.out.WriteString(strconv.FormatBool(v))
	case nil:
		r.out.WriteString("null")
	default:
		return fmt.Errorf("rewriting JSON: unexpected token %T", tok)
	}
	r.valueDone()
	return nil
}

// skip consumes the rest of a redacted value (nothing when it is a scalar).
func (r *jsonRedactor) skip(tok json.Token) error {
	depth := 0
	for {
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
		if depth == 0 {
			break
		}
		var err error
		if tok, err = r.dec.Token(); err != nil {
			return err
		}
	}
	r.valueDone()
	return nil
}

// valueDone marks the enclosing object as waiting for its next key.
func (r *jsonRedactor) valueDone() {
	if len(r.stack) > 0 {
		if top := &r.stack[len(r.stack)-1]; top.obj {
			top.wantKey = true
		}
	}
}

// matches reports whether the value at the current depth with segment seg
// is redacted.
func (r *jsonRedactor) matches(seg string) bool {
	path := make([]string, 0, len(r.base)+len(r.stack))
	path = append(path, r.base...)
	for i, f := range r.stack {
		if i > 0 {
			path = append(path, f.seg)
		}
	}
	if len(r.stack) > 0 {
		path = append(path, seg)
	}
	for _, p := range r.patterns {
		if p.matchPrefix(path) {
			return true
		}
	}
	return false
}

func (r *jsonRedactor) writeString(s string) {
	_ = r.str.Encode(s) // encoding a string cannot fail
	r.out.Truncate(r.out.Len() - 1)
}
