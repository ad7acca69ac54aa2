package logship

import "unicode/utf8"

// rawParser keeps the line as it is: only Raw is set. A line that is not
// valid UTF-8 is reported, so that a shipper can label it.
type rawParser struct{}

// Parse implements Parser.
func (rawParser) Parse(line []byte, rec *Record) error {
	line = begin(rec, line)
	var err error
	if !utf8.Valid(line) {
		fail(rec, &err, ErrInvalidUTF8)
	}
	return err
}
