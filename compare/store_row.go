package compare

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"
)

// pairRow is a pair as the pairs table holds it: decoded, redacted and
// capped.
type pairRow struct {
	at                         int64
	outcome                    string
	method, host, path, query  string
	reqHeader                  string
	reqBody                    []byte
	reqTruncated               bool
	primaryMeta, candidateMeta string
	primaryBody, candidateBody []byte
	diffs, noisy               string
}

func (r *pairRow) args() []any {
	return []any{r.at, r.outcome, r.method, r.host, r.path, r.query, r.reqHeader, r.reqBody,
		r.reqTruncated, r.primaryMeta, r.primaryBody, r.candidateMeta, r.candidateBody, r.diffs, r.noisy}
}

// storedResponse is a response's meta column.
type storedResponse struct {
	Status    int         `json:"status"`
	Header    http.Header `json:"header,omitempty"`
	Truncated bool        `json:"truncated,omitempty"`
	LatencyNs int64       `json:"latency_ns"`
	Error     string      `json:"error,omitempty"`
	Timeout   bool        `json:"timeout,omitempty"`
}

// storedDiff is one Difference in the diffs column.
type storedDiff struct {
	Kind      Kind   `json:"kind"`
	Path      string `json:"path,omitempty"`
	Field     string `json:"field"`
	Primary   string `json:"primary,omitempty"`
	Candidate string `json:"candidate,omitempty"`
}

// encode decodes p's bodies, redacts it and caps its bodies. Redaction
// runs before the cap, so a secret is never cut in half and kept.
func (s *Store) encode(p Pair, r Result, at int64) (*pairRow, error) {
	var reqDecodeCut bool
	p.Request.Header, p.Request.Body, reqDecodeCut = s.decodeBody(p.Request.Header, p.Request.Body)
	p.Primary = s.decodeResponse(p.Primary)
	p.Candidate = s.decodeResponse(p.Candidate)
	red, reqCut := s.redact.pair(p)
	row := &pairRow{
		at: at, outcome: string(r.Outcome),
		method: red.Request.Method, host: red.Request.Host, path: red.Request.Path, query: red.Request.RawQuery,
	}
	row.reqBody, row.reqTruncated = s.capBody(red.Request.Body, reqCut || reqDecodeCut)
	var err error
	enc := func(v any) string {
		b, e := json.Marshal(v)
		err = errors.Join(err, e)
		return string(b)
	}
	row.reqHeader = enc(red.Request.Header)
	row.primaryMeta, row.primaryBody = s.encodeResponse(red.Primary, enc)
	row.candidateMeta, row.candidateBody = s.encodeResponse(red.Candidate, enc)
	row.diffs = enc(storedDiffs(s.redact.Diffs(r.Diffs)))
	row.noisy = enc(r.Noisy)
	return row, err
}

func (s *Store) encodeResponse(resp Response, enc func(any) string) (meta string, body []byte) {
	body, trunc := s.capBody(resp.Body, resp.Truncated)
	m := storedResponse{
		Status: resp.Status, Header: resp.Header, Truncated: trunc,
		LatencyNs: int64(resp.Latency), Timeout: resp.Timeout,
	}
	if resp.Err != nil {
		m.Error = resp.Err.Error()
	}
	return enc(m), body
}

func (s *Store) capBody(b []byte, truncated bool) ([]byte, bool) {
	if len(b) > s.opts.MaxBody {
		return b[:s.opts.MaxBody], true
	}
	return b, truncated
}

func (s *Store) decodeResponse(resp Response) Response {
	var cut bool
	resp.Header, resp.Body, cut = s.decodeBody(resp.Header, resp.Body)
	resp.Truncated = resp.Truncated || cut
	return resp
}

// decodeBody undoes a gzip or deflate Content-Encoding, so that redaction
// sees the JSON, reading at most MaxBody+1 bytes (the store keeps no
// more). The stored header then has no Content-Encoding. A body in an
// encoding the store cannot read is not kept (it could hide a secret):
// cut says the body is incomplete.
func (s *Store) decodeBody(h http.Header, body []byte) (http.Header, []byte, bool) {
	ce := strings.ToLower(strings.TrimSpace(h.Get("Content-Encoding")))
	if len(body) == 0 || ce == "" || ce == "identity" {
		return h, body, false
	}
	var rd io.Reader
	var err error
	switch ce {
	case "gzip", "x-gzip":
		rd, err = gzip.NewReader(bytes.NewReader(body))
	case "deflate":
		rd, err = deflateReader(body)
	default:
		return h, nil, true
	}
	if err != nil {
		return h, nil, true
	}
	out, err := io.ReadAll(io.LimitReader(rd, int64(s.opts.MaxBody)+1))
	h = h.Clone()
	h.Del("Content-Encoding")
	return h, out, err != nil || len(out) > s.opts.MaxBody
}

// deflateReader reads HTTP deflate: zlib-wrapped as the RFC says, or raw
// deflate as some servers send it.
func deflateReader(body []byte) (io.Reader, error) {
	if rd, err := zlib.NewReader(bytes.NewReader(body)); err == nil {
		return rd, nil
	}
	return flate.NewReader(bytes.NewReader(body)), nil
}

// decodeSample rebuilds a Sample from its columns.
func decodeSample(sm *Sample, row *pairRow) error {
	sm.At = time.Unix(0, row.at).UTC()
	sm.Outcome = Outcome(row.outcome)
	sm.Request = Request{Method: row.method, Host: row.host, Path: row.path, RawQuery: row.query, Body: row.reqBody}
	sm.RequestTruncated = row.reqTruncated
	var diffs []storedDiff
	err := errors.Join(
		json.Unmarshal([]byte(row.reqHeader), &sm.Request.Header),
		decodeResponse(&sm.Primary, row.primaryMeta, row.primaryBody),
		decodeResponse(&sm.Candidate, row.candidateMeta, row.candidateBody),
		json.Unmarshal([]byte(row.diffs), &diffs),
		json.Unmarshal([]byte(row.noisy), &sm.Noisy),
	)
	for _, d := range diffs {
		sm.Diffs = append(sm.Diffs, Difference{Kind: d.Kind, Path: d.Path, Field: d.Field, Primary: d.Primary, Candidate: d.Candidate})
	}
	return err
}

func decodeResponse(resp *Response, meta string, body []byte) error {
	var m storedResponse
	if err := json.Unmarshal([]byte(meta), &m); err != nil {
		return err
	}
	*resp = Response{
		Status: m.Status, Header: m.Header, Body: body, Truncated: m.Truncated,
		Latency: time.Duration(m.LatencyNs), Timeout: m.Timeout,
	}
	if m.Error != "" {
		resp.Err = errors.New(m.Error)
	}
	return nil
}
