package dashboards

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"
)

//go:embed web
var webFS embed.FS

// Prefix is where the dashboard is served.
const Prefix = "/dashboard/"

// writeTimeout bounds each write to an event stream: a page that stops
// reading is dropped after it, without holding anything else up.
const writeTimeout = 10 * time.Second

// Handler serves the dashboard under Prefix: the page and its assets, the
// event stream (events), the history (api/history) and an app's diff
// view with examples (api/apps/{app}/diffs). Mount it at Prefix; the
// page's actions call the admin API's write endpoints on the same origin.
func (d *Dashboard) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(webFS, "web")
	files := http.StripPrefix(Prefix, http.FileServerFS(static))
	mux.Handle("GET "+Prefix, securityHeaders(files))
	mux.HandleFunc("GET "+Prefix+"events", d.serveEvents)
	mux.HandleFunc("GET "+Prefix+"api/history", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, d.History())
	})
	mux.HandleFunc("GET "+Prefix+"api/apps/{app}/diffs", d.serveDiffs)
	mux.Handle("GET /dashboard", http.RedirectHandler(Prefix, http.StatusMovedPermanently))
	return mux
}

// securityHeaders keeps the page to its own origin: no inline script, no
// CDN, no framing.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}

func (d *Dashboard) serveDiffs(w http.ResponseWriter, r *http.Request) {
	app := r.PathValue("app")
	v, ok, err := d.opts.Source.Diffs(r.Context(), app)
	switch {
	case err != nil:
		d.log.Error("reading diffs", "app", app, "err", err)
		writeJSON(w, http.StatusBadGateway, map[string]string{"error": fmt.Sprintf("reading the diffs of %s failed: %v", app, err)})
	case !ok:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("app %q has no diffs: it is not shadowed, or not served here", app)})
	default:
		writeJSON(w, http.StatusOK, v)
	}
}

// serveEvents streams frames as Server-Sent Events, each with its
// sequence number as id. A page that reconnects with Last-Event-ID (or
// ?after=N) gets the frames it missed when they are still kept, else a
// "resync" event, after which it reloads the history. A page that reads
// too slowly misses frames and gets a "resync" event too.
func (d *Dashboard) serveEvents(w http.ResponseWriter, r *http.Request) {
	after, resume, err := lastEventID(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	c, backlog, resync, err := d.hub.subscribe(after, resume)
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
		return
	}
	defer d.hub.unsubscribe(c)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	s := &stream{w: w, rc: http.NewResponseController(w)}
	s.write("retry: 2000\n\n")
	if resync {
		s.resync()
	}
	for _, m := range backlog {
		s.frame(m)
	}
	for s.flush() == nil {
		select {
		case <-r.Context().Done():
			return
		case <-d.hub.done:
			return
		case m := <-c.ch:
			if c.lagged.Swap(false) {
				s.resync()
			}
			s.frame(m)
		}
	}
}

// lastEventID reads where a stream resumes: the Last-Event-ID header, or
// the after query parameter of a page that loaded the history first.
func lastEventID(r *http.Request) (seq uint64, ok bool, err error) {
	v := r.Header.Get("Last-Event-ID")
	name := "Last-Event-ID"
	if v == "" {
		v, name = r.URL.Query().Get("after"), "after"
	}
	if v == "" {
		return 0, false, nil
	}
	seq, err = strconv.ParseUint(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("%s %q is not a frame number", name, v)
	}
	return seq, true, nil
}

// stream writes events; after the first failed write it writes nothing.
type stream struct {
	w   io.Writer
	rc  *http.ResponseController
	err error
}

func (s *stream) write(text string) {
	if s.err != nil {
		return
	}
	if err := s.rc.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		s.err = err
		return
	}
	_, s.err = io.WriteString(s.w, text)
}

func (s *stream) frame(m message) {
	s.write("id: " + strconv.FormatUint(m.seq, 10) + "\nevent: frame\ndata: " + string(m.data) + "\n\n")
}

func (s *stream) resync() {
	s.write("event: resync\ndata: {}\n\n")
}

func (s *stream) flush() error {
	if s.err == nil {
		s.err = s.rc.Flush()
	}
	return s.err
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
