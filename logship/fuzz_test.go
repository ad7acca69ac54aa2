package logship

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// Each fuzz target does two things with its inputs: it parses an arbitrary
// line (no panic, and the invariants of checkInvariants), and it writes a
// record made of the other inputs in its format, the way the real writer
// escapes it, and checks that parsing gives the record back.

// req holds the request fields a fuzz target writes into a line.
type req struct {
	method, path, query string
	status              uint16
	size                uint32
	sec                 int64
	nanos               uint32
	offMin              int16
}

// sanitized returns the request with values a writer could log: a token
// method, a path from '/' without '?', no spaces in the target, a status
// of three digits at most, a time between 1970 and 9999.
func (r req) sanitized() req {
	if !isToken([]byte(r.method)) || r.method == "-" {
		r.method = "GET"
	}
	r.path = "/" + strings.NewReplacer("?", "_", " ", "_").Replace(r.path)
	r.query = strings.ReplaceAll(r.query, " ", "+")
	r.status %= 1000
	const maxSec = 253402214399 // 9999-12-30T23:59:59Z: a day off still in 9999
	r.sec = (r.sec%maxSec + maxSec) % maxSec
	r.nanos %= 1e9
	r.offMin %= 24 * 60
	return r
}

func (r req) time(nanos bool) time.Time {
	t := time.Unix(r.sec, 0)
	if nanos {
		t = t.Add(time.Duration(r.nanos))
	}
	return t.In(time.FixedZone("", int(r.offMin)*60))
}

func (r req) target() string {
	if r.query == "" {
		return r.path
	}
	return r.path + "?" + r.query
}

// nginxEscape escapes a value as nginx's default log escaping does.
func nginxEscape(s string) string {
	var b strings.Builder
	for i := range len(s) {
		c := s[i]
		if c == '"' || c == '\\' || c < 0x20 || c >= 0x7f {
			fmt.Fprintf(&b, `\x%02X`, c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// nginxValue returns a logged value: "-" for nothing, else escaped.
func nginxValue(s string) string {
	if s == "" {
		return "-"
	}
	return nginxEscape(s)
}

// dash is what a Record holds for a value: "-" and "" are nothing.
func dash(s string) string {
	if s == "-" {
		return ""
	}
	return s
}

func checkRoundTrip(t *testing.T, p Parser, line string, want view) {
	t.Helper()
	rec, err := parse(t, p, []byte(line))
	if err != nil {
		t.Fatalf("parsing the written line %q: %v", line, err)
	}
	if diff := cmp.Diff(viewOf(rec), want); diff != "" {
		t.Fatalf("line %q (-got +want):\n%s", line, diff)
	}
}

func FuzzNginxCombined(f *testing.F) {
	p := mustNew(f, "nginx_combined", Options{})
	f.Add([]byte(`203.0.113.9 - - [25/Nov/2026:13:55:36 +0100] "GET /users/42?page=2 HTTP/1.1" 200 5123 "https://shop.example.com/" "Mozilla/5.0"`),
		uint32(0xCB007109), "alice", "GET", "users/42", "page=2", uint16(200), uint32(5123), "https://r.example/", "Mozilla/5.0 \"x\"", int64(1795614936), int16(60))
	f.Add([]byte(`203.0.113.9 - - [25/Nov/2026:13:55:36 +0100] "\x16\x03\x01" 400 157 "-" "-"`),
		uint32(1), "", "POST", "caf\xc3\xa9", "", uint16(404), uint32(0), "-", "", int64(-5), int16(-420))
	f.Add([]byte("\xff\x00 junk [ \" \\"), uint32(0), "a b [c", "G ET", "a?b c", "x y", uint16(999), uint32(1), "\\", "\x7f\x80", int64(1<<62), int16(1439))
	f.Fuzz(func(t *testing.T, line []byte, ip uint32, user, method, path, query string, status uint16, size uint32, referer, ua string, sec int64, offMin int16) {
		parse(t, p, line)

		r := req{method: method, path: path, query: query, status: status, size: size, sec: sec, offMin: offMin}.sanitized()
		addr := netip.AddrFrom4([4]byte{byte(ip >> 24), byte(ip >> 16), byte(ip >> 8), byte(ip)}).String()
		user = strings.ReplaceAll(user, " ", "_")
		ts := r.time(false)
		written := fmt.Sprintf(`%s - %s [%s] "%s %s HTTP/1.1" %d %d "%s" "%s"`,
			addr, nginxValue(user), ts.Format("02/Jan/2006:15:04:05 -0700"), r.method, nginxEscape(r.target()),
			r.status, r.size, nginxValue(referer), nginxValue(ua))
		checkRoundTrip(t, p, written, view{
			Time: ts.Format(time.RFC3339Nano), Method: r.method, Path: r.path, Query: r.query, Proto: "HTTP/1.1",
			Status: int(r.status), Bytes: int64(r.size), Present: HasBytes, RemoteAddr: addr,
			RemoteUser: dash(user), Referer: dash(referer), UserAgent: dash(ua),
		})
	})
}

// fuzzLogFormat is the custom format FuzzNginxFormat writes.
const fuzzLogFormat = `$remote_addr [$time_iso8601] "$request" $status $bytes_sent $request_time "$upstream_response_time" $host "$http_x_id"`

func FuzzNginxFormat(f *testing.F) {
	p := mustNew(f, "nginx", Options{LogFormat: fuzzLogFormat})
	f.Add(fuzzLogFormat, []byte(`10.0.0.1 [2026-11-25T13:55:36+00:00] "GET / HTTP/1.1" 200 12 0.005 "0.001, 0.004" a.example "x"`),
		"GET", "a", "b=c", uint16(200), uint32(12), uint32(5), uint32(1), uint32(4), "shop.example.com", "id-1", int64(1795614936), int16(0))
	f.Add(CombinedFormat+` $request_time $upstream_response_time`, []byte(`x - - [ "" 1 2 "" "" - -`),
		"PUT", "", "", uint16(0), uint32(0), uint32(0), uint32(0), uint32(0), "", "", int64(0), int16(-1))
	f.Add(`${a}$b ${c $`, []byte(`$ {`), "", "\x00", "\xff", uint16(65535), uint32(1<<32-1), uint32(1<<32-1), uint32(7), uint32(1<<32-1), "h h", `"\`, int64(-1), int16(-32768))
	f.Fuzz(func(t *testing.T, format string, line []byte, method, path, query string, status uint16, size, rtMs, up1Ms, up2Ms uint32, host, xid string, sec int64, offMin int16) {
		if fp, err := New("nginx", Options{LogFormat: format}); err == nil {
			parse(t, fp, line)
		}

		r := req{method: method, path: path, query: query, status: status, size: size, sec: sec, offMin: offMin}.sanitized()
		host = strings.ReplaceAll(host, " ", "_")
		ts := r.time(false)
		ms := func(n uint32) string { return fmt.Sprintf("%d.%03d", n/1000, n%1000) }
		written := fmt.Sprintf(`10.0.0.1 [%s] "%s %s HTTP/2.0" %d %d %s "%s, %s" %s "%s"`,
			ts.Format("2006-01-02T15:04:05-07:00"), r.method, nginxEscape(r.target()), r.status, r.size,
			ms(rtMs), ms(up1Ms), ms(up2Ms), nginxValue(host), nginxValue(xid))
		var fields map[string]string
		if xid = dash(xid); xid != "" {
			fields = map[string]string{"http_x_id": xid}
		}
		checkRoundTrip(t, p, written, view{
			Time: ts.Format(time.RFC3339Nano), Method: r.method, Path: r.path, Query: r.query, Proto: "HTTP/2.0",
			Status: int(r.status), Bytes: int64(r.size), Duration: time.Duration(rtMs) * time.Millisecond,
			Upstream: time.Duration(up2Ms) * time.Millisecond, Present: HasBytes | HasDuration | HasUpstream,
			RemoteAddr: "10.0.0.1", Host: dash(host), Fields: fields,
		})
	})
}

// text is a record's free-text values, written quoted.
type text struct{ host, ua, msg, key, value string }

func (x text) sanitized() text {
	x.host = strings.ToValidUTF8(x.host, "\uFFFD")
	x.ua = strings.ToValidUTF8(x.ua, "\uFFFD")
	x.msg = strings.ToValidUTF8(x.msg, "\uFFFD")
	x.value = strings.ToValidUTF8(x.value, "\uFFFD")
	x.key = "x_" + strings.Map(func(r rune) rune {
		if r <= ' ' || r == '=' || r == '"' || r == utf8.RuneError {
			return '_'
		}
		return r
	}, x.key)
	return x
}

// want returns the view of a written record.
func (x text) want(r req, dur time.Duration, extra map[string]string) view {
	return view{
		Time: r.time(true).Format(time.RFC3339Nano), Method: r.method, Path: r.path, Query: r.query,
		Status: int(r.status), Bytes: int64(r.size), Duration: dur, Present: HasBytes | HasDuration,
		Host: dash(x.host), UserAgent: dash(x.ua), Message: dash(x.msg), Fields: extra,
	}
}

func FuzzJSON(f *testing.F) {
	p := mustNew(f, "json", Options{})
	f.Add([]byte(`{"time":"2026-11-25T13:55:36.123+01:00","level":"info","method":"GET","path":"/a?b","status":200,"user":{"id":1},"tags":[1,{"a":null}]}`),
		"GET", "users/1", "q=1", uint16(200), uint32(10), uint32(1500), "h.example", "curl", "done", "id", "v", int64(1795614936), uint32(5), int16(90))
	f.Add([]byte(`{"a":"\ud83d\ude00\u00e9\/","b":-0.5e+3,"c":[true,false,null,"x"]} `),
		"DELETE", "<&>", "a=<b>", uint16(500), uint32(0), uint32(0), "", "-", "\u2028", "a.b", "", int64(0), uint32(0), int16(0))
	f.Add([]byte(`{"a":01}`), "", "", "", uint16(0), uint32(0), uint32(0), "\xff", "\x00", "\"", "=", "\\", int64(-1), uint32(1e9), int16(-1))
	f.Fuzz(func(t *testing.T, line []byte, method, path, query string, status uint16, size, durUs uint32, host, ua, msg, key, value string, sec int64, nanos uint32, offMin int16) {
		_, err := parse(t, p, line)
		checkJSONValidity(t, line, err)

		r := req{method: method, path: path, query: query, status: status, size: size, sec: sec, nanos: nanos, offMin: offMin}.sanitized()
		r.path, r.query = strings.ToValidUTF8(r.path, "_"), strings.ToValidUTF8(r.query, "_")
		x := text{host: host, ua: ua, msg: msg, key: key, value: value}.sanitized()
		obj := map[string]any{
			"time": r.time(true).Format(time.RFC3339Nano), "method": r.method, "url": r.target(),
			"status": r.status, "bytes": r.size, "latency_us": durUs, "host": x.host, "user_agent": x.ua,
			"msg": x.msg, x.key: x.value, "ctx": map[string]any{"k": x.value, "n": nil, "list": []int{1, 2}},
		}
		written, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		extra := map[string]string{x.key: x.value, "ctx.k": x.value, "ctx.list": "[1,2]"}
		checkRoundTrip(t, p, string(written), x.want(r, time.Duration(durUs)*time.Microsecond, extra))
	})
}

// checkJSONValidity compares the parser's verdict on a valid UTF-8 line
// with encoding/json's, for lines not nested too deep to tell.
func checkJSONValidity(t *testing.T, line []byte, err error) {
	t.Helper()
	trimmed := bytes.TrimSpace(line)
	if !utf8.Valid(line) || bytes.Count(line, []byte("{"))+bytes.Count(line, []byte("[")) > maxDepth {
		return
	}
	valid := json.Valid(trimmed) && trimmed[0] == '{'
	switch {
	case valid && err != nil:
		t.Fatalf("Parse(%q) = %v for a valid JSON object", line, err)
	case !valid && err == nil:
		t.Fatalf("Parse(%q) accepted a line that is not a JSON object", line)
	case !valid && len(trimmed) > 0 && !errors.Is(err, ErrSyntax):
		t.Fatalf("Parse(%q) = %v, want %v", line, err, ErrSyntax)
	}
}

func FuzzLogfmt(f *testing.F) {
	p := mustNew(f, "logfmt", Options{})
	f.Add([]byte(`time=2026-11-25T13:55:36.123+01:00 level=INFO msg="request \"done\"" method=GET path=/a status=200 duration=1.5ms`),
		"GET", "a", "b=c", uint16(200), uint32(12), uint32(1500), "h.example", "curl/8", "done", "id", "v", int64(1795614936), uint32(5), int16(60))
	f.Add([]byte(`a="b\x00" c= =d "e`), "P OST", "x y", "\"", uint16(1), uint32(1), uint32(1), "-", "", "\xff\xfe", "a b=c", "\\\"", int64(-1), uint32(1), int16(-1))
	f.Fuzz(func(t *testing.T, line []byte, method, path, query string, status uint16, size, durUs uint32, host, ua, msg, key, value string, sec int64, nanos uint32, offMin int16) {
		parse(t, p, line)

		r := req{method: method, path: path, query: query, status: status, size: size, sec: sec, nanos: nanos, offMin: offMin}.sanitized()
		x := text{host: host, ua: ua, msg: msg, key: key, value: value}.sanitized()
		dur := time.Duration(durUs) * time.Microsecond
		written := fmt.Sprintf(`time=%s method=%s path=%s status=%d bytes=%d duration=%s host=%s user_agent=%s msg=%s %s=%s`,
			r.time(true).Format(time.RFC3339Nano), r.method, strconv.Quote(r.target()), r.status, r.size, dur,
			strconv.Quote(x.host), strconv.Quote(x.ua), strconv.Quote(x.msg), x.key, strconv.Quote(x.value))
		checkRoundTrip(t, p, written, x.want(r, dur, map[string]string{x.key: x.value}))
	})
}
