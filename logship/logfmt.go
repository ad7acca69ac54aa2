package logship

import (
	"bytes"
	"unicode/utf8"
)

// The logfmt parser reads key=value pairs separated by spaces, as written
// by go-kit, logrus's text formatter and slog's TextHandler. A value is
// bare (up to the next space) or double-quoted with backslash escapes; a
// key without "=" is kept in Fields with an empty value. A line with no
// key=value pair at all is not logfmt.

type logfmtParser struct {
	keyed
}

// Parse implements Parser.
func (p *logfmtParser) Parse(line []byte, rec *Record) error {
	line = begin(rec, line)
	p.scratch = p.scratch[:0]
	var err error
	if len(bytes.TrimSpace(line)) == 0 {
		fail(rec, &err, ErrEmpty)
		return err
	}
	if !utf8.Valid(line) {
		fail(rec, &err, ErrInvalidUTF8)
	}
	pairs, ok := 0, true
	for i := skipSpace(line, 0); i < len(line) && ok; i = skipSpace(line, i) {
		var paired bool
		i, paired, ok = p.pair(rec, line, i)
		if paired {
			pairs++
		}
	}
	if !ok || pairs == 0 {
		fail(rec, &err, ErrSyntax)
	}
	return finish(rec, &p.opts, err)
}

// pair reads the key, and the value if any, at line[i:]. It returns where
// it stopped, whether it read a key=value pair, and false for a syntax
// error.
func (p *logfmtParser) pair(rec *Record, line []byte, i int) (next int, paired, ok bool) {
	start := i
	for i < len(line) && line[i] > ' ' && line[i] != '=' && line[i] != '"' {
		i++
	}
	key := line[start:i]
	if len(key) == 0 || i < len(line) && line[i] == '"' {
		return i, false, false
	}
	if i == len(line) || line[i] != '=' {
		setField(rec, string(key), nil)
		return i, false, true
	}
	i++
	if i < len(line) && line[i] == '"' {
		end := closingQuote(line, i+1)
		if end < 0 || end+1 < len(line) && line[end+1] > ' ' {
			return i, false, false
		}
		v := line[i+1 : end]
		p.assign(rec, key, p.text(v, bytes.IndexByte(v, '\\') >= 0))
		return end + 1, true, true
	}
	start = i
	for i < len(line) && line[i] > ' ' {
		i++
	}
	p.assign(rec, key, line[start:i])
	return i, true, true
}

// skipSpace returns the index of the first byte at or after i that is not
// a space or a control character.
func skipSpace(line []byte, i int) int {
	for i < len(line) && line[i] <= ' ' {
		i++
	}
	return i
}

// closingQuote returns the index of the first unescaped '"' at or after i,
// or -1.
func closingQuote(line []byte, i int) int {
	for i < len(line) {
		switch line[i] {
		case '"':
			return i
		case '\\':
			i++
		}
		i++
	}
	return -1
}
