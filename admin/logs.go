package admin

// The logs of both sides: the receiver of embedded sinks
// (POST /api/v1/apps/{app}/logs?side=old|new, a write) and the live view
// that `migrate logs tail` reads (GET /api/v1/apps/{app}/logs, a read).

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/migratekit/migrate/logship"
)

// MaxLogBody bounds a receiver request's body, decompressed.
const MaxLogBody = 64 << 20

// LogStore keeps the lines embedded sinks ship (package serve's store, on
// a logship.LogStore) and derives their rates.
type LogStore interface {
	// AddLogs stores evs; an error means none may be taken as stored.
	AddLogs(ctx context.Context, evs []logship.Event) error
	// QueryLogs returns stored lines, oldest first.
	QueryLogs(ctx context.Context, q logship.LogQuery) ([]logship.StoredLine, error)
	// LogsChanged returns a channel closed when new lines are stored.
	LogsChanged() <-chan struct{}
}

func (s *Server) logRoutes() {
	s.mux.Handle("POST /api/v1/apps/{app}/logs", s.write(http.HandlerFunc(s.postLogs)))
	s.mux.Handle("GET /api/v1/apps/{app}/logs", s.read(http.HandlerFunc(s.getLogs)))
}

// streamStop ends the open log streams (and the backend drains waiting,
// backends.go) when the server shuts down, which would otherwise wait for
// them.
type streamStop struct {
	init, once sync.Once
	ch         chan struct{}
}

func (st *streamStop) done() <-chan struct{} {
	st.init.Do(func() { st.ch = make(chan struct{}) })
	return st.ch
}

// stop ends the streams; http.Server.RegisterOnShutdown calls it.
func (st *streamStop) stop() {
	st.done()
	st.once.Do(func() { close(st.ch) })
}

func (s *Server) postLogs(w http.ResponseWriter, r *http.Request) {
	a := s.app(w, r)
	if a == nil {
		return
	}
	side := r.URL.Query().Get("side")
	if side != "old" && side != "new" {
		writeJSON(w, http.StatusBadRequest, logship.EmbeddedAnswer{Error: fmt.Sprintf("side=%q: want old or new", side)})
		return
	}
	if s.opts.Logs == nil {
		w.Header().Set("Retry-After", "10")
		writeJSON(w, http.StatusServiceUnavailable, logship.EmbeddedAnswer{Error: "this instance keeps no logs"})
		return
	}
	evs, ans, code := readLogBody(r, a.Name(), side)
	if code != 0 {
		writeJSON(w, code, ans)
		return
	}
	if err := s.opts.Logs.AddLogs(r.Context(), evs); err != nil {
		s.log.Error("storing shipped logs", "app", a.Name(), "side", side, "err", err)
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, logship.EmbeddedAnswer{Error: "storing the lines failed; send them again"})
		return
	}
	ans.Accepted = len(evs)
	code = http.StatusOK
	if len(ans.Rejected) > 0 {
		ans.Error = fmt.Sprintf("%d of %d lines refused", len(ans.Rejected), len(ans.Rejected)+len(evs))
		code = http.StatusBadRequest
	}
	writeJSON(w, code, ans)
}

// readLogBody decodes a receiver request's NDJSON body (gzip or not):
// the events to store, the lines refused, and a status other than 0 when
// the whole request is refused.
func readLogBody(r *http.Request, app, side string) ([]logship.Event, logship.EmbeddedAnswer, int) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, logship.EmbeddedAnswer{Error: fmt.Sprintf("body is not gzip: %v", err)}, http.StatusBadRequest
		}
		defer zr.Close()
		body = zr
	}
	br := bufio.NewReader(io.LimitReader(body, MaxLogBody+1))
	var evs []logship.Event
	var ans logship.EmbeddedAnswer
	read := 0
	for i := 0; ; i++ {
		line, err := br.ReadBytes('\n')
		read += len(line)
		if read > MaxLogBody {
			return nil, logship.EmbeddedAnswer{Error: fmt.Sprintf("body is over %d MiB; send smaller batches", MaxLogBody>>20)}, http.StatusRequestEntityTooLarge
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, logship.EmbeddedAnswer{Error: fmt.Sprintf("reading body: %v", err)}, bodyStatus(err)
		}
		if len(line) > 0 || err == nil {
			ev, lerr := logLine(bytes.TrimSuffix(line, []byte("\n")), app, side)
			if lerr != nil {
				ans.Rejected = append(ans.Rejected, logship.EmbeddedRejection{Index: i, Error: lerr.Error()})
			} else {
				evs = append(evs, ev)
			}
		}
		if err != nil {
			return evs, ans, 0
		}
	}
}

// logLine decodes one line of a batch for app's side.
func logLine(line []byte, app, side string) (logship.Event, error) {
	ev, err := logship.DecodeEventJSON(line)
	if err != nil {
		return ev, err
	}
	switch {
	case ev.App != "" && ev.App != app:
		return ev, fmt.Errorf("app %q: this batch is for %q", ev.App, app)
	case ev.Side != "" && ev.Side != side:
		return ev, fmt.Errorf("side %q: this batch is for %q", ev.Side, side)
	}
	ev.App, ev.Side = app, side
	return ev, nil
}

// getLogs answers GET /api/v1/apps/{app}/logs?side=&grep=&since=&limit=
// &follow=1 with the recent lines as NDJSON (the AppendEvent objects,
// oldest first) and, with follow, the lines stored after them, flushed as
// they come, until the client goes away.
func (s *Server) getLogs(w http.ResponseWriter, r *http.Request) {
	a := s.app(w, r)
	if a == nil {
		return
	}
	q, follow, err := logQuery(r, a.Name(), time.Now())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if s.opts.Logs == nil {
		writeError(w, http.StatusNotFound, "this instance keeps no logs")
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	changed := s.opts.Logs.LogsChanged()
	lines, err := s.opts.Logs.QueryLogs(r.Context(), q)
	if err != nil {
		s.log.Error("reading logs", "app", a.Name(), "err", err)
		writeError(w, http.StatusInternalServerError, "reading the logs failed")
		return
	}
	w.Header().Set(RecentLinesHeader, strconv.Itoa(len(lines)))
	w.WriteHeader(http.StatusOK)
	q.After = writeLines(w, lines, q.After)
	for follow {
		select {
		case <-r.Context().Done():
			return
		case <-s.streams.done():
			return
		case <-changed:
		}
		changed = s.opts.Logs.LogsChanged()
		if lines, err = s.opts.Logs.QueryLogs(r.Context(), q); err != nil {
			s.log.Warn("reading logs", "app", a.Name(), "err", err)
			return
		}
		q.After = writeLines(w, lines, q.After)
	}
}

// writeLines writes lines and flushes; it returns the last Seq written, or
// after when there was none.
func writeLines(w http.ResponseWriter, lines []logship.StoredLine, after int64) int64 {
	for _, l := range lines {
		w.Write(l.JSON)
		w.Write([]byte{'\n'})
		after = l.Seq
	}
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	return after
}

// logQuery reads the parameters of GET /api/v1/apps/{app}/logs.
func logQuery(r *http.Request, app string, now time.Time) (q logship.LogQuery, follow bool, err error) {
	v := r.URL.Query()
	q = logship.LogQuery{App: app, Side: v.Get("side")}
	if q.Side != "" && q.Side != "old" && q.Side != "new" {
		return q, false, fmt.Errorf("side=%q: want old, new or nothing for both", q.Side)
	}
	if g := v.Get("grep"); g != "" {
		if q.Grep, err = regexp.Compile(g); err != nil {
			return q, false, fmt.Errorf("grep=%q is not a regular expression: %w", g, err)
		}
	}
	if s := v.Get("since"); s != "" {
		if q.Since, err = sinceTime(s, now); err != nil {
			return q, false, err
		}
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > logship.MaxQueryLimit {
			return q, false, fmt.Errorf("limit=%q is not a number between 1 and %d", s, logship.MaxQueryLimit)
		}
		q.Limit = n
	}
	switch f := v.Get("follow"); f {
	case "", "0", "false":
	case "1", "true":
		follow = true
	default:
		return q, false, fmt.Errorf("follow=%q: want 1 or 0", f)
	}
	return q, follow, nil
}

// sinceTime reads since as a duration back from now ("5m") or an RFC 3339
// time.
func sinceTime(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("since=%q is neither a duration (5m) nor an RFC 3339 time (2026-01-02T15:04:05Z)", s)
	}
	return t, nil
}

// LogsQuery are the parameters of Client.Logs.
type LogsQuery struct {
	Side   string        // old, new, or "" for both
	Grep   string        // a regular expression the raw line must match
	Since  time.Duration // lines whose event time is at most this old; 0: any
	Limit  int           // recent lines to start with; 0: the server's default
	Follow bool          // keep streaming new lines until ctx ends
	// Recent, when set, is called with the number of recent lines the
	// answer starts with, before them (0: nothing shipped yet, or nothing
	// that matches).
	Recent func(n int)
}

// RecentLinesHeader carries the number of recent lines a logs answer
// starts with.
const RecentLinesHeader = "X-Migrate-Recent-Lines"

// Logs reads app's recent lines (and, with q.Follow, the new ones as they
// are stored) and calls fn with each event's JSON object (as
// logship.AppendEvent writes it). It returns nil when the stream ends or
// ctx does, fn's error, or the admin API's.
func (c *Client) Logs(ctx context.Context, app string, q LogsQuery, fn func(line []byte) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base()+"/api/v1/apps/"+app+"/logs?"+q.values(), nil)
	if err != nil {
		return fmt.Errorf("building request: %w", err)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{} // a stream has no overall deadline; ctx ends it
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("reaching the admin API at %s (is migrate serve running?): %w", c.base(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return c.apiError(resp.StatusCode, data)
	}
	if n, err := strconv.Atoi(resp.Header.Get(RecentLinesHeader)); err == nil && q.Recent != nil {
		q.Recent(n)
	}
	return readStream(ctx, resp.Body, fn)
}

func (q LogsQuery) values() string {
	v := url.Values{}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set("side", q.Side)
	set("grep", q.Grep)
	if q.Since > 0 {
		set("since", q.Since.String())
	}
	if q.Limit > 0 {
		set("limit", strconv.Itoa(q.Limit))
	}
	if q.Follow {
		set("follow", "1")
	}
	return v.Encode()
}

// readStream calls fn with each line of an NDJSON stream.
func readStream(ctx context.Context, body io.Reader, fn func([]byte) error) error {
	br := bufio.NewReader(body)
	for {
		line, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			if ferr := fn(bytes.TrimSuffix(line, []byte("\n"))); ferr != nil {
				return ferr
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("reading the log stream: %w", err)
		}
	}
}
