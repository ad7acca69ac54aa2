package logship

import (
	"testing"
	"time"
)

// view is a Record with strings for byte slices, for readable tables.
type view struct {
	Time                               string // RFC 3339 with nanoseconds; "" for zero
	Method, Path, Query, Proto, Host   string
	Status                             int
	Bytes                              int64
	Duration, Upstream                 time.Duration
	Present                            Present
	RemoteAddr, RemoteUser             string
	Referer, UserAgent, Level, Message string
	Endpoint                           string
	Fields                             map[string]string
	ParseError                         string
}

func viewOf(r *Record) view {
	v := view{
		Method: r.Method, Path: string(r.Path), Query: string(r.Query), Proto: r.Proto,
		Host: string(r.Host), Status: r.Status, Bytes: r.Bytes, Duration: r.Duration,
		Upstream: r.Upstream, Present: r.Present, RemoteAddr: string(r.RemoteAddr),
		RemoteUser: string(r.RemoteUser), Referer: string(r.Referer),
		UserAgent: string(r.UserAgent), Level: r.Level, Message: string(r.Message),
		Endpoint: r.Endpoint, ParseError: r.ParseError,
	}
	if !r.Time.IsZero() {
		v.Time = r.Time.Format(time.RFC3339Nano)
	}
	if len(r.Fields) > 0 {
		v.Fields = r.Fields
	}
	return v
}

func mustNew(t testing.TB, format string, opts Options) Parser {
	t.Helper()
	p, err := New(format, opts)
	if err != nil {
		t.Fatalf("New(%q): %v", format, err)
	}
	return p
}

// parse parses line with p and checks the invariants of every Parse: the
// error and ParseError agree, and Raw is the line without its terminator.
func parse(t testing.TB, p Parser, line []byte) (*Record, error) {
	t.Helper()
	rec := new(Record)
	err := p.Parse(line, rec)
	checkInvariants(t, line, rec, err)
	return rec, err
}

func checkInvariants(t testing.TB, line []byte, rec *Record, err error) {
	t.Helper()
	if got := err != nil; got != (rec.ParseError != "") {
		t.Fatalf("Parse(%q) = %v with ParseError %q", line, err, rec.ParseError)
	}
	if err != nil && err.Error() != rec.ParseError {
		t.Fatalf("Parse(%q): error %q, ParseError %q", line, err, rec.ParseError)
	}
	want := line
	for _, end := range []string{"\n", "\r"} {
		if len(want) > 0 && want[len(want)-1] == end[0] {
			want = want[:len(want)-1]
		}
	}
	if string(rec.Raw) != string(want) {
		t.Fatalf("Parse(%q): Raw = %q", line, rec.Raw)
	}
}

// stallAfter is how long a wait goes on without progress before it fails.
// A wait is bounded by progress, not by a total: under -race on a loaded
// machine the same work takes several times longer, but a shipper that
// stalls, or lost what the test waits for, makes none.
const stallAfter = 30 * time.Second

// waitProgress polls progress until it reports done; it fails, saying
// what it waited for and how far it got, when the progress count has not
// changed for stallAfter. progress must be cheap: it is called every few
// milliseconds, and what it locks the code under test may need.
func waitProgress(t testing.TB, what string, progress func() (n int, done bool)) {
	t.Helper()
	last, since := -1, time.Now()
	for {
		n, done := progress()
		if done {
			return
		}
		if n != last {
			last, since = n, time.Now()
		} else if time.Since(since) > stallAfter {
			t.Fatalf("waiting for %s: no progress for %v, stuck at %d", what, stallAfter, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
