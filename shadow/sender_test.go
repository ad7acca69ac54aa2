package shadow

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestSender checks the exported Sender on its own, as replay uses it:
// path, query, Host and headers as given, the answer captured up to
// MaxBody, an event stream not read, a hanging backend cut at the deadline.
func TestSender(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	b := newBackend(t, "b", func(w http.ResponseWriter, r *http.Request) {
		switch strings.TrimPrefix(r.URL.Path, "/base") {
		case "/events":
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusOK)
		case "/hang":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		default:
			w.Header().Set("X-Host", r.Host)
			io.WriteString(w, r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("X-Test"))
		}
	})
	s, err := NewSender([]string{b.URL + "/base"}, SenderOptions{Timeout: 200 * time.Millisecond, MaxBody: 24})
	if err != nil {
		t.Fatal(err)
	}
	defer s.CloseIdleConnections()
	type result struct {
		Status          int
		Host, Body      string
		Truncated       bool
		Stream          bool
		Failed, Timeout bool
	}
	tests := []struct {
		name, path, query string
		rawPath           string
		want              result
	}{
		{"captured", "/a", "q=1", "", result{Status: 200, Host: "shop.test", Body: "GET /base/a?q=1 yes"}},
		{"escaped path kept", "/a/b", "", "/a%2Fb", result{Status: 200, Host: "shop.test", Body: "GET /base/a%2Fb yes"}},
		{"truncated at max body", "/a-much-longer-path", "", "", result{Status: 200, Host: "shop.test", Body: "GET /base/a-much-longer-", Truncated: true}},
		{"event stream", "/events", "", "", result{Status: 200, Stream: true}},
		{"deadline", "/hang", "", "", result{Failed: true, Timeout: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &http.Request{
				Method: http.MethodGet,
				URL:    &url.URL{Path: tt.path, RawPath: tt.rawPath, RawQuery: tt.query},
				Header: http.Header{"X-Test": {"yes"}},
				Host:   "shop.test",
			}
			a := s.Send(context.Background(), req)
			defer a.Release()
			got := result{
				Status: a.Status, Host: a.Header.Get("X-Host"), Body: string(a.Body),
				Truncated: a.Truncated, Stream: a.Stream, Failed: a.Err != nil, Timeout: a.Timeout,
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("answer (-got +want):\n%s", diff)
			}
		})
	}
}

func TestNewSenderErrors(t *testing.T) {
	tests := []struct {
		name     string
		backends []string
		want     string
	}{
		{"none", nil, "no backends"},
		{"not http", []string{"ftp://h"}, "not an http:// or https:// URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewSender(tt.backends, SenderOptions{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}
