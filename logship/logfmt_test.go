package logship

import (
	"testing"
	"time"
)

func TestLogfmt(t *testing.T) {
	syntax := func(v view) view {
		v.ParseError = "malformed line"
		return v
	}
	tests := []lineTest{
		{
			name: "slog text handler",
			line: `time=2026-11-25T13:55:36.123+01:00 level=INFO msg="request done" method=GET path=/users/42 query="a=1&b=2" status=200 bytes=512 duration=12.5ms remote_addr=203.0.113.9 user_agent="curl/8.4.0" request_id=7f3c9a01`,
			want: view{Time: "2026-11-25T13:55:36.123+01:00", Level: "INFO", Message: "request done", Method: "GET",
				Path: "/users/42", Query: "a=1&b=2", Status: 200, Bytes: 512, Duration: 12500 * time.Microsecond,
				Present: HasBytes | HasDuration, RemoteAddr: "203.0.113.9", UserAgent: "curl/8.4.0",
				Fields: map[string]string{"request_id": "7f3c9a01"}},
		},
		{
			name: "go-kit with escapes",
			line: `ts=2026-11-25T12:55:36Z caller=main.go:42 msg="said \"hi\"\n\ttwice \u00e9 \xff" err=null`,
			want: view{Time: "2026-11-25T12:55:36Z", Message: "said \"hi\"\n\ttwice é \xff",
				Fields: map[string]string{"caller": "main.go:42", "err": "null"}},
		},
		{
			name: "bare keys, empty values and tabs",
			line: "debug\tlevel=debug  msg= upstream_response_time=\"0.010, 0.020\" x=\"\"",
			want: view{Level: "debug", Upstream: 20 * time.Millisecond, Present: HasUpstream,
				Fields: map[string]string{"debug": "", "x": ""}},
		},
		{
			name: "equals and quotes inside a bare value",
			line: `url=/a?b=c&d="e" status=301`,
			want: view{Path: "/a", Query: `b=c&d="e"`, Status: 301},
		},
		{
			name: "dotted keys",
			line: `http.request.method=PUT url.path=/x http.response.status_code=204 event.duration=2000`,
			want: view{Method: "PUT", Path: "/x", Status: 204, Duration: 2 * time.Microsecond, Present: HasDuration},
		},
		{name: "empty line", line: "", want: view{ParseError: "empty line"}, wantErr: ErrEmpty},
		{name: "blank line", line: " \t", want: view{ParseError: "empty line"}, wantErr: ErrEmpty},
		{
			name:    "plain text",
			line:    "panic: runtime error",
			want:    syntax(view{Fields: map[string]string{"panic:": "", "runtime": "", "error": ""}}),
			wantErr: ErrSyntax,
		},
		{
			name:    "unterminated quote keeps what parsed",
			line:    `status=200 msg="cut her`,
			want:    syntax(view{Status: 200}),
			wantErr: ErrSyntax,
		},
		{name: "value without a key", line: `=x status=200`, want: syntax(view{}), wantErr: ErrSyntax},
		{
			name:    "text glued to a quoted value",
			line:    `status=200 msg="a"b level=info`,
			want:    syntax(view{Status: 200}),
			wantErr: ErrSyntax,
		},
		{
			name:    "quote in a key",
			line:    `status=200 ms"g=x`,
			want:    syntax(view{Status: 200}),
			wantErr: ErrSyntax,
		},
		{
			name:    "invalid utf-8 keeps the fields",
			line:    "status=200 msg=caf\xe9",
			want:    view{Status: 200, Message: "caf\xe9", ParseError: "invalid utf-8"},
			wantErr: ErrInvalidUTF8,
		},
	}
	runLineTests(t, mustNew(t, "logfmt", Options{}), tests)
}
