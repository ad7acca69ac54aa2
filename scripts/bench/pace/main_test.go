package main

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseFlags(t *testing.T) {
	base := []string{"-url", "http://127.0.0.1:8080/", "-rate", "5000"}
	defaults := options{url: "http://127.0.0.1:8080/", rate: 5000, duration: 10 * time.Second, connections: 64, timeout: 2 * time.Second}
	with := func(f func(*options)) options {
		o := defaults
		f(&o)
		return o
	}
	tests := []struct {
		name    string
		args    []string
		want    options
		wantErr string
	}{
		{name: "defaults", args: base, want: defaults},
		{name: "all flags", args: append(base, "-duration", "3s", "-warmup", "1s", "-connections", "2", "-timeout", "500ms"),
			want: with(func(o *options) {
				o.duration, o.warmup, o.connections, o.timeout = 3*time.Second, time.Second, 2, 500*time.Millisecond
			})},
		{name: "fractional rate", args: []string{"-url", "http://[::1]:9/", "-rate", "0.5"},
			want: with(func(o *options) { o.url, o.rate = "http://[::1]:9/", 0.5 })},
		{name: "sources", args: append(base, "-sources", "-connections", "300"),
			want: with(func(o *options) { o.sources, o.connections = true, 300 })},
		{name: "sources on IPv6", args: []string{"-url", "http://[::1]:9/", "-rate", "1", "-sources"}, wantErr: `-sources: -url "http://[::1]:9/" is not on an IPv4 address`},
		{name: "more connections than sources", args: append(base, "-sources", "-connections", "64001"), wantErr: "-sources: -connections 64001 is more than the 64000 source addresses"},
		{name: "no url", args: []string{"-rate", "1"}, wantErr: "-url is required"},
		{name: "no rate", args: []string{"-url", "http://127.0.0.1:1/"}, wantErr: "-rate 0 is not"},
		{name: "negative rate", args: append(base, "-rate", "-5"), wantErr: "-rate -5 is not"},
		{name: "NaN rate", args: append(base, "-rate", "NaN"), wantErr: "-rate NaN is not"},
		{name: "zero connections", args: append(base, "-connections", "0"), wantErr: "-connections 0 is below 1"},
		{name: "zero duration", args: append(base, "-duration", "0s"), wantErr: "-duration 0s is not above 0"},
		{name: "negative warmup", args: append(base, "-warmup", "-1s"), wantErr: "-warmup -1s is negative"},
		{name: "zero timeout", args: append(base, "-timeout", "0s"), wantErr: "-timeout 0s is not above 0"},
		{name: "too many requests", args: append(base, "-rate", "1000000", "-duration", "1h"), wantErr: "more than 50000000 requests"},
		{name: "not loopback", args: append(base, "-url", "http://10.0.0.1/"), wantErr: `host "10.0.0.1" is not a loopback address`},
		{name: "space in the query", args: append(base, "-url", "http://127.0.0.1:1/? x"), wantErr: `' ' in the path or query cuts the request line`},
		{name: "stray argument", args: append(base, "extra"), wantErr: `unexpected argument "extra"`},
		{name: "unknown flag", args: append(base, "-qps", "5"), wantErr: "flag provided but not defined: -qps"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFlags(tt.args, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseFlags error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseFlags: %v", err)
			}
			if diff := cmp.Diff(got, tt.want, cmp.AllowUnexported(options{})); diff != "" {
				t.Errorf("options (-got +want):\n%s", diff)
			}
		})
	}
}

func TestLoopbackTarget(t *testing.T) {
	tests := []struct {
		name    string
		url     string
		want    Target
		wantErr string
	}{
		{name: "ipv4", url: "http://127.0.0.1:8080/", want: Target{Addr: "127.0.0.1:8080", Host: "127.0.0.1:8080", Path: "/"}},
		{name: "other 127 address", url: "http://127.0.0.2:81/a/b?x=1", want: Target{Addr: "127.0.0.2:81", Host: "127.0.0.2:81", Path: "/a/b?x=1"}},
		{name: "ipv6", url: "http://[::1]:9000/x", want: Target{Addr: "[::1]:9000", Host: "[::1]:9000", Path: "/x"}},
		{name: "localhost, default port, no path", url: "http://localhost", want: Target{Addr: "localhost:80", Host: "localhost", Path: "/"}},
		{name: "public address", url: "http://192.0.2.1:80/", wantErr: `host "192.0.2.1" is not a loopback address`},
		{name: "host name", url: "http://example.com/", wantErr: `host "example.com" is not a loopback address`},
		{name: "unspecified address", url: "http://0.0.0.0:80/", wantErr: `host "0.0.0.0" is not a loopback address`},
		{name: "https", url: "https://127.0.0.1/", wantErr: `scheme "https" is not http`},
		{name: "no scheme", url: "127.0.0.1:8080", wantErr: "parsing -url"},
		{name: "no scheme, no port", url: "127.0.0.1/", wantErr: `scheme "" is not http`},
		{name: "user info", url: "http://u:p@127.0.0.1/", wantErr: "user info is not supported"},
		{name: "control character", url: "http://127.0.0.1/\r\nX: y", wantErr: "parsing -url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := loopbackTarget(tt.url)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("loopbackTarget(%q) error = %v, want one containing %q", tt.url, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("loopbackTarget(%q): %v", tt.url, err)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("target (-got +want):\n%s", diff)
			}
		})
	}
}

// FuzzLoopbackTarget checks that a URL pace accepts dials a loopback
// address and makes a request line and Host header with nothing that could
// end them early (CR, LF, space).
func FuzzLoopbackTarget(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1:8080/", "http://[::1]/a?b=c", "http://localhost:1/%0d%0a", "http://127.0.0.1/ x", "https://10.0.0.1/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := loopbackTarget(raw)
		if err != nil {
			return
		}
		host, _, err := net.SplitHostPort(got.Addr)
		if err != nil {
			t.Fatalf("loopbackTarget(%q).Addr = %q: %v", raw, got.Addr, err)
		}
		if !isLoopback(host) {
			t.Errorf("loopbackTarget(%q) dials %q, not loopback", raw, got.Addr)
		}
		if strings.ContainsAny(got.Path, "\r\n ") || strings.ContainsAny(got.Host, "\r\n ") || got.Path == "" {
			t.Errorf("loopbackTarget(%q) = path %q host %q: would break the request", raw, got.Path, got.Host)
		}
	})
}

func TestWriteResult(t *testing.T) {
	tests := []struct {
		name string
		r    *Result
		want string
	}{
		{name: "no answers", r: &Result{Duration: time.Second, Transport: 3}, want: "RESULT 0.00 0.000 0.000 3 0\n"},
		{
			name: "answers",
			r: &Result{Duration: 2 * time.Second, Requests: 4, StatusErr: 1, Timeouts: 1,
				latencies: []time.Duration{time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond, 40 * time.Millisecond}},
			want: "RESULT 2.00 2.000 40.000 2 4\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			tt.r.WriteResult(&b)
			if diff := cmp.Diff(b.String(), tt.want); diff != "" {
				t.Errorf("result line (-got +want):\n%s", diff)
			}
		})
	}
}

func TestQuantile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{name: "empty", q: 0.5, want: 0},
		{name: "one", sorted: []time.Duration{7}, q: 0.99, want: 7},
		{name: "median of 100", sorted: hundred, q: 0.5, want: 50 * time.Millisecond},
		{name: "p99 of 100", sorted: hundred, q: 0.99, want: 99 * time.Millisecond},
		{name: "p99.9 of 100", sorted: hundred, q: 0.999, want: 100 * time.Millisecond},
		{name: "max", sorted: hundred, q: 1, want: 100 * time.Millisecond},
		{name: "min", sorted: hundred, q: 0, want: time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := quantile(tt.sorted, tt.q); got != tt.want {
				t.Errorf("quantile(%v) = %v, want %v", tt.q, got, tt.want)
			}
		})
	}
}
