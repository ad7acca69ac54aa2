package logship

import (
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"
)

// The JSON form of an Event, used by the file and stdout sinks, as the
// document of the Elasticsearch sink and as the line of the Loki sink. One
// object per event with stable snake_case keys in this order:
//
//	id, time (RFC 3339 with nanoseconds), app, side, host, file, offset,
//	line (the raw line), then what the line carried: method, path,
//	endpoint, status, bytes, duration_seconds, upstream_seconds, level,
//	message, fields (an object, keys sorted), parse_error, split,
//	unterminated.
//
// The keys before line are always present; the others only when set. Any
// bytes give valid JSON: invalid UTF-8 becomes U+FFFD, as encoding/json
// does. AppendEvent appends without reflection and, given room in dst,
// without allocating (except to sort the keys of Record.Fields).

// AppendEvent appends the JSON object of e to dst and returns the result.
func AppendEvent(dst []byte, e *Event) []byte {
	dst = encKey(dst, '{', "id")
	dst = encString(dst, e.ID)
	dst = encKey(dst, ',', "time")
	dst = append(dst, '"')
	dst = e.Time.AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, '"')
	dst = encField(dst, "app", e.App)
	dst = encField(dst, "side", e.Side)
	dst = encField(dst, "host", e.Host)
	dst = encField(dst, "file", e.File)
	dst = encKey(dst, ',', "offset")
	dst = strconv.AppendInt(dst, e.Offset, 10)
	dst = encKey(dst, ',', "line")
	dst = encBytes(dst, e.Record.Raw)
	dst = encRecord(dst, &e.Record)
	if e.Split {
		dst = append(encKey(dst, ',', "split"), "true"...)
	}
	if e.Unterminated {
		dst = append(encKey(dst, ',', "unterminated"), "true"...)
	}
	return append(dst, '}')
}

// encRecord appends the parsed fields that r carries.
func encRecord(dst []byte, r *Record) []byte {
	dst = encOptField(dst, "method", r.Method)
	if r.Path != nil {
		dst = encKey(dst, ',', "path")
		dst = encBytes(dst, r.Path)
	}
	dst = encOptField(dst, "endpoint", r.Endpoint)
	if r.Status != 0 {
		dst = strconv.AppendInt(encKey(dst, ',', "status"), int64(r.Status), 10)
	}
	if r.Present&HasBytes != 0 {
		dst = strconv.AppendInt(encKey(dst, ',', "bytes"), r.Bytes, 10)
	}
	if r.Present&HasDuration != 0 {
		dst = encSeconds(encKey(dst, ',', "duration_seconds"), r.Duration)
	}
	if r.Present&HasUpstream != 0 {
		dst = encSeconds(encKey(dst, ',', "upstream_seconds"), r.Upstream)
	}
	dst = encOptField(dst, "level", r.Level)
	if r.Message != nil {
		dst = encKey(dst, ',', "message")
		dst = encBytes(dst, r.Message)
	}
	if len(r.Fields) > 0 {
		dst = encFields(encKey(dst, ',', "fields"), r.Fields)
	}
	return encOptField(dst, "parse_error", r.ParseError)
}

// encFields appends fields as a JSON object with sorted keys.
func encFields(dst []byte, fields map[string]string) []byte {
	var stack [16]string
	keys := stack[:0]
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	sep := byte('{')
	for _, k := range keys {
		dst = append(dst, sep)
		dst = encString(dst, k)
		dst = append(dst, ':')
		dst = encString(dst, fields[k])
		sep = ','
	}
	if sep == '{' {
		dst = append(dst, '{')
	}
	return append(dst, '}')
}

// encSeconds appends d in seconds, as a JSON number without exponent.
func encSeconds(dst []byte, d time.Duration) []byte {
	return strconv.AppendFloat(dst, d.Seconds(), 'f', -1, 64)
}

// encKey appends sep and "key": (key needs no escaping).
func encKey(dst []byte, sep byte, key string) []byte {
	dst = append(dst, sep, '"')
	dst = append(dst, key...)
	return append(dst, '"', ':')
}

func encField(dst []byte, key, v string) []byte {
	return encString(encKey(dst, ',', key), v)
}

func encOptField(dst []byte, key, v string) []byte {
	if v == "" {
		return dst
	}
	return encField(dst, key, v)
}

// encBytes appends b as a JSON string (see encString). It views
// b as a string without copying it: encString only reads it.
func encBytes(dst []byte, b []byte) []byte {
	return encString(dst, unsafe.String(unsafe.SliceData(b), len(b)))
}

// encSafe reports the ASCII bytes that go into a JSON string as they are.
var encSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const encHex = "0123456789abcdef"

// encString appends s quoted as a JSON string, escaping as
// encoding/json does (without its HTML escaping): '"', '\\' and control
// characters are escaped, invalid UTF-8 bytes become U+FFFD, and U+2028
// and U+2029 are escaped for JavaScript.
func encString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if encSafe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = encEscape(dst, c)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\u202`...)
			dst = append(dst, encHex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func encEscape(dst []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(dst, '\\', c)
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	case '\b':
		return append(dst, '\\', 'b')
	case '\f':
		return append(dst, '\\', 'f')
	}
	return append(dst, '\\', 'u', '0', '0', encHex[c>>4], encHex[c&0xf])
}
