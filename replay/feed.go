package replay

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/migratekit/migrate/compare"
	"github.com/migratekit/migrate/logship"
)

// Reasons a line is not replayed, besides the parser's.
const (
	reasonTooLong   = "line too long"
	reasonNoRequest = "no request"
	reasonBadPath   = "malformed path"
)

// job is one logged request to replay.
type job struct {
	line    int
	req     compare.Request
	rawPath string // the path as logged, when it has escapes
}

// feed reads the log, counts what is not replayed and hands the rest to
// the workers at the pace of the limiter, until the end of the log or ctx.
func (r *replayer) feed(ctx context.Context, jobs chan<- job) error {
	lines := newLineReader(r.in, MaxLine)
	var rec logship.Record
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		line, long, err := lines.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading line %d: %w", n, err)
		}
		j, ok := r.parse(n, line, long, &rec)
		if !ok {
			continue
		}
		if err := r.wait(ctx); err != nil {
			return err
		}
		select {
		case jobs <- j:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// parse turns line n into a job, or counts why it is not replayed.
func (r *replayer) parse(n int, line []byte, long bool, rec *logship.Record) (job, bool) {
	r.stats.line()
	switch {
	case long:
		r.stats.bad(n, reasonTooLong)
		return job{}, false
	case len(line) == 0:
		return job{}, false // a blank line is no request, and no junk
	}
	if err := r.parser.Parse(line, rec); err != nil {
		r.stats.bad(n, rec.ParseError)
		return job{}, false
	}
	if rec.Method == "" || len(rec.Path) == 0 {
		r.stats.bad(n, reasonNoRequest)
		return job{}, false
	}
	j, err := r.request(n, rec)
	if err != nil {
		r.stats.bad(n, reasonBadPath)
		return job{}, false
	}
	if !r.allowed(j.req.Method, j.req.Path) {
		r.engine.Record(r.app.Name, direction(r.app), r.engine.Endpoint(r.app.Name, j.req.Path), j.req.Method, compare.OutcomeSkippedUnsafe)
		r.stats.skipped()
		return job{}, false
	}
	return j, true
}

// request builds the request of a parsed line, owning its memory: the
// logged method, path, query and Host (else the app's first host), and
// replay's own User-Agent and mark.
func (r *replayer) request(n int, rec *logship.Record) (job, error) {
	raw := string(rec.Path)
	if raw[0] != '/' {
		return job{}, errors.New("path is not absolute")
	}
	path, err := url.PathUnescape(raw)
	if err != nil {
		return job{}, err
	}
	j := job{line: n, req: compare.Request{
		Method:   rec.Method,
		Path:     path,
		RawQuery: string(rec.Query),
		Host:     string(rec.Host),
		Header:   http.Header{"User-Agent": {UserAgent}, Header: {"1"}},
	}}
	if j.req.Host == "" {
		j.req.Host = r.host
	}
	if raw != path {
		j.rawPath = raw
	}
	return j, nil
}

// outbound is the request to send to one side: its own URL and header map.
func (j *job) outbound() *http.Request {
	return &http.Request{
		Method:     j.req.Method,
		URL:        &url.URL{Path: j.req.Path, RawPath: j.rawPath, RawQuery: j.req.RawQuery},
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     j.req.Header.Clone(),
		Host:       j.req.Host,
	}
}

// wait takes a token from the limiter, on the replay's clock.
func (r *replayer) wait(ctx context.Context) error {
	if r.limiter == nil {
		return nil
	}
	now := r.clock.Now()
	res := r.limiter.ReserveN(now, 1)
	d := res.DelayFrom(now)
	if d <= 0 {
		return nil
	}
	t := r.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.Chan():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// lineReader reads lines of at most max bytes; the rest of a longer line
// is read and thrown away.
type lineReader struct {
	r   *bufio.Reader
	buf []byte
	max int
}

func newLineReader(r io.Reader, max int) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// next returns the next line without its terminator (valid until the next
// call); long says it was longer than max. The last line may lack a
// newline. It returns io.EOF at the end.
func (lr *lineReader) next() (line []byte, long bool, err error) {
	lr.buf = lr.buf[:0]
	for {
		chunk, err := lr.r.ReadSlice('\n')
		if len(lr.buf)+len(chunk) <= lr.max+1 { // +1: the newline
			lr.buf = append(lr.buf, chunk...)
		} else {
			long = true
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(lr.buf) == 0 && !long:
			return nil, false, io.EOF
		case err != nil && !errors.Is(err, io.EOF):
			return nil, false, err
		}
		return trimEOL(lr.buf), long, nil
	}
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}
