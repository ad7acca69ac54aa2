package compare

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"
)

// normalized is one side's answer, ready to diff: header names canonical,
// ignored and hop-by-hop headers gone, values in a canonical order, the
// body decoded.
type normalized struct {
	status int
	header []headerField // sorted by name
	body   []byte
	// complete says the body is all there and decoded: a truncated capture
	// or one that decodes past the limit is not body-diffed.
	complete bool
	ctype    string // media type, lower case, no parameters
}

type headerField struct {
	name   string
	values []string
}

// hopByHop are dropped whatever the rules: they describe a connection, not
// the answer. Connection also names more of them, and every Proxy-* goes.
var hopByHop = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Te": true, "Trailer": true,
	"Transfer-Encoding": true, "Upgrade": true,
	// decoded away by normalisation, like the transfer coding
	"Content-Encoding": true,
}

// listHeaders hold comma-separated lists whose order means nothing; the
// true ones are also case-insensitive.
var listHeaders = map[string]bool{
	"Vary": true, "Cache-Control": true, "Access-Control-Allow-Headers": true,
	"Access-Control-Expose-Headers": true, "Allow": false,
	"Access-Control-Allow-Methods": false,
}

var errBodyLimit = errors.New("decoded body over the limit")

// normalize prepares r for diffing under rs; bodies decode to at most
// limit bytes.
func normalize(r *Response, rs *ruleSet, limit int) normalized {
	n := normalized{status: r.Status, header: normalizeHeader(r.Header, rs)}
	if ct := headerValues(r.Header, "Content-Type"); len(ct) > 0 {
		n.ctype, _, _ = mime.ParseMediaType(ct[0])
	}
	if r.Truncated {
		return n
	}
	body, err := decodeBody(r.Body, headerValues(r.Header, "Content-Encoding"), limit)
	switch {
	case errors.Is(err, errBodyLimit):
		return n
	case err != nil:
		body = r.Body // undecodable: compared as sent
	}
	n.body, n.complete = body, true
	return n
}

func normalizeHeader(h http.Header, rs *ruleSet) []headerField {
	drop := connectionTokens(h)
	byName := make(map[string][]string, len(h))
	for name, vals := range h {
		cn := http.CanonicalHeaderKey(name)
		if hopByHop[cn] || drop[cn] || strings.HasPrefix(cn, "Proxy-") || rs.headers[cn] {
			continue
		}
		byName[cn] = append(byName[cn], normalizeValues(cn, vals)...)
	}
	out := make([]headerField, 0, len(byName))
	for name, vals := range byName {
		slices.Sort(vals)
		out = append(out, headerField{name: name, values: vals})
	}
	slices.SortFunc(out, func(a, b headerField) int { return strings.Compare(a.name, b.name) })
	return out
}

// headerValues is h's values for name, whatever the case of its keys (a
// captured header map need not be canonical).
func headerValues(h http.Header, name string) []string {
	var out []string
	for k, vs := range h {
		if strings.EqualFold(k, name) {
			out = append(out, vs...)
		}
	}
	return out
}

// connectionTokens are the header names Connection lists.
func connectionTokens(h http.Header) map[string]bool {
	var drop map[string]bool
	for _, v := range headerValues(h, "Connection") {
		for tok := range strings.SplitSeq(v, ",") {
			if tok = strings.TrimSpace(tok); tok != "" {
				if drop == nil {
					drop = make(map[string]bool)
				}
				drop[http.CanonicalHeaderKey(tok)] = true
			}
		}
	}
	return drop
}

func normalizeValues(name string, vals []string) []string {
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		v = strings.TrimSpace(v)
		switch fold, isList := listHeaders[name]; {
		case name == "Content-Type":
			out = append(out, normalizeMediaType(v))
		case name == "Set-Cookie":
			out = append(out, maskCookie(v))
		case isList:
			out = appendList(out, v, fold)
		default:
			out = append(out, v)
		}
	}
	return out
}

// normalizeMediaType writes a media type canonically: lower-case type and
// parameter names, charset value lower case, parameters sorted.
func normalizeMediaType(v string) string {
	mt, params, err := mime.ParseMediaType(v)
	if err != nil {
		return v
	}
	if cs, ok := params["charset"]; ok {
		params["charset"] = strings.ToLower(cs)
	}
	if s := mime.FormatMediaType(mt, params); s != "" {
		return s
	}
	return v
}

// maskCookie keeps a Set-Cookie's name and attributes, sorted, and masks
// its value and Expires: a session id or a time says nothing about the
// stack, a missing Secure or a new Path does.
func maskCookie(v string) string {
	parts := strings.Split(v, ";")
	name, _, _ := strings.Cut(parts[0], "=")
	attrs := make([]string, 0, len(parts)-1)
	for _, a := range parts[1:] {
		a = strings.TrimSpace(a)
		k, val, hasVal := strings.Cut(a, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		switch {
		case k == "" || k == "expires":
			continue
		case hasVal:
			attrs = append(attrs, k+"="+strings.TrimSpace(val))
		default:
			attrs = append(attrs, k)
		}
	}
	slices.Sort(attrs)
	return strings.Join(append([]string{strings.TrimSpace(name) + "=…"}, attrs...), "; ")
}

func appendList(out []string, v string, fold bool) []string {
	for tok := range strings.SplitSeq(v, ",") {
		if tok = strings.TrimSpace(tok); tok == "" {
			continue
		}
		if fold {
			tok = strings.ToLower(tok)
		}
		out = append(out, tok)
	}
	return out
}

var (
	gzipReaders   sync.Pool
	brotliReaders sync.Pool
)

// decodeBody undoes the content codings, last applied first, into at most
// limit bytes.
func decodeBody(body []byte, codings []string, limit int) ([]byte, error) {
	var list []string
	for _, c := range codings {
		for tok := range strings.SplitSeq(c, ",") {
			if tok = strings.ToLower(strings.TrimSpace(tok)); tok != "" && tok != "identity" {
				list = append(list, tok)
			}
		}
	}
	for i := len(list) - 1; i >= 0; i-- {
		var err error
		if body, err = decodeOne(body, list[i], limit); err != nil {
			return nil, err
		}
	}
	return body, nil
}

func decodeOne(body []byte, coding string, limit int) ([]byte, error) {
	switch coding {
	case "gzip", "x-gzip":
		zr, _ := gzipReaders.Get().(*gzip.Reader)
		var err error
		if zr == nil {
			zr, err = gzip.NewReader(bytes.NewReader(body))
		} else {
			err = zr.Reset(bytes.NewReader(body))
		}
		if err != nil {
			return nil, fmt.Errorf("decoding gzip: %w", err)
		}
		defer gzipReaders.Put(zr)
		return readAll(zr, limit)
	case "deflate":
		// HTTP's deflate is zlib; some servers send raw DEFLATE.
		if zr, err := zlib.NewReader(bytes.NewReader(body)); err == nil {
			return readAll(zr, limit)
		}
		return readAll(flate.NewReader(bytes.NewReader(body)), limit)
	case "br":
		br, _ := brotliReaders.Get().(*brotli.Reader)
		if br == nil {
			br = brotli.NewReader(bytes.NewReader(body))
		} else if err := br.Reset(bytes.NewReader(body)); err != nil {
			return nil, fmt.Errorf("decoding br: %w", err)
		}
		defer brotliReaders.Put(br)
		return readAll(br, limit)
	}
	return nil, fmt.Errorf("decoding %q: unknown content coding", coding)
}

func readAll(r io.Reader, limit int) ([]byte, error) {
	var b bytes.Buffer
	n, err := b.ReadFrom(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("decoding body: %w", err)
	}
	if n > int64(limit) {
		return nil, errBodyLimit
	}
	return b.Bytes(), nil
}
