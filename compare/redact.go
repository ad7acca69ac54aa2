package compare

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// Redacted replaces every secret the sample store would otherwise keep.
const Redacted = "[redacted]"

// alwaysRedactedHeaders are redacted whatever the configuration says.
var alwaysRedactedHeaders = []string{"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie"}

// secretWords mark a query parameter or header name as a secret when the
// name (lower case, "-" read as "_") contains one of them.
var secretWords = []string{"token", "password", "passwd", "secret", "signature", "api_key", "apikey", "credential"}

// secretNames mark a name as a secret when it is exactly one of them.
var secretNames = []string{"key", "sig", "auth"}

// isSecretName reports whether a query parameter or header name says it
// carries a secret (access_token, api_key, X-Auth-Token, X-Amz-Signature...).
func isSecretName(name string) bool {
	n := strings.ReplaceAll(strings.ToLower(name), "-", "_")
	for _, w := range secretWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	for _, w := range secretNames {
		if n == w {
			return true
		}
	}
	return false
}

// Redactor removes secrets from exchanges before they are stored: the
// values of secret headers (Authorization, Proxy-Authorization, Cookie,
// Set-Cookie, configured names and names that say they are secrets), of
// secret query parameters (token, access_token, api_key, password, secret,
// signature...), and of configured JSON fields in bodies and differences.
// It never modifies its input. A Redactor is safe for concurrent use.
type Redactor struct {
	headers map[string]bool // canonical names
	json    []pointerPattern
}

// NewRedactor returns a Redactor for the given extra header names
// (case-insensitive) and JSON Pointer patterns ("*" matches one segment:
// /users/*/ssn). A pattern that is not a JSON Pointer is an error.
func NewRedactor(headers, jsonPatterns []string) (*Redactor, error) {
	r := &Redactor{headers: make(map[string]bool)}
	for _, h := range append(alwaysRedactedHeaders, headers...) {
		r.headers[http.CanonicalHeaderKey(strings.TrimSpace(h))] = true
	}
	var errs []error
	for _, p := range jsonPatterns {
		pp, err := parsePointerPattern(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		r.json = append(r.json, pp)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return r, nil
}

// secretHeader reports whether a header's values are redacted.
func (r *Redactor) secretHeader(name string) bool {
	return r.headers[http.CanonicalHeaderKey(name)] || isSecretName(name)
}

// Pair returns a copy of p with its secrets redacted: the request's and
// every response's headers, the request's query, the JSON bodies, and
// error texts that quote the request's URL. A JSON body that breaks off
// (a truncated capture) keeps only its checked part; a response's is then
// marked Truncated.
func (r *Redactor) Pair(p Pair) Pair {
	out, _ := r.pair(p)
	return out
}

// pair is Pair that also says whether the request body was cut, since
// Request has no Truncated mark of its own.
func (r *Redactor) pair(p Pair) (out Pair, reqCut bool) {
	out = p
	out.Request, reqCut = r.request(p.Request)
	out.Primary = r.response(p.Primary, p.Request.RawQuery, out.Request.RawQuery)
	out.Candidate = r.response(p.Candidate, p.Request.RawQuery, out.Request.RawQuery)
	if p.Secondary != nil {
		s := r.response(*p.Secondary, p.Request.RawQuery, out.Request.RawQuery)
		out.Secondary = &s
	}
	return out, reqCut
}

func (r *Redactor) request(req Request) (Request, bool) {
	req.Header = r.header(req.Header)
	req.RawQuery = redactQuery(req.RawQuery)
	var cut bool
	req.Body, _, cut = redactJSON(req.Body, nil, r.json)
	return req, cut
}

// response redacts one side's answer; rawQuery and safeQuery are the
// request's query before and after redaction, for error texts that quote
// the URL.
func (r *Redactor) response(resp Response, rawQuery, safeQuery string) Response {
	resp.Header = r.header(resp.Header)
	var cut bool
	resp.Body, _, cut = redactJSON(resp.Body, nil, r.json)
	resp.Truncated = resp.Truncated || cut
	if resp.Err != nil && rawQuery != safeQuery {
		if msg := resp.Err.Error(); strings.Contains(msg, rawQuery) {
			resp.Err = errors.New(strings.ReplaceAll(msg, rawQuery, safeQuery))
		}
	}
	return resp
}

// header returns a copy of h with secret values replaced, or h itself when
// it holds no secret.
func (r *Redactor) header(h http.Header) http.Header {
	var out http.Header
	for name, vals := range h {
		if !r.secretHeader(name) {
			continue
		}
		if out == nil {
			out = h.Clone()
		}
		red := make([]string, len(vals))
		for i := range red {
			red[i] = Redacted
		}
		out[name] = red
	}
	if out == nil {
		return h
	}
	return out
}

// Diffs returns a copy of diffs with the values of secret headers and of
// redacted JSON fields replaced, including secrets nested in a JSON value
// rendered whole (a difference at /user when /user/password is redacted).
func (r *Redactor) Diffs(diffs []Difference) []Difference {
	if len(diffs) == 0 {
		return diffs
	}
	out := make([]Difference, len(diffs))
	for i, d := range diffs {
		out[i] = r.diff(d)
	}
	return out
}

func (r *Redactor) diff(d Difference) Difference {
	switch d.Kind {
	case KindHeader:
		if r.secretHeader(d.Field) || r.secretHeader(d.Path) {
			d.Primary, d.Candidate = Redacted, Redacted
		}
		return d
	case KindJSON:
		path := pointerSegments(d.Path)
		for _, p := range r.json {
			if p.matchPrefix(path) {
				d.Primary, d.Candidate = Redacted, Redacted
				return d
			}
		}
		d.Primary = r.diffValue(d.Primary, path)
		d.Candidate = r.diffValue(d.Candidate, path)
	case KindBody:
		d.Primary = r.diffValue(d.Primary, nil)
		d.Candidate = r.diffValue(d.Candidate, nil)
	}
	return d
}

// diffValue redacts the secrets inside a JSON value rendered in a
// difference, whose place in the document is base.
func (r *Redactor) diffValue(v string, base []string) string {
	out, changed, cut := redactJSON([]byte(v), base, r.json)
	if !changed && !cut {
		return v
	}
	return string(out)
}

// redactQuery replaces the values of secret parameters in a raw query,
// keeping the order and encoding of the rest.
func redactQuery(raw string) string {
	if raw == "" {
		return raw
	}
	parts := strings.Split(raw, "&")
	changed := false
	for i, part := range parts {
		name, _, _ := strings.Cut(part, "=")
		if un, err := url.QueryUnescape(name); err == nil {
			name = un
		}
		if isSecretName(name) {
			rawName, _, _ := strings.Cut(part, "=")
			parts[i] = rawName + "=" + url.QueryEscape(Redacted)
			changed = true
		}
	}
	if !changed {
		return raw
	}
	return strings.Join(parts, "&")
}
