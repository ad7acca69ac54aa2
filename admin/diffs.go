package admin

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/migratekit/migrate/compare"
)

var reportTypes = map[string]string{
	compare.FormatJSON:     "application/json",
	compare.FormatText:     "text/plain; charset=utf-8",
	compare.FormatMarkdown: "text/markdown; charset=utf-8",
	compare.FormatJUnit:    "application/xml",
}

// getDiffs answers GET /api/v1/apps/{app}/diffs?format=json|text|markdown|junit
// with the app's diff report (default JSON).
func (s *Server) getDiffs(w http.ResponseWriter, r *http.Request) {
	a := s.app(w, r)
	if a == nil {
		return
	}
	format := r.URL.Query().Get("format")
	if format == "" {
		format = compare.FormatJSON
	}
	if !slices.Contains(compare.ReportFormats, format) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("format %q: use one of %s", format, strings.Join(compare.ReportFormats, ", ")))
		return
	}
	var rep compare.Report
	ok := false
	if s.opts.Diffs != nil {
		var err error
		rep, ok, err = s.opts.Diffs.Report(r.Context(), a.Name())
		if err != nil {
			s.log.Error("building diff report", "app", a.Name(), "err", err)
			writeError(w, http.StatusInternalServerError, "building the diff report failed")
			return
		}
	}
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("app %q is not shadowed (shadow.sample is 0%%), so it has no diffs", a.Name()))
		return
	}
	var buf bytes.Buffer
	if err := compare.WriteReport(&buf, format, rep); err != nil {
		s.log.Error("writing diff report", "app", a.Name(), "err", err)
		writeError(w, http.StatusInternalServerError, "writing the diff report failed")
		return
	}
	w.Header().Set("Content-Type", reportTypes[format])
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}
