package logship

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNew(t *testing.T) {
	tests := []struct {
		format  string
		opts    Options
		wantErr error
	}{
		{format: "nginx_combined"},
		{format: "nginx", opts: Options{LogFormat: `$remote_addr "$request" $status`}},
		{format: "json"},
		{format: "logfmt"},
		{format: "raw"},
		{format: "apache_combined", wantErr: ErrUnknownFormat},
		{format: "", wantErr: ErrUnknownFormat},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			p, err := New(tt.format, tt.opts)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("New(%q) error = %v, want %v", tt.format, err, tt.wantErr)
			}
			if (p == nil) == (err == nil) {
				t.Errorf("New(%q) = %v, %v", tt.format, p, err)
			}
		})
	}
}

func TestFormatsAreAccepted(t *testing.T) {
	for _, f := range Formats() {
		t.Run(f, func(t *testing.T) {
			if _, err := New(f, Options{LogFormat: CombinedFormat}); err != nil {
				t.Errorf("New(%q): %v", f, err)
			}
		})
	}
}

func TestRaw(t *testing.T) {
	tests := []lineTest{
		{name: "any text", line: "starting server on :8080\n", want: view{}},
		{name: "empty line", line: "", want: view{}},
		{name: "invalid utf-8", line: "\xff\xfe\x00", want: view{ParseError: "invalid utf-8"}, wantErr: ErrInvalidUTF8},
	}
	runLineTests(t, mustNew(t, "raw", Options{}), tests)
}

// TestRecordReuse parses lines into one Record, as a shipper does: nothing
// of a line may leak into the next one's record.
func TestRecordReuse(t *testing.T) {
	tests := []struct {
		format string
		first  string
		second string
		want   view
	}{
		{
			format: "nginx_combined",
			first:  `10.0.0.1 - bob [25/Nov/2026:13:55:36 +0000] "GET /a?b HTTP/1.1" 200 5 "https://r.example/" "ua \x22x\x22"`,
			second: `10.0.0.2 - - [25/Nov/2026:13:55:37 +0000] "\x16\x03" 400 0 "-" "-"`,
			want: view{Time: "2026-11-25T13:55:37Z", Status: 400, Present: HasBytes, RemoteAddr: "10.0.0.2",
				ParseError: "parsing $request: malformed request line"},
		},
		{
			format: "json",
			first:  `{"method":"GET","path":"/a","x":1,"y":{"z":"w"},"duration":1}`,
			second: `{"status":200,"x":2}`,
			want:   view{Status: 200, Fields: map[string]string{"x": "2"}},
		},
		{
			format: "logfmt",
			first:  `method=GET path=/a x=1 msg="a\tb"`,
			second: `status=200`,
			want:   view{Status: 200},
		},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			p := mustNew(t, tt.format, Options{})
			var rec Record
			if err := p.Parse([]byte(tt.first), &rec); err != nil {
				t.Fatalf("parsing the first line: %v", err)
			}
			err := p.Parse([]byte(tt.second), &rec)
			checkInvariants(t, []byte(tt.second), &rec, err)
			if diff := cmp.Diff(viewOf(&rec), tt.want); diff != "" {
				t.Errorf("second record (-got +want):\n%s", diff)
			}
		})
	}
}

// TestClone checks that a clone keeps its values when the line's buffer
// and the parser's scratch space are reused.
func TestClone(t *testing.T) {
	tests := []struct {
		format string
		line   string
	}{
		{"nginx_combined", `10.0.0.1 - bob [25/Nov/2026:13:55:36 +0000] "GET /caf\xC3\xA9?b HTTP/1.1" 200 5 "https://r.example/" "ua \x22x\x22"`},
		{"json", `{"method":"GET","path":"/a\u00e9?q","msg":"m\n","x":{"y":1}}`},
		{"logfmt", `method=GET path=/a msg="a\tb" x=1`},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			p := mustNew(t, tt.format, Options{})
			buf := []byte(tt.line)
			var rec Record
			if err := p.Parse(buf, &rec); err != nil {
				t.Fatalf("parsing: %v", err)
			}
			want := viewOf(&rec)
			want.Fields = maps(rec.Fields)
			clone := rec.Clone()
			copy(buf, strings.Repeat("#", len(buf)))
			if err := p.Parse([]byte(`{"status":1,"x":{"y":2}} z=9 "\x00\x00\x00\x00\x00"`), &rec); err == nil {
				t.Fatal("the overwriting line parsed")
			}
			if diff := cmp.Diff(viewOf(&clone), want); diff != "" {
				t.Errorf("clone (-got +want):\n%s", diff)
			}
			if string(clone.Raw) != tt.line {
				t.Errorf("clone.Raw = %q, want %q", clone.Raw, tt.line)
			}
		})
	}
}

func maps(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func TestTemplate(t *testing.T) {
	template := func(path string) string {
		if strings.HasPrefix(path, "/users/") {
			return "/users/:id"
		}
		return path
	}
	tests := []struct {
		name, format, line string
		want               string
	}{
		{"nginx", "nginx_combined", `10.0.0.1 - - [25/Nov/2026:13:55:36 +0000] "GET /users/42?x HTTP/1.1" 200 5 "-" "-"`, "/users/:id"},
		{"nginx without a path", "nginx_combined", `10.0.0.1 - - [25/Nov/2026:13:55:36 +0000] "\x16\x03" 400 5 "-" "-"`, ""},
		{"json", "json", `{"url":"/users/7"}`, "/users/:id"},
		{"json without a path", "json", `{"msg":"no request"}`, ""},
		{"logfmt", "logfmt", `path=/health`, "/health"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustNew(t, tt.format, Options{Template: template})
			rec, _ := parse(t, p, []byte(tt.line))
			if rec.Endpoint != tt.want {
				t.Errorf("Endpoint = %q, want %q", rec.Endpoint, tt.want)
			}
		})
	}
}
