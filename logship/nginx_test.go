package logship

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type lineTest struct {
	name    string
	line    string
	want    view
	wantErr error // nil for a parsed line
}

func runLineTests(t *testing.T, p Parser, tests []lineTest) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := parse(t, p, []byte(tt.line))
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Errorf("error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(viewOf(rec), tt.want); diff != "" {
				t.Errorf("record (-got +want):\n%s", diff)
			}
		})
	}
}

const firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"

func TestNginxCombined(t *testing.T) {
	p := mustNew(t, "nginx_combined", Options{})
	ok := view{
		Time: "2026-11-25T13:55:36+01:00", Method: "GET", Path: "/users/42/orders",
		Query: "page=2&sort=desc", Proto: "HTTP/1.1", Status: 200, Bytes: 5123, Present: HasBytes,
		RemoteAddr: "203.0.113.9", Referer: "https://shop.example.com/cart", UserAgent: firefox,
	}
	okLine := `203.0.113.9 - - [25/Nov/2026:13:55:36 +0100] "GET /users/42/orders?page=2&sort=desc HTTP/1.1" 200 5123 "https://shop.example.com/cart" "` + firefox + `"`
	with := func(f func(*view)) view {
		v := ok
		f(&v)
		return v
	}
	badRequest := func(v *view) {
		v.Method, v.Path, v.Query, v.Proto = "", "", "", ""
		v.ParseError = "parsing $request: malformed request line"
	}
	tests := []lineTest{
		{name: "default combined format", line: okLine, want: ok},
		{name: "line terminator", line: okLine + "\r\n", want: ok},
		{
			name: "user and ipv6 client and HTTP/2",
			line: `2001:db8::1 - alice [01/Jan/2026:00:00:00 -0700] "POST /api/v1/login HTTP/2.0" 201 0 "-" "curl/8.4.0"`,
			want: view{Time: "2026-01-01T00:00:00-07:00", Method: "POST", Path: "/api/v1/login", Proto: "HTTP/2.0",
				Status: 201, Present: HasBytes, RemoteAddr: "2001:db8::1", RemoteUser: "alice", UserAgent: "curl/8.4.0"},
		},
		{
			name: "quotes and backslashes escaped by nginx",
			line: strings.Replace(okLine, firefox, `sqlmap \x22x\x22 \x5Cn`, 1),
			want: with(func(v *view) { v.UserAgent = `sqlmap "x" \n` }),
		},
		{
			name: "quotes escaped with backslashes",
			line: strings.Replace(okLine, firefox, `agent \"quoted\" \\`, 1),
			want: with(func(v *view) { v.UserAgent = `agent "quoted" \` }),
		},
		{
			name: "non-ascii path escaped by nginx",
			line: strings.Replace(okLine, "/users/42/orders", `/caf\xC3\xA9/\x22`, 1),
			want: with(func(v *view) { v.Path = "/café/\"" }),
		},
		{
			name: "asterisk target",
			line: strings.Replace(okLine, "GET /users/42/orders?page=2&sort=desc", "OPTIONS *", 1),
			want: with(func(v *view) { v.Method, v.Path, v.Query = "OPTIONS", "*", "" }),
		},
		{
			name: "absolute target of a proxy request",
			line: strings.Replace(okLine, "GET /users", "GET http://shop.example.com/users", 1),
			want: ok,
		},
		{
			name: "connect",
			line: strings.Replace(okLine, "GET /users/42/orders?page=2&sort=desc", "CONNECT example.com:443", 1),
			want: with(func(v *view) { v.Method, v.Path, v.Query = "CONNECT", "", "" }),
		},
		{
			name: "HTTP/0.9 request line",
			line: strings.Replace(okLine, " HTTP/1.1", "", 1),
			want: with(func(v *view) { v.Proto = "" }),
		},
		{
			name: "unusual method",
			line: strings.Replace(okLine, "GET", "SSTP_DUPLEX_POST", 1),
			want: with(func(v *view) { v.Method = "SSTP_DUPLEX_POST" }),
		},
		{
			name:    "TLS handshake on the plain port",
			line:    `203.0.113.9 - - [25/Nov/2026:13:55:36 +0100] "\x16\x03\x01\x02\x00\x01\x00\x01\xFC\x03\x03" 400 157 "-" "-"`,
			want:    view{Time: ok.Time, Status: 400, Bytes: 157, Present: HasBytes, RemoteAddr: ok.RemoteAddr, ParseError: "parsing $request: malformed request line"},
			wantErr: ErrRequestLine,
		},
		{
			name:    "empty request line",
			line:    strings.Replace(okLine, "GET /users/42/orders?page=2&sort=desc HTTP/1.1", "", 1),
			want:    with(badRequest),
			wantErr: ErrRequestLine,
		},
		{
			name:    "request line of a dash",
			line:    strings.Replace(okLine, "GET /users/42/orders?page=2&sort=desc HTTP/1.1", "-", 1),
			want:    with(badRequest),
			wantErr: ErrRequestLine,
		},
		{
			name:    "request line of one word",
			line:    strings.Replace(okLine, "GET /users/42/orders?page=2&sort=desc HTTP/1.1", "quit", 1),
			want:    with(badRequest),
			wantErr: ErrRequestLine,
		},
		{
			name: "space in target keeps the parts",
			line: strings.Replace(okLine, "/users/42/orders", "/a b", 1),
			want: with(func(v *view) {
				v.Path, v.ParseError = "/a b", "parsing $request: malformed request line"
			}),
			wantErr: ErrRequestLine,
		},
		{
			name: "unknown protocol keeps the parts",
			line: strings.Replace(okLine, "HTTP/1.1", "JUNK/1", 1),
			want: with(func(v *view) {
				v.Proto, v.ParseError = "", "parsing $request: malformed request line"
			}),
			wantErr: ErrRequestLine,
		},
		{
			name: "fields appended to the combined format",
			line: okLine + ` 0.123 "198.51.100.7"`,
			want: ok,
		},
		{
			name: "truncated in the user agent",
			line: okLine[:len(okLine)-20],
			want: with(func(v *view) {
				v.UserAgent, v.ParseError = "", "line does not match the format"
			}),
			wantErr: ErrMismatch,
		},
		{
			name:    "truncated in the time",
			line:    okLine[:30],
			want:    view{RemoteAddr: ok.RemoteAddr, ParseError: "line does not match the format"},
			wantErr: ErrMismatch,
		},
		{name: "empty line", line: "", want: view{ParseError: "empty line"}, wantErr: ErrEmpty},
		{name: "newline only", line: "\n", want: view{ParseError: "empty line"}, wantErr: ErrEmpty},
		{
			name: "invalid utf-8 keeps the fields",
			line: strings.Replace(okLine, "Firefox", "Fire\xff\xfefox", 1),
			want: with(func(v *view) {
				v.UserAgent, v.ParseError = strings.Replace(firefox, "Firefox", "Fire\xff\xfefox", 1), "invalid utf-8"
			}),
			wantErr: ErrInvalidUTF8,
		},
		{
			name:    "binary junk",
			line:    "\x00\x01\x02\xff\xfe\x7f junk \x00",
			want:    view{ParseError: "invalid utf-8"},
			wantErr: ErrInvalidUTF8,
		},
		{
			name:    "a json line",
			line:    `{"status":200,"path":"/"}`,
			want:    view{ParseError: "line does not match the format"},
			wantErr: ErrMismatch,
		},
		{
			name:    "status that is not a number",
			line:    strings.Replace(okLine, " 200 ", " OK ", 1),
			want:    with(func(v *view) { v.Status, v.ParseError = 0, "parsing $status: malformed field" }),
			wantErr: ErrField,
		},
		{
			name:    "impossible date",
			line:    strings.Replace(okLine, "25/Nov", "31/Feb", 1),
			want:    with(func(v *view) { v.Time, v.ParseError = "", "parsing $time_local: malformed field" }),
			wantErr: ErrField,
		},
		{
			name: "huge user agent",
			line: strings.Replace(okLine, firefox, strings.Repeat("A", 1<<20), 1),
			want: with(func(v *view) { v.UserAgent = strings.Repeat("A", 1<<20) }),
		},
	}
	runLineTests(t, p, tests)
}

func TestNginxFormat(t *testing.T) {
	tests := []struct {
		name    string
		format  string
		line    string
		want    view
		wantErr error
	}{
		{
			name:   "timings after the combined format",
			format: CombinedFormat + ` $request_time $upstream_response_time`,
			line:   `10.0.0.1 - - [25/Nov/2026:13:55:36 +0000] "GET /healthz HTTP/1.1" 200 2 "-" "kube-probe/1.29" 0.031 0.010, 0.020`,
			want: view{Time: "2026-11-25T13:55:36Z", Method: "GET", Path: "/healthz", Proto: "HTTP/1.1", Status: 200,
				Bytes: 2, Duration: 31e6, Upstream: 20e6, Present: HasBytes | HasDuration | HasUpstream,
				RemoteAddr: "10.0.0.1", UserAgent: "kube-probe/1.29"},
		},
		{
			name:   "no upstream",
			format: `"$request" $status $request_time $upstream_response_time`,
			line:   `"GET / HTTP/1.1" 301 0.000 -`,
			want:   view{Method: "GET", Path: "/", Proto: "HTTP/1.1", Status: 301, Present: HasDuration},
		},
		{
			name:   "upstream times across an internal redirect",
			format: `"$request" $status urt="$upstream_response_time"`,
			line:   `"GET / HTTP/1.1" 200 urt="0.005, 0.010 : 0.030"`,
			want:   view{Method: "GET", Path: "/", Proto: "HTTP/1.1", Status: 200, Upstream: 30e6, Present: HasUpstream},
		},
		{
			name:   "host and extra variables",
			format: `$host "$request" $status $request_id "$http_x_forwarded_for" $ssl_protocol`,
			line:   `shop.example.com "GET / HTTP/1.1" 200 7f3c9a01 "198.51.100.7, 10.0.0.2" -`,
			want: view{Host: "shop.example.com", Method: "GET", Path: "/", Proto: "HTTP/1.1", Status: 200,
				Fields: map[string]string{"request_id": "7f3c9a01", "http_x_forwarded_for": "198.51.100.7, 10.0.0.2"}},
		},
		{
			name:   "http_host alone is the host",
			format: `$http_host $status`,
			line:   `shop.example.com:8080 200`,
			want:   view{Host: "shop.example.com:8080", Status: 200},
		},
		{
			name:   "host wins over http_host",
			format: `$http_host $host $status`,
			line:   `shop.example.com:8080 shop.example.com 200`,
			want:   view{Host: "shop.example.com", Status: 200, Fields: map[string]string{"http_host": "shop.example.com:8080"}},
		},
		{
			name:   "time_local without brackets",
			format: `$remote_addr $time_local $status`,
			line:   `10.0.0.1 25/Nov/2026:13:55:36 +0000 200`,
			want:   view{Time: "2026-11-25T13:55:36Z", RemoteAddr: "10.0.0.1", Status: 200},
		},
		{
			name:    "short time_local without brackets",
			format:  `$remote_addr $time_local $status`,
			line:    `10.0.0.1 25/Nov/2026 200`,
			want:    view{RemoteAddr: "10.0.0.1", ParseError: "line does not match the format"},
			wantErr: ErrMismatch,
		},
		{
			name:   "iso 8601 time",
			format: `[$time_iso8601] $status`,
			line:   `[2026-11-25T13:55:36+05:30] 200`,
			want:   view{Time: "2026-11-25T13:55:36+05:30", Status: 200},
		},
		{
			name:   "msec time",
			format: `$msec $status`,
			line:   `1795614936.123 200`,
			want:   view{Time: "2026-11-25T13:55:36.123Z", Status: 200},
		},
		{
			name:   "method, request_uri and protocol",
			format: `$request_method $request_uri $server_protocol $status`,
			line:   `DELETE /carts/9?force=1 HTTP/1.1 204`,
			want:   view{Method: "DELETE", Path: "/carts/9", Query: "force=1", Proto: "HTTP/1.1", Status: 204},
		},
		{
			name:   "uri and args",
			format: `$request_method $uri?$args $status`,
			line:   `GET /search?q=shoes 200`,
			want:   view{Method: "GET", Path: "/search", Query: "q=shoes", Status: 200},
		},
		{
			name:   "request wins over uri",
			format: `"$request" $uri $status`,
			line:   `"GET /a/../b HTTP/1.1" /b 200`,
			want:   view{Method: "GET", Path: "/a/../b", Proto: "HTTP/1.1", Status: 200, Fields: map[string]string{"uri": "/b"}},
		},
		{
			name:   "bytes_sent without body_bytes_sent",
			format: `$status $bytes_sent`,
			line:   `200 512`,
			want:   view{Status: 200, Bytes: 512, Present: HasBytes},
		},
		{
			name:   "braced and uppercase names",
			format: `${remote_addr}:[${TIME_LOCAL}] "$Request" $STATUS`,
			line:   `10.0.0.1:[25/Nov/2026:13:55:36 +0000] "GET / HTTP/1.1" 200`,
			want:   view{Time: "2026-11-25T13:55:36Z", RemoteAddr: "10.0.0.1", Method: "GET", Path: "/", Proto: "HTTP/1.1", Status: 200},
		},
		{
			name:   "json-shaped format with escape=json",
			format: `{"addr":"$remote_addr","req":"$request","ua":"$http_user_agent","status":$status}`,
			line:   `{"addr":"10.0.0.1","req":"GET / HTTP/1.1","ua":"say \"hi\",\"x\":1","status":200}`,
			want:   view{RemoteAddr: "10.0.0.1", Method: "GET", Path: "/", Proto: "HTTP/1.1", UserAgent: `say "hi","x":1`, Status: 200},
		},
		{
			name:    "line without the leading literal",
			format:  `[$time_local] $status`,
			line:    `25/Nov/2026:13:55:36 +0000] 200`,
			want:    view{ParseError: "line does not match the format"},
			wantErr: ErrMismatch,
		},
		{
			name:    "request time that is not a number",
			format:  `$status $request_time`,
			line:    `200 fast`,
			want:    view{Status: 200, ParseError: "parsing $request_time: malformed field"},
			wantErr: ErrField,
		},
		{
			name:    "request_uri that is not a target",
			format:  `$request_uri $status`,
			line:    `index.html 200`,
			want:    view{Status: 200, ParseError: "parsing $request_uri: malformed request line"},
			wantErr: ErrRequestLine,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustNew(t, "nginx", Options{LogFormat: tt.format})
			rec, err := parse(t, p, []byte(tt.line))
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Errorf("error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(viewOf(rec), tt.want); diff != "" {
				t.Errorf("record (-got +want):\n%s", diff)
			}
		})
	}
}

func TestNginxFormatErrors(t *testing.T) {
	tests := []struct {
		name   string
		format string
		want   string
	}{
		{"missing", "", "creating nginx parser: a log_format string is required"},
		{"no variable", "- - -", `compiling log_format: "- - -" has no variable`},
		{"adjacent variables", "$remote_addr$remote_user", "compiling log_format: $remote_user follows $remote_addr with nothing between them"},
		{"lone dollar", "$status $ x", `compiling log_format: byte 8: "$ " does not start a variable name`},
		{"dollar at the end", "$status $", `compiling log_format: byte 8: "$" does not start a variable name`},
		{"empty braces", "${} $status", `compiling log_format: byte 0: "${" does not start a variable name`},
		{"unclosed brace", "$status ${host", `compiling log_format: byte 8: "${" does not start a variable name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New("nginx", Options{LogFormat: tt.format})
			if err == nil {
				t.Fatalf("New succeeded, want %q", tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestNginxAllocs guards the steady state of the nginx formats: once the
// Record and the parser's scratch space have grown, a line allocates
// nothing (the custom format's one extra variable costs its string).
func TestNginxAllocs(t *testing.T) {
	tests := []struct {
		format string
		want   float64
	}{
		{"nginx_combined", 0},
		{"nginx", 1},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			p := mustNew(t, tt.format, Options{LogFormat: benchLogFormat})
			lines := benchLines(tt.format, 64)
			escaped := []byte(`10.0.0.1 - bob [25/Nov/2026:13:55:36 +0000] "GET /caf\xC3\xA9 HTTP/1.1" 200 5 "-" "ua \x22x\x22" 0.1 "-" h id`)
			lines = append(lines, escaped)
			var rec Record
			for _, l := range lines {
				p.Parse(l, &rec)
			}
			i := 0
			got := testing.AllocsPerRun(len(lines)*4, func() {
				p.Parse(lines[i%len(lines)], &rec)
				i++
			})
			if got != tt.want {
				t.Errorf("allocations per line = %v, want %v", got, tt.want)
			}
		})
	}
}
