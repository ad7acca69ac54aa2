package hostport

import (
	"net/url"
	"testing"
)

func TestOf(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://b", "b:80"},
		{"https://b", "b:443"},
		{"http://b:8080/x", "b:8080"},
		{"https://[::1]/", "[::1]:443"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			u, err := url.Parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := Of(u); got != tt.want {
				t.Errorf("Of(%s) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string
	}{
		{"127.0.0.1:80", ""},
		{"[::1]:65535", ""},
		{":80", "no host"},
		{"b:0", `port "0" is not a number from 1 to 65535`},
		{"b:http", `port "http" is not a number from 1 to 65535`},
		{"b", "address b: missing port in address"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			err := Check(tt.in)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.wantErr {
				t.Errorf("Check(%q) = %q, want %q", tt.in, got, tt.wantErr)
			}
		})
	}
}
