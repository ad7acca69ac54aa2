package logship

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Record is one parsed log line. A Parser fills a Record it is given and
// reuses it line after line, so that parsing allocates nothing in steady
// state:
//
//   - The byte-slice fields alias the line passed to Parse, or the Parser's
//     own scratch buffer when a value had to be unescaped. They are valid
//     until the caller reuses the line's buffer or calls Parse again on the
//     same Parser; call Clone to keep a Record longer.
//   - Method, Proto and Level come from small sets and are interned strings.
//
// A byte-slice field is nil when the line did not carry the value or
// carried it as "-" (nginx's empty value). Values are the line's bytes
// after unescaping, which may be invalid UTF-8.
type Record struct {
	// Time is the event time from the line; zero when the line has none.
	Time time.Time
	// Method is the request method ("GET"); "" when unknown.
	Method string
	// Path is the request path as sent, without the query; "*" for
	// "OPTIONS *", the path of an absolute-form target ("GET http://h/p").
	Path []byte
	// Query is the query string without its "?".
	Query []byte
	// Proto is the protocol ("HTTP/1.1"); "" for HTTP/0.9 request lines.
	Proto string
	// Host is the requested host, when logged.
	Host   []byte
	Status int
	// Bytes is the number of response bytes sent.
	Bytes int64
	// Duration is the request's duration ($request_time).
	Duration time.Duration
	// Upstream is the upstream's response time; the last one when the line
	// lists several attempts ("0.010, 0.020").
	Upstream time.Duration
	// Present tells which of Bytes, Duration and Upstream the line carried,
	// since zero is a valid value of each.
	Present    Present
	RemoteAddr []byte
	RemoteUser []byte
	Referer    []byte
	UserAgent  []byte
	// Level and Message are the level and message of application logs
	// (json, logfmt).
	Level   string
	Message []byte
	// Endpoint is Options.Template applied to Path; "" without a template or
	// a path.
	Endpoint string
	// Fields holds the values that have no field above: extra keys of json
	// and logfmt lines (nested objects flattened with dots), other variables
	// of an nginx log_format. Nil until a line has one; cleared, not
	// reallocated, by the next Parse.
	Fields map[string]string
	// Raw is the whole line, without its line terminator.
	Raw []byte
	// ParseError is "" for a parsed line, else the reason it was not (the
	// text of the error Parse returned). Reasons come from a bounded set, so
	// a shipper may use them as a label. The fields that did parse are kept.
	ParseError string
}

// Present is a set of optional numeric fields of a Record.
type Present uint8

// The optional numeric fields.
const (
	HasBytes Present = 1 << iota
	HasDuration
	HasUpstream
)

// Parser parses one log format. Parse fills rec from line, overwriting
// everything in it (see Record for how long its contents stay valid). For a
// line it cannot fully parse it returns an error, sets rec.ParseError to
// its text and keeps what parsed: the caller ships the line raw, labelled.
// It never panics. A Parser keeps scratch space: it is not safe for
// concurrent use, so give each goroutine its own.
type Parser interface {
	Parse(line []byte, rec *Record) error
}

// Options configure a Parser.
type Options struct {
	// LogFormat is the nginx log_format string for the "nginx" format, as
	// nginx sees it once its quoted parts are joined:
	// `$remote_addr [$time_local] "$request" $status $request_time`.
	LogFormat string
	// Template, when set, maps a request path to its endpoint template
	// (Record.Endpoint), e.g. compare.Templater's Template method.
	Template func(path string) string
}

// Errors a Parser returns, possibly wrapped with the field they concern.
var (
	ErrEmpty       = errors.New("empty line")
	ErrInvalidUTF8 = errors.New("invalid utf-8")
	// ErrMismatch is a line that does not have the format's shape: a
	// truncated line, another format, junk.
	ErrMismatch = errors.New("line does not match the format")
	// ErrSyntax is a json or logfmt line that is not well formed.
	ErrSyntax = errors.New("malformed line")
	// ErrRequestLine is a request line that is not "METHOD TARGET PROTO".
	ErrRequestLine = errors.New("malformed request line")
	// ErrField is a value that cannot be read as its field (a status that
	// is not a number, an impossible time).
	ErrField = errors.New("malformed field")
	// ErrUnknownFormat is returned by New for a format it does not know.
	ErrUnknownFormat = errors.New("unknown log format")
)

// Formats returns the names New accepts.
func Formats() []string {
	return []string{"nginx_combined", "nginx", "json", "logfmt", "raw"}
}

// CombinedFormat is nginx's predefined "combined" log_format.
const CombinedFormat = `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"`

// parser returns p as a Parser, or a nil Parser with err (a nil
// *nginxParser in a Parser is not nil).
func parser(p *nginxParser, err error) (Parser, error) {
	if err != nil {
		return nil, err
	}
	return p, nil
}

// New returns a Parser for format, one of Formats.
func New(format string, opts Options) (Parser, error) {
	switch format {
	case "nginx_combined":
		return parser(newNginx(CombinedFormat, opts))
	case "nginx":
		if opts.LogFormat == "" {
			return nil, errors.New("creating nginx parser: a log_format string is required")
		}
		return parser(newNginx(opts.LogFormat, opts))
	case "json":
		return &jsonParser{keyed: keyed{opts: opts}}, nil
	case "logfmt":
		return &logfmtParser{keyed{opts: opts}}, nil
	case "raw":
		return rawParser{}, nil
	}
	return nil, fmt.Errorf("creating parser: %q is not one of %s: %w",
		format, strings.Join(Formats(), ", "), ErrUnknownFormat)
}

// begin resets rec for line and returns the line without its terminator.
func begin(rec *Record, line []byte) []byte {
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	fields := rec.Fields
	clear(fields)
	*rec = Record{Raw: line, Fields: fields}
	return line
}

// fail records err as the line's parse error unless one is recorded.
func fail(rec *Record, first *error, err error) {
	if *first == nil {
		*first = err
		rec.ParseError = err.Error()
	}
}

// finish applies the endpoint template and returns the line's error.
func finish(rec *Record, opts *Options, err error) error {
	if opts.Template != nil && len(rec.Path) > 0 {
		rec.Endpoint = opts.Template(string(rec.Path))
	}
	return err
}

// setField stores an extra value, allocating Fields on first use.
func setField(rec *Record, key string, value []byte) {
	if rec.Fields == nil {
		rec.Fields = make(map[string]string)
	}
	rec.Fields[key] = string(value)
}

// present returns p if ok, else nothing.
func present(p Present, ok bool) Present {
	if ok {
		return p
	}
	return 0
}

// Clone returns a copy of r that owns all its memory.
func (r *Record) Clone() Record {
	c := *r
	byteFields := c.byteFields()
	n := 0
	for _, f := range byteFields {
		n += len(*f)
	}
	buf := make([]byte, 0, n)
	for _, f := range byteFields {
		if *f != nil {
			start := len(buf)
			buf = append(buf, *f...)
			*f = buf[start:len(buf):len(buf)]
		}
	}
	if r.Fields != nil {
		c.Fields = make(map[string]string, len(r.Fields))
		for k, v := range r.Fields {
			c.Fields[k] = v
		}
	}
	return c
}

func (r *Record) byteFields() []*[]byte {
	return []*[]byte{&r.Path, &r.Query, &r.Host, &r.RemoteAddr, &r.RemoteUser,
		&r.Referer, &r.UserAgent, &r.Message, &r.Raw}
}
