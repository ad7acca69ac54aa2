package logship

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// The OTLP deliverer posts to an OpenTelemetry collector's OTLP/HTTP logs
// endpoint, POST <url>/v1/logs, a gzipped JSON ExportLogsServiceRequest:
// one resourceLogs per app, side and host (resource attributes
// service.name, migrate.side, host.name), one scopeLogs (scope
// migrate/logship), and per event a logRecord with timeUnixNano (event
// time), observedTimeUnixNano (when it is shipped), severityNumber and
// severityText from the line's level, the raw line as body, and the
// event's labels and parsed fields as attributes (log.file.path,
// log.record.uid, the http.* and url.path conventions, migrate.*, and the
// line's extra fields under their own keys).
//
// Answers, as the OTLP/HTTP specification says: 200 accepts the batch,
// unless its partialSuccess counts rejected log records. The
// specification does not say which records were rejected and forbids
// sending them again, so the deliverer rejects the whole batch: every
// event goes to the dead-letter file with the collector's message and
// the count it gave, so that the rejected ones are kept, with duplicates
// of accepted ones. 429, 502, 503 and 504 are retryable, honouring
// Retry-After; 413 splits the batch; 400 and the other statuses reject
// it, except 401, 403 and 404, which wait for a fixed key or URL.

// OTLPLogsPath is the path of the OTLP/HTTP logs endpoint.
const OTLPLogsPath = "/v1/logs"

// otlpDeliverer is the Deliverer of NewOTLPDeliverer.
type otlpDeliverer struct {
	p      *httpPoster
	body   []byte
	groups streamGroups
	keys   []string
}

// NewOTLPDeliverer returns a Deliverer for the OTLP/HTTP logs endpoint of
// the collector at opts.URL.
func NewOTLPDeliverer(opts HTTPOptions) (Deliverer, error) {
	p, err := newHTTPPoster("otlp", OTLPLogsPath, opts)
	if err != nil {
		return nil, err
	}
	return &otlpDeliverer{p: p}, nil
}

// Deliver implements Deliverer.
func (d *otlpDeliverer) Deliver(ctx context.Context, batch []Event) error {
	d.body = d.appendRequest(d.body[:0], batch)
	a, err := d.p.post(ctx, d.body, "application/json", nil)
	if err != nil {
		return err
	}
	if err := d.p.classify("otlp", a, otlpRetryable); err != nil {
		return err
	}
	return otlpPartial(a.body, len(batch))
}

func otlpRetryable(s int) bool {
	switch s {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// otlpAnswer is the part of an ExportLogsServiceResponse the deliverer
// reads. Int64 values are strings in OTLP/JSON; numbers are accepted too.
type otlpAnswer struct {
	PartialSuccess *struct {
		RejectedLogRecords json.Number `json:"rejectedLogRecords"`
		ErrorMessage       string      `json:"errorMessage"`
	} `json:"partialSuccess"`
}

// otlpPartial reads a 200 answer for a batch of n events.
func otlpPartial(body []byte, n int) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil
	}
	var ans otlpAnswer
	if err := json.Unmarshal(body, &ans); err != nil || ans.PartialSuccess == nil {
		return nil // accepted; an answer we cannot read does not undo that
	}
	ps := ans.PartialSuccess
	rejected, err := strconv.ParseInt(strings.Trim(string(ps.RejectedLogRecords), `"`), 10, 64)
	if err != nil || rejected <= 0 {
		return nil // a warning at most (errorMessage without rejections)
	}
	return &RejectedError{Reason: fmt.Sprintf("otlp partial success: %d of %d log records rejected: %s",
		rejected, n, ps.ErrorMessage)}
}

// appendRequest appends the ExportLogsServiceRequest of batch.
func (d *otlpDeliverer) appendRequest(dst []byte, batch []Event) []byte {
	observed := strconv.FormatInt(d.p.clock.Now().UnixNano(), 10)
	d.groups.group(batch)
	dst = append(dst, `{"resourceLogs":[`...)
	for gi, g := range d.groups.list {
		if gi > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"resource":{"attributes":[`...)
		dst = otlpStringAttr(dst, '{', "service.name", g.key.app)
		dst = otlpStringAttr(dst, ',', "migrate.side", g.key.side)
		dst = otlpStringAttr(dst, ',', "host.name", g.key.host)
		dst = append(dst, `]},"scopeLogs":[{"scope":{"name":"migrate/logship"},"logRecords":[`...)
		for i, ei := range g.idx {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = d.appendRecord(dst, &batch[ei], observed)
		}
		dst = append(dst, "]}]}"...)
	}
	return append(dst, "]}"...)
}

// appendRecord appends the logRecord of e.
func (d *otlpDeliverer) appendRecord(dst []byte, e *Event, observed string) []byte {
	dst = append(dst, `{"timeUnixNano":"`...)
	dst = strconv.AppendInt(dst, e.Time.UnixNano(), 10)
	dst = append(dst, `","observedTimeUnixNano":"`...)
	dst = append(dst, observed...)
	dst = append(dst, '"')
	if r := &e.Record; r.Level != "" {
		dst = strconv.AppendInt(encKey(dst, ',', "severityNumber"), int64(otlpSeverity(r.Level)), 10)
		dst = encField(dst, "severityText", r.Level)
	}
	dst = append(dst, `,"body":{"stringValue":`...)
	dst = encBytes(dst, e.Record.Raw)
	dst = append(dst, `},"attributes":[`...)
	dst = d.appendAttributes(dst, e)
	return append(dst, ']', '}')
}

// appendAttributes appends the attributes of e.
func (d *otlpDeliverer) appendAttributes(dst []byte, e *Event) []byte {
	r := &e.Record
	dst = otlpStringAttr(dst, '{', "log.file.path", e.File)
	dst = otlpStringAttr(dst, ',', "log.record.uid", e.ID)
	dst = otlpIntAttr(dst, "migrate.offset", e.Offset)
	dst = otlpOptAttr(dst, "http.request.method", r.Method)
	if r.Path != nil {
		dst = otlpBytesAttr(dst, "url.path", r.Path)
	}
	dst = otlpOptAttr(dst, "http.route", r.Endpoint)
	if r.Status != 0 {
		dst = otlpIntAttr(dst, "http.response.status_code", int64(r.Status))
	}
	if r.Present&HasBytes != 0 {
		dst = otlpIntAttr(dst, "http.response.body.size", r.Bytes)
	}
	if r.Present&HasDuration != 0 {
		dst = encSeconds(otlpAttrKey(dst, "migrate.duration_seconds", "doubleValue"), r.Duration)
		dst = append(dst, '}', '}')
	}
	if r.Present&HasUpstream != 0 {
		dst = encSeconds(otlpAttrKey(dst, "migrate.upstream_seconds", "doubleValue"), r.Upstream)
		dst = append(dst, '}', '}')
	}
	if r.Message != nil {
		dst = otlpBytesAttr(dst, "migrate.message", r.Message)
	}
	dst = otlpOptAttr(dst, "migrate.parse_error", r.ParseError)
	dst = otlpBoolAttr(dst, "migrate.split", e.Split)
	dst = otlpBoolAttr(dst, "migrate.unterminated", e.Unterminated)
	return d.appendFields(dst, r.Fields)
}

// appendFields appends a line's extra fields, sorted by key.
func (d *otlpDeliverer) appendFields(dst []byte, fields map[string]string) []byte {
	d.keys = d.keys[:0]
	for k := range fields {
		d.keys = append(d.keys, k)
	}
	slices.Sort(d.keys)
	for _, k := range d.keys {
		dst = otlpStringAttr(dst, ',', k, fields[k])
	}
	return dst
}

// otlpAttrKey appends `,{"key":<key>,"value":{"<typ>":`.
func otlpAttrKey(dst []byte, key, typ string) []byte {
	return otlpAttrStart(append(dst, ','), key, typ)
}

func otlpAttrStart(dst []byte, key, typ string) []byte {
	dst = encKey(dst, '{', "key")
	dst = encString(dst, key)
	dst = encKey(dst, ',', "value")
	return encKey(dst, '{', typ)
}

func otlpStringAttr(dst []byte, sep byte, key, v string) []byte {
	if sep != '{' {
		dst = append(dst, sep)
	}
	dst = encString(otlpAttrStart(dst, key, "stringValue"), v)
	return append(dst, '}', '}')
}

func otlpBytesAttr(dst []byte, key string, v []byte) []byte {
	dst = encBytes(otlpAttrKey(dst, key, "stringValue"), v)
	return append(dst, '}', '}')
}

func otlpOptAttr(dst []byte, key, v string) []byte {
	if v == "" {
		return dst
	}
	return otlpStringAttr(dst, ',', key, v)
}

// otlpIntAttr appends an intValue, a string in OTLP/JSON.
func otlpIntAttr(dst []byte, key string, v int64) []byte {
	dst = append(otlpAttrKey(dst, key, "intValue"), '"')
	dst = strconv.AppendInt(dst, v, 10)
	return append(dst, '"', '}', '}')
}

func otlpBoolAttr(dst []byte, key string, v bool) []byte {
	if !v {
		return dst
	}
	return append(otlpAttrKey(dst, key, "boolValue"), "true}}"...)
}

// otlpSeverity maps a level to an OTLP SeverityNumber: the first of its
// range (TRACE 1, DEBUG 5, INFO 9, WARN 13, ERROR 17, FATAL 21), 0
// (unspecified) for a level it does not know.
func otlpSeverity(level string) int {
	switch strings.ToLower(level) {
	case "trace":
		return 1
	case "debug", "dbug":
		return 5
	case "info", "information", "notice":
		return 9
	case "warn", "warning":
		return 13
	case "error", "err":
		return 17
	case "fatal", "critical", "crit", "panic", "alert", "emerg", "emergency":
		return 21
	}
	return 0
}

// Close implements io.Closer.
func (d *otlpDeliverer) Close() error { return d.p.Close() }
