package logship

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// The nginx parser: a log_format string is compiled once into literal text
// and variables, and a line is matched against them left to right. A
// variable's value runs up to the first occurrence of the literal text that
// follows it (for a value between double quotes, the first occurrence not
// escaped by a backslash); a format ending with a variable gives it the
// rest of the line. Text after the end of the format is ignored, so the
// combined format also reads lines of a format that appends fields to it.

// role is what a log_format variable fills in a Record.
type role uint8

const (
	roleField role = iota // kept in Record.Fields under its name
	roleRemoteAddr
	roleRemoteUser
	roleTime // $time_local, $time_iso8601
	roleMsec
	roleRequest
	roleMethod
	roleTarget // $request_uri: path and query
	rolePath   // $uri
	roleQuery  // $args, $query_string
	roleProto
	roleStatus
	roleBytes
	roleReferer
	roleUserAgent
	roleRequestTime
	roleUpstream
	roleHost
)

// roleOf returns the role of a variable; roleField for those without a
// Record field.
func roleOf(name string) role {
	switch name {
	case "remote_addr":
		return roleRemoteAddr
	case "remote_user":
		return roleRemoteUser
	case "time_local", "time_iso8601":
		return roleTime
	case "msec":
		return roleMsec
	case "request":
		return roleRequest
	case "request_method":
		return roleMethod
	case "request_uri":
		return roleTarget
	case "uri", "document_uri":
		return rolePath
	case "args", "query_string":
		return roleQuery
	case "server_protocol":
		return roleProto
	case "status":
		return roleStatus
	case "body_bytes_sent", "bytes_sent":
		return roleBytes
	case "http_referer":
		return roleReferer
	case "http_user_agent":
		return roleUserAgent
	case "request_time":
		return roleRequestTime
	case "upstream_response_time":
		return roleUpstream
	case "host", "http_host":
		return roleHost
	}
	return roleField
}

// segment is one variable of a compiled format and the literal text that
// follows it.
type segment struct {
	name   string
	role   role
	err    error  // the error for a value that cannot be read as its field
	after  []byte // empty only for a variable that ends the format
	quoted bool   // the value sits between double quotes
	// width is the least length of the value: the literal after it is
	// looked for past it ($time_local has a space of its own).
	width int
}

type nginxParser struct {
	opts    Options
	prefix  []byte // literal text before the first variable
	segs    []segment
	scratch []byte // unescaped values of the current line
	zones   zoneCache
}

func newNginx(format string, opts Options) (*nginxParser, error) {
	prefix, segs, err := compileFormat(format)
	if err != nil {
		return nil, fmt.Errorf("compiling log_format: %w", err)
	}
	resolveRoles(segs)
	return &nginxParser{opts: opts, prefix: prefix, segs: segs}, nil
}

// compileFormat splits a log_format string into its leading literal and
// its variables with the literal after each.
func compileFormat(format string) ([]byte, []segment, error) {
	var prefix []byte
	var segs []segment
	lit := &prefix
	for i := 0; i < len(format); {
		if format[i] != '$' {
			*lit = append(*lit, format[i])
			i++
			continue
		}
		name, n := variableName(format[i+1:])
		if name == "" {
			return nil, nil, fmt.Errorf("byte %d: %q does not start a variable name", i, format[i:min(i+2, len(format))])
		}
		if len(segs) > 0 && len(segs[len(segs)-1].after) == 0 {
			return nil, nil, fmt.Errorf("$%s follows $%s with nothing between them", name, segs[len(segs)-1].name)
		}
		segs = append(segs, segment{name: name})
		lit = &segs[len(segs)-1].after
		i += 1 + n
	}
	if len(segs) == 0 {
		return nil, nil, fmt.Errorf("%q has no variable", format)
	}
	before := prefix
	for i := range segs {
		s := &segs[i]
		s.quoted = bytes.HasSuffix(before, []byte(`"`)) && bytes.HasPrefix(s.after, []byte(`"`))
		before = s.after
	}
	return prefix, segs, nil
}

// variableName reads the name of "$name" or "${name}" from s (after the
// '$') and returns it lowercased with the number of bytes it used.
func variableName(s string) (string, int) {
	if strings.HasPrefix(s, "{") {
		end := strings.IndexByte(s, '}')
		if end < 2 || !isName(s[1:end]) {
			return "", 0
		}
		return strings.ToLower(s[1:end]), end + 1
	}
	n := 0
	for n < len(s) && isNameByte(s[n]) {
		n++
	}
	return strings.ToLower(s[:n]), n
}

func isName(s string) bool {
	for i := range len(s) {
		if !isNameByte(s[i]) {
			return false
		}
	}
	return true
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// resolveRoles gives each variable its role. When a format logs a field
// twice in different ways, the more faithful variable fills it and the
// other goes to Fields: $request and $request_uri over $uri and $args,
// $host over $http_host, $body_bytes_sent over $bytes_sent.
func resolveRoles(segs []segment) {
	has := make(map[string]bool, len(segs))
	for _, s := range segs {
		has[s.name] = true
	}
	shadowed := map[string]bool{
		"uri": has["request"] || has["request_uri"], "document_uri": has["request"] || has["request_uri"],
		"args": has["request"] || has["request_uri"], "query_string": has["request"] || has["request_uri"],
		"http_host": has["host"], "bytes_sent": has["body_bytes_sent"],
	}
	for i := range segs {
		s := &segs[i]
		if !shadowed[s.name] {
			s.role = roleOf(s.name)
		}
		if s.name == "time_local" {
			s.width = len("02/Jan/2006:15:04:05 -0700")
		}
		s.err = fmt.Errorf("parsing $%s: %w", s.name, ErrField)
		if s.role == roleRequest || s.role == roleTarget {
			s.err = fmt.Errorf("parsing $%s: %w", s.name, ErrRequestLine)
		}
	}
}

// Parse implements Parser.
func (p *nginxParser) Parse(line []byte, rec *Record) error {
	line = begin(rec, line)
	p.scratch = p.scratch[:0]
	var err error
	switch {
	case len(line) == 0:
		fail(rec, &err, ErrEmpty)
		return err
	case !utf8.Valid(line):
		fail(rec, &err, ErrInvalidUTF8)
	}
	if !bytes.HasPrefix(line, p.prefix) {
		fail(rec, &err, ErrMismatch)
		return err
	}
	pos := len(p.prefix)
	for i := range p.segs {
		s := &p.segs[i]
		end, next := len(line), len(line)
		if len(s.after) > 0 {
			if end = findLiteral(line, pos, s.width, s.after, s.quoted); end < 0 {
				fail(rec, &err, ErrMismatch)
				break
			}
			next = end + len(s.after)
		}
		if verr := p.set(rec, s, p.text(line[pos:end])); verr != nil {
			fail(rec, &err, verr)
		}
		pos = next
	}
	return finish(rec, &p.opts, err)
}

// findLiteral returns the index of the first occurrence of lit in line at
// or after from+width, where the value starts at from; for a quoted value,
// the first whose quote is not escaped.
func findLiteral(line []byte, from, width int, lit []byte, quoted bool) int {
	for i := min(from+width, len(line)); ; {
		j := bytes.Index(line[i:], lit)
		if j < 0 {
			return -1
		}
		j += i
		if !quoted || !escaped(line[from:j]) {
			return j
		}
		i = j + 1
	}
}

// escaped reports whether b ends with an odd number of backslashes.
func escaped(b []byte) bool {
	n := 0
	for n < len(b) && b[len(b)-1-n] == '\\' {
		n++
	}
	return n%2 == 1
}

// text returns a value as a Record holds it: nil for nginx's "-" and for
// nothing, unescaped into the scratch buffer when it has escapes.
func (p *nginxParser) text(v []byte) []byte {
	if len(v) == 0 || len(v) == 1 && v[0] == '-' {
		return nil
	}
	if bytes.IndexByte(v, '\\') < 0 {
		return v
	}
	start := len(p.scratch)
	p.scratch = unescape(p.scratch, v)
	return p.scratch[start:len(p.scratch):len(p.scratch)]
}

// set stores the value v of variable s in rec.
func (p *nginxParser) set(rec *Record, s *segment, v []byte) error {
	ok := true
	switch s.role {
	case roleRemoteAddr:
		rec.RemoteAddr = v
	case roleRemoteUser:
		rec.RemoteUser = v
	case roleReferer:
		rec.Referer = v
	case roleUserAgent:
		rec.UserAgent = v
	case roleHost:
		rec.Host = v
	case rolePath:
		rec.Path = v
	case roleQuery:
		rec.Query = v
	case roleRequest:
		if parseRequest(rec, v) != nil {
			return s.err
		}
	case roleTarget:
		ok = v == nil || setTarget(rec, v)
	case roleMethod:
		ok = v == nil || isToken(v)
		if ok && v != nil {
			rec.Method = internMethod(v)
		}
	case roleProto:
		rec.Proto = internProto(v)
		ok = v == nil || rec.Proto != ""
	default:
		ok = p.setValue(rec, s, v)
	}
	if !ok {
		return s.err
	}
	return nil
}

// setValue stores the numeric, time and extra values.
func (p *nginxParser) setValue(rec *Record, s *segment, v []byte) bool {
	ok := true
	switch s.role {
	case roleStatus:
		n, good := parseUint(v)
		if ok = good && n <= 999; ok {
			rec.Status = int(n)
		}
	case roleBytes:
		if v != nil {
			rec.Bytes, ok = parseUint(v)
			rec.Present |= present(HasBytes, ok)
		}
	case roleRequestTime:
		if v != nil {
			rec.Duration, ok = parseSeconds(v)
			rec.Present |= present(HasDuration, ok)
		}
	case roleUpstream:
		if v = lastUpstream(v); len(v) > 0 && !(len(v) == 1 && v[0] == '-') {
			rec.Upstream, ok = parseSeconds(v)
			rec.Present |= present(HasUpstream, ok)
		}
	case roleTime:
		if v != nil {
			rec.Time, ok = parseTime(v, &p.zones)
		}
	case roleMsec:
		if v != nil {
			rec.Time, ok = parseEpoch(v)
		}
	case roleField:
		if v != nil {
			setField(rec, s.name, v)
		}
	}
	return ok
}
