package logship

import (
	"strings"
	"testing"
	"time"
)

func TestJSON(t *testing.T) {
	syntax := view{ParseError: "malformed line"}
	tests := []lineTest{
		{
			name: "application access log",
			line: `{"time":"2026-11-25T13:55:36.123456789+01:00","level":"info","msg":"request","method":"GET","path":"/users/42?expand=orders","status":200,"bytes":5123,"duration":0.0125,"remote_addr":"203.0.113.9","user_agent":"curl/8.4.0","request_id":"7f3c9a01","user":{"id":42,"plan":{"name":"pro"}},"tags":["a","b"],"cached":false,"trace":null}`,
			want: view{Time: "2026-11-25T13:55:36.123456789+01:00", Level: "info", Message: "request", Method: "GET",
				Path: "/users/42", Query: "expand=orders", Status: 200, Bytes: 5123, Duration: 12500 * time.Microsecond,
				Present: HasBytes | HasDuration, RemoteAddr: "203.0.113.9", UserAgent: "curl/8.4.0",
				Fields: map[string]string{"request_id": "7f3c9a01", "user.id": "42", "user.plan.name": "pro",
					"tags": `["a","b"]`, "cached": "false"}},
		},
		{
			name: "nginx log_format with escape=json",
			line: `{"time_local":"25/Nov/2026:13:55:36 +0000","remote_addr":"10.0.0.1","remote_user":"","request":"GET /a?b=c HTTP/1.1","status":"404","body_bytes_sent":"153","request_time":"0.002","upstream_response_time":"0.001, 0.002","http_referer":"","http_user_agent":"say \"hi\"","host":"shop.example.com"}`,
			want: view{Time: "2026-11-25T13:55:36Z", RemoteAddr: "10.0.0.1", Method: "GET", Path: "/a", Query: "b=c",
				Proto: "HTTP/1.1", Status: 404, Bytes: 153, Duration: 2 * time.Millisecond, Upstream: 2 * time.Millisecond,
				Present: HasBytes | HasDuration | HasUpstream, UserAgent: `say "hi"`, Host: "shop.example.com"},
		},
		{
			name: "elastic common schema",
			line: `{"@timestamp":"2026-11-25T12:55:36.5Z","log.level":"warn","message":"slow","http":{"request":{"method":"POST","referrer":"https://a.example/"},"response":{"status_code":201,"body":{"bytes":7}}},"url":{"path":"/orders","query":"x=1","domain":"shop.example.com"},"client":{"ip":"198.51.100.7"},"user_agent":{"original":"Go-http-client/1.1"},"event":{"duration":1500000}}`,
			want: view{Time: "2026-11-25T12:55:36.5Z", Level: "warn", Message: "slow", Method: "POST",
				Referer: "https://a.example/", Status: 201, Bytes: 7, Path: "/orders", Query: "x=1",
				Host: "shop.example.com", RemoteAddr: "198.51.100.7", UserAgent: "Go-http-client/1.1",
				Duration: 1500 * time.Microsecond, Present: HasBytes | HasDuration},
		},
		{
			name: "pino-http",
			line: `{"level":30,"time":1795614936123,"req":{"method":"GET","url":"/cart?id=3","remoteAddress":"::1"},"res":{"statusCode":200},"responseTime":4,"msg":"request completed"}`,
			want: view{Level: "30", Time: "2026-11-25T13:55:36.123Z", Method: "GET", Path: "/cart", Query: "id=3",
				RemoteAddr: "::1", Status: 200, Duration: 4 * time.Millisecond, Present: HasDuration, Message: "request completed"},
		},
		{
			name: "zap epoch seconds and duration with a unit",
			line: `{"ts":1795614936.25,"level":"ERROR","msg":"upstream failed","url":"https://shop.example.com/pay","latency":"1.5s","status_code":502}`,
			want: view{Time: "2026-11-25T13:55:36.25Z", Level: "ERROR", Message: "upstream failed", Path: "/pay",
				Duration: 1500 * time.Millisecond, Present: HasDuration, Status: 502},
		},
		{
			name: "zoneless time with a comma fraction",
			line: `{"time":"2026-11-25 13:55:36,250","msg":"x"}`,
			want: view{Time: "2026-11-25T13:55:36.25Z", Message: "x"},
		},
		{
			name: "escapes in keys and values",
			line: `{"m\u0073g":"caf\u00e9 \ud83d\ude00 \ud800 \/ \n","k\"ey":"v\\"}`,
			want: view{Message: "café 😀 \ufffd / \n", Fields: map[string]string{`k"ey`: `v\`}},
		},
		{
			name: "known key with another meaning stays in fields",
			line: `{"status":"ok","path":"config.yaml","duration":"forever","level":"info"}`,
			want: view{Level: "info", Fields: map[string]string{"status": "ok", "path": "config.yaml", "duration": "forever"}},
		},
		{
			name: "dash and empty values are no value",
			line: `{"status":200,"upstream_response_time":"-","http_referer":"-","remote_user":""}`,
			want: view{Status: 200},
		},
		{
			name: "whitespace and duplicate keys",
			line: " \t{ \"status\" : 200 , \"status\" : 404 }  \r\n",
			want: view{Status: 404},
		},
		{name: "empty object", line: `{}`, want: view{}},
		{name: "empty line", line: "", want: view{ParseError: "empty line"}, wantErr: ErrEmpty},
		{name: "blank line", line: "  \t ", want: view{ParseError: "empty line"}, wantErr: ErrEmpty},
		{name: "array", line: `[1,2]`, want: syntax, wantErr: ErrSyntax},
		{name: "plain text", line: `starting server on :8080`, want: syntax, wantErr: ErrSyntax},
		{
			name:    "truncated keeps what parsed",
			line:    `{"status":200,"path":"/a","msg":"cut he`,
			want:    view{Status: 200, Path: "/a", ParseError: "malformed line"},
			wantErr: ErrSyntax,
		},
		{
			name:    "trailing garbage",
			line:    `{"status":200} {"status":201}`,
			want:    view{Status: 200, ParseError: "malformed line"},
			wantErr: ErrSyntax,
		},
		{
			name:    "leading zero",
			line:    `{"n":01}`,
			want:    view{Fields: map[string]string{"n": "0"}, ParseError: "malformed line"},
			wantErr: ErrSyntax,
		},
		{name: "bad escape", line: `{"n":"\q"}`, want: syntax, wantErr: ErrSyntax},
		{name: "control character in a string", line: "{\"n\":\"a\tb\"}", want: syntax, wantErr: ErrSyntax},
		{name: "single quotes", line: `{'n':1}`, want: syntax, wantErr: ErrSyntax},
		{name: "bad array", line: `{"a":[1,]}`, want: syntax, wantErr: ErrSyntax},
		{
			name:    "too deep",
			line:    `{"a":` + strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1) + `}`,
			want:    syntax,
			wantErr: ErrSyntax,
		},
		{
			name:    "invalid utf-8 keeps the fields",
			line:    "{\"msg\":\"caf\xe9\",\"status\":200}",
			want:    view{Message: "caf\xe9", Status: 200, ParseError: "invalid utf-8"},
			wantErr: ErrInvalidUTF8,
		},
	}
	runLineTests(t, mustNew(t, "json", Options{}), tests)
}

func TestJSONDeepObjects(t *testing.T) {
	p := mustNew(t, "json", Options{})
	deep := func(n int) string {
		return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n)
	}
	tests := []struct {
		name  string
		line  string
		wantK string // the flattened key of the leaf; "" for a syntax error
	}{
		{"at the limit", deep(maxDepth), strings.TrimSuffix(strings.Repeat("a.", maxDepth), ".")},
		{"over the limit", deep(maxDepth + 1), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := parse(t, p, []byte(tt.line))
			if got, want := err != nil, tt.wantK == ""; got != want {
				t.Fatalf("error = %v", err)
			}
			if tt.wantK != "" && rec.Fields[tt.wantK] != "1" {
				t.Errorf("Fields = %v, want %s=1", rec.Fields, tt.wantK)
			}
		})
	}
}
