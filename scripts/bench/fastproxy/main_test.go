package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestProxies runs the proxy on a real listener in front of a real
// backend: the answer comes back with the backend's status and body, the
// backend sees X-Forwarded-For, and an unreachable backend is a 502.
func TestProxies(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		io.WriteString(w, "xff="+r.Header.Get("X-Forwarded-For")+" path="+r.URL.RequestURI())
	}))
	defer backend.Close()
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()

	tests := []struct {
		name, backend string
		wantStatus    int
		wantBody      string
	}{
		{"forwards", strings.TrimPrefix(backend.URL, "http://"), http.StatusTeapot, "xff=127.0.0.1 path=/a?b=c"},
		{"backend down", deadAddr, http.StatusBadGateway, "502 backend unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := newServer(tt.backend)
			done := make(chan error, 1)
			go func() { done <- srv.Serve(ln) }()
			defer func() {
				if err := srv.Shutdown(); err != nil {
					t.Error(err)
				}
				if err := <-done; err != nil {
					t.Error(err)
				}
			}()
			// No keep-alive: Shutdown waits for open connections to close.
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			resp, err := client.Get("http://" + ln.Addr().String() + "/a?b=c")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus || string(body) != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
		})
	}
}

func TestFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no backend", nil, `-backend "" is not host:port`},
		{"bad backend", []string{"-backend", "http://x"}, "is not host:port"},
		{"no host", []string{"-backend", ":80"}, "no host"},
		{"port zero", []string{"-backend", "127.0.0.1:0"}, "is not a number from 1 to 65535"},
		{"bad listen", []string{"-backend", "127.0.0.1:1", "-listen", "nope"}, "listening on nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(tt.args, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run(%q) = %v, want an error with %q", tt.args, err, tt.want)
			}
		})
	}
}
