package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jonboulle/clockwork"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// answer is what a test sees of a response.
type answer struct {
	Status        int
	ContentLength int64
	Body          string
}

var wantAnswer = answer{Status: http.StatusOK, ContentLength: int64(len(body)), Body: string(body)}

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(newHandler(0, clockwork.NewRealClock(), nil))
	defer srv.Close()

	tests := []struct {
		name, method, path string
	}{
		{name: "get root", method: http.MethodGet, path: "/"},
		{name: "get deep path", method: http.MethodGet, path: "/users/42?x=1"},
		{name: "post", method: http.MethodPost, path: "/items"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := do(srv.Client(), req)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got, wantAnswer); diff != "" {
				t.Errorf("answer (-got +want):\n%s", diff)
			}
		})
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    options
		wantErr bool
	}{
		{name: "defaults", want: options{listen: "127.0.0.1:8000", failRate: 1}},
		{name: "listen", args: []string{"-listen", "127.0.0.1:9"}, want: options{listen: "127.0.0.1:9", failRate: 1}},
		{name: "delay", args: []string{"-delay", "200ms"}, want: options{listen: "127.0.0.1:8000", failRate: 1, delay: 200 * time.Millisecond}},
		{name: "zero delay", args: []string{"-delay=0s"}, want: options{listen: "127.0.0.1:8000", failRate: 1}},
		{name: "negative delay", args: []string{"-delay", "-1s"}, wantErr: true},
		{name: "fail after", args: []string{"-fail-after", "5s"}, want: options{listen: "127.0.0.1:8000", failRate: 1, failAfter: 5 * time.Second}},
		{name: "error rate", args: []string{"-error-rate", "0.01"}, want: options{listen: "127.0.0.1:8000", failRate: 1, errorRate: 0.01}},
		{name: "error rate one", args: []string{"-error-rate", "1"}, want: options{listen: "127.0.0.1:8000", failRate: 1, errorRate: 1}},
		{name: "fail rate", args: []string{"-fail-rate", "0.1"}, want: options{listen: "127.0.0.1:8000", failRate: 0.1}},
		{name: "fail rate zero", args: []string{"-fail-rate", "0"}, wantErr: true},
		{name: "fail rate above one", args: []string{"-fail-rate", "1.01"}, wantErr: true},
		{name: "negative fail after", args: []string{"-fail-after", "-5s"}, wantErr: true},
		{name: "error rate above one", args: []string{"-error-rate", "1.5"}, wantErr: true},
		{name: "negative error rate", args: []string{"-error-rate", "-0.1"}, wantErr: true},
		{name: "error rate NaN", args: []string{"-error-rate", "NaN"}, wantErr: true},
		{name: "delay without unit", args: []string{"-delay", "200"}, wantErr: true},
		{name: "read body", args: []string{"-read-body"}, want: options{listen: "127.0.0.1:8000", failRate: 1, readBody: true}},
		{name: "unknown flag", args: []string{"-slow"}, wantErr: true},
		{name: "stray argument", args: []string{"200ms"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFlags(tt.args, io.Discard)
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Fatalf("parseFlags(%q) error = %v, want error: %v", tt.args, err, tt.wantErr)
			}
			if diff := cmp.Diff(got, tt.want, cmp.AllowUnexported(options{})); diff != "" {
				t.Errorf("parseFlags(%q) (-got +want):\n%s", tt.args, diff)
			}
		})
	}
}

// TestReadingBody: with -read-body a request is answered once its whole
// body is in; one whose body breaks off is not answered at all.
func TestReadingBody(t *testing.T) {
	srv := httptest.NewServer(readingBody(newHandler(0, clockwork.NewRealClock(), nil)))
	defer srv.Close()
	for _, tt := range []struct {
		name, body string
		answered   bool
	}{{"whole body", "0123456789", true}, {"body cut off", "01234", false}} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(c, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n"+tt.body)
			c.(*net.TCPConn).CloseWrite()
			got, _ := io.ReadAll(c)
			if answered := len(got) > 0; answered != tt.answered {
				t.Errorf("answered %v (%q), want %v", answered, got, tt.answered)
			}
		})
	}
}

func TestParseFlagsHelp(t *testing.T) {
	_, err := parseFlags([]string{"-h"}, io.Discard)
	if got, want := errors.Is(err, flag.ErrHelp), true; got != want {
		t.Errorf("parseFlags(-h) error = %v, want flag.ErrHelp", err)
	}
}

// TestHandlerDelay drives the delay with a fake clock: no answer until the
// whole delay has passed, then the usual one.
func TestHandlerDelay(t *testing.T) {
	const delay = 200 * time.Millisecond
	clock := clockwork.NewFakeClock()
	srv := httptest.NewServer(newHandler(delay, clock, nil))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	type result struct {
		a   answer
		err error
	}
	done := make(chan result, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/", nil)
		a, err := do(srv.Client(), req)
		done <- result{a, err}
	}()
	if err := clock.BlockUntilContext(ctx, 1); err != nil {
		t.Fatalf("handler did not start waiting: %v", err)
	}
	clock.Advance(delay - time.Nanosecond)
	select {
	case r := <-done:
		t.Fatalf("answered before the delay had passed: %+v", r)
	default:
	}
	clock.Advance(time.Nanosecond)
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		t.Fatal("no answer after the delay had passed")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	if diff := cmp.Diff(r.a, wantAnswer); diff != "" {
		t.Errorf("answer (-got +want):\n%s", diff)
	}
}

// TestHandlerDelayClientGone checks that a handler stops waiting when its
// client goes away, without the clock moving.
func TestHandlerDelayClientGone(t *testing.T) {
	clock := clockwork.NewFakeClock()
	h := newHandler(time.Hour, clock, nil)
	returned := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(returned)
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	defer clock.Advance(time.Hour) // before Close, should the handler still wait
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	reqCtx, hangUp := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(reqCtx, http.MethodGet, srv.URL+"/", nil)
		_, err := do(srv.Client(), req)
		errc <- err
	}()
	if err := clock.BlockUntilContext(ctx, 1); err != nil {
		t.Fatalf("handler did not start waiting: %v", err)
	}
	hangUp()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("client error = %v, want context.Canceled", err)
	}
	select {
	case <-returned:
	case <-ctx.Done():
		t.Error("handler still waits after its client went away")
	}
}

func TestServeStopsOnCancel(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, addr, newHandler(0, clockwork.NewRealClock(), nil)) }()
	waitUp(t, "http://"+addr+"/")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve() = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return after cancel")
	}
}

// do sends req and reads the whole answer.
func do(c *http.Client, req *http.Request) (answer, error) {
	resp, err := c.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	return answer{Status: resp.StatusCode, ContentLength: resp.ContentLength, Body: string(b)}, nil
}

func waitUp(t *testing.T, url string) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s did not come up", url)
}
