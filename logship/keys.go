package logship

import (
	"bytes"
	"time"
)

// The key names that json and logfmt lines use for the fields of a Record,
// and how their values are read. Keys are matched exactly, after nested
// json objects are flattened with dots ("http.request.method").

// kind is the Record field a key fills.
type kind uint8

const (
	kindExtra kind = iota // kept in Record.Fields
	kindTime
	kindRequest // a whole request line
	kindMethod
	kindTarget // a path or URL, with its query if any
	kindQuery
	kindProto
	kindStatus
	kindBytes
	kindSeconds // a duration: seconds, or text with a unit ("12ms")
	kindMillis
	kindMicros
	kindNanos
	kindUpstream
	kindHost
	kindRemoteAddr
	kindRemoteUser
	kindReferer
	kindUserAgent
	kindLevel
	kindMessage
)

// kindOf returns the field a key fills. The names cover nginx's variables
// (as logged by JSON log_formats), common logger conventions (zap, zerolog,
// slog, logrus, pino-http) and Elastic Common Schema.
func kindOf(key []byte) kind {
	switch string(key) {
	case "time", "timestamp", "ts", "@timestamp", "datetime", "time_local", "time_iso8601", "msec":
		return kindTime
	case "request":
		return kindRequest
	case "method", "request_method", "http_method", "http.request.method", "req.method":
		return kindMethod
	case "path", "uri", "url", "request_uri", "request_path", "url.path", "url.original", "req.url":
		return kindTarget
	case "query", "args", "query_string", "url.query":
		return kindQuery
	case "proto", "protocol", "server_protocol":
		return kindProto
	case "status", "status_code", "statusCode", "http_status", "http.response.status_code", "res.statusCode":
		return kindStatus
	case "bytes", "size", "body_bytes_sent", "bytes_sent", "response_size", "http.response.body.bytes":
		return kindBytes
	case "duration", "request_time", "latency", "elapsed", "response_time":
		return kindSeconds
	case "duration_ms", "latency_ms", "elapsed_ms", "response_time_ms", "request_time_ms", "responseTime":
		return kindMillis
	case "duration_us", "latency_us":
		return kindMicros
	case "duration_ns", "latency_ns", "event.duration":
		return kindNanos
	case "upstream_response_time", "upstream_time":
		return kindUpstream
	case "host", "http_host", "url.domain":
		return kindHost
	case "remote_addr", "remote_ip", "client_ip", "client_addr", "clientip", "client.ip", "source.ip", "req.remoteAddress":
		return kindRemoteAddr
	case "remote_user":
		return kindRemoteUser
	case "referer", "referrer", "http_referer", "http.request.referrer":
		return kindReferer
	case "user_agent", "http_user_agent", "useragent", "userAgent", "user_agent.original":
		return kindUserAgent
	case "level", "lvl", "severity", "log.level":
		return kindLevel
	case "msg", "message":
		return kindMessage
	}
	return kindExtra
}

// keyed holds what the json and logfmt parsers share: their options, the
// scratch buffer for unescaped values and the zone cache.
type keyed struct {
	opts    Options
	scratch []byte
	zones   zoneCache
}

// text returns a value's contents, unescaped into the scratch buffer when
// it has escapes.
func (k *keyed) text(v []byte, hasEscapes bool) []byte {
	if !hasEscapes {
		return v
	}
	start := len(k.scratch)
	k.scratch = unescape(k.scratch, v)
	return k.scratch[start:len(k.scratch):len(k.scratch)]
}

// assign stores the value v of key in rec. A value that does not read as
// the key's field (a "status" of "ok") is kept in Fields, not reported as
// an error: application logs use these names for other things too.
func (k *keyed) assign(rec *Record, key, v []byte) {
	kd := kindOf(key)
	if kd == kindExtra || !k.assignKnown(rec, kd, v) {
		setField(rec, string(key), v)
	}
}

// assignKnown stores v in the field of kind kd and reports whether it
// could. An empty value and "-" are no value.
func (k *keyed) assignKnown(rec *Record, kd kind, v []byte) bool {
	if len(v) == 0 || len(v) == 1 && v[0] == '-' {
		return true
	}
	switch kd {
	case kindTime:
		t, ok := parseTime(v, &k.zones)
		if ok {
			rec.Time = t
		}
		return ok
	case kindRequest:
		return parseRequest(rec, v) == nil
	case kindMethod:
		if !isToken(v) {
			return false
		}
		rec.Method = internMethod(v)
	case kindTarget:
		return setTarget(rec, v)
	case kindQuery:
		rec.Query = bytes.TrimPrefix(v, []byte("?"))
	case kindProto:
		p := internProto(v)
		rec.Proto = p
		return p != ""
	case kindStatus:
		n, ok := parseUint(v)
		if !ok || n > 999 {
			return false
		}
		rec.Status = int(n)
	default:
		return k.assignOther(rec, kd, v)
	}
	return true
}

// assignOther stores the sizes, durations and text fields.
func (k *keyed) assignOther(rec *Record, kd kind, v []byte) bool {
	switch kd {
	case kindBytes:
		n, ok := parseUint(v)
		if !ok {
			return false
		}
		rec.Bytes, rec.Present = n, rec.Present|HasBytes
	case kindSeconds, kindMillis, kindMicros, kindNanos:
		d, ok := parseDurationText(v, unitOf(kd))
		if !ok {
			return false
		}
		rec.Duration, rec.Present = d, rec.Present|HasDuration
	case kindUpstream:
		last := lastUpstream(v)
		if string(last) == "-" {
			return true
		}
		d, ok := parseDurationText(last, time.Second)
		if !ok {
			return false
		}
		rec.Upstream, rec.Present = d, rec.Present|HasUpstream
	case kindHost:
		rec.Host = v
	case kindRemoteAddr:
		rec.RemoteAddr = v
	case kindRemoteUser:
		rec.RemoteUser = v
	case kindReferer:
		rec.Referer = v
	case kindUserAgent:
		rec.UserAgent = v
	case kindLevel:
		rec.Level = internLevel(v)
	case kindMessage:
		rec.Message = v
	}
	return true
}

func unitOf(kd kind) time.Duration {
	switch kd {
	case kindMillis:
		return time.Millisecond
	case kindMicros:
		return time.Microsecond
	case kindNanos:
		return time.Nanosecond
	}
	return time.Second
}
