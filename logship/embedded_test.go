package logship

import (
	"bufio"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// answering is a receiver that records the request and answers code with
// header and body.
func answering(t *testing.T, code int, header map[string]string, body string, got *[]string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			t.Errorf("body is not gzip: %v", err)
			return
		}
		sc := bufio.NewScanner(zr)
		for sc.Scan() {
			*got = append(*got, r.Method+" "+r.URL.String()+" "+r.Header.Get("Authorization")+" "+sc.Text())
		}
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(code)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestEmbeddedDeliverer(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	batch := []Event{
		{ID: "a", Time: at, App: "shop", Side: "new", Record: Record{Raw: []byte("one")}},
		{ID: "b", Time: at, App: "shop", Side: "new", Record: Record{Raw: []byte("two")}},
	}
	tests := []struct {
		name   string
		code   int
		header map[string]string
		body   string
		want   error
	}{
		{"accepted", 200, nil, `{"accepted":2}`, nil},
		{"rejected lines", 400, nil, `{"error":"bad lines","rejected":[{"index":1,"error":"missing event field: id"}]}`,
			&RejectedError{Index: []int{1}, Reason: "line 1: missing event field: id"}},
		{"rejected batch", 400, nil, `{"error":"body is not gzip"}`, &RejectedError{Reason: "body is not gzip"}},
		{"too large", 413, nil, `{"error":"over 32 MiB"}`, &TooLargeError{Reason: "over 32 MiB"}},
		{"rate limited", 429, map[string]string{"Retry-After": "7"}, `{"error":"slow down"}`,
			&RetryableError{Status: 429, After: 7 * time.Second, Err: errors.New("embedded sink: slow down")}},
		{"unavailable", 503, nil, `busy`, &RetryableError{Status: 503, Err: errors.New("embedded sink: busy")}},
		{"unauthorized", 401, nil, `{"error":"needs the admin token"}`,
			&RetryableError{Status: 401, Err: errors.New("embedded sink: needs the admin token")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var reqs []string
			u := answering(t, tt.code, tt.header, tt.body, &reqs)
			d, err := NewEmbeddedDeliverer(SinkConfig{Type: "embedded", Admin: u}, "shop", "new", WithToken("s3cret"))
			if err != nil {
				t.Fatal(err)
			}
			defer d.(io.Closer).Close()
			got := d.Deliver(t.Context(), batch)
			if diff := cmp.Diff(got, tt.want, cmp.Comparer(func(a, b error) bool { return a.Error() == b.Error() })); diff != "" {
				t.Errorf("Deliver (-got +want):\n%s", diff)
			}
			wantReqs := []string{
				`POST /api/v1/apps/shop/logs?side=new Bearer s3cret {"id":"a","time":"2026-03-01T12:00:00Z","app":"shop","side":"new","host":"","file":"","offset":0,"line":"one"}`,
				`POST /api/v1/apps/shop/logs?side=new Bearer s3cret {"id":"b","time":"2026-03-01T12:00:00Z","app":"shop","side":"new","host":"","file":"","offset":0,"line":"two"}`,
			}
			if diff := cmp.Diff(reqs, wantReqs); diff != "" {
				t.Errorf("requests (-got +want):\n%s", diff)
			}
		})
	}
}

func TestEmbeddedDelivererConfig(t *testing.T) {
	t.Setenv("SHOP_ADMIN_TOKEN", "from-env")
	tests := []struct {
		name string
		cfg  SinkConfig
		app  string
		side string
		opts []EmbeddedOption
		want string // the URL, or the error
	}{
		{"default address", SinkConfig{}, "shop", "old", nil, "http://127.0.0.1:9090/api/v1/apps/shop/logs?side=old"},
		{"admin listen", SinkConfig{}, "shop", "new", []EmbeddedOption{WithAdmin("127.0.0.1:9191", "SHOP_ADMIN_TOKEN")}, "http://127.0.0.1:9191/api/v1/apps/shop/logs?side=new"},
		{"admin URL wins", SinkConfig{Admin: "https://admin.internal:8443/"}, "a b", "new", []EmbeddedOption{WithAdmin("127.0.0.1:9191", "")}, "https://admin.internal:8443/api/v1/apps/a%20b/logs?side=new"},
		{"bad side", SinkConfig{}, "shop", "both", nil, `creating embedded sink: side "both" is not old or new`},
		{"bad admin URL", SinkConfig{Admin: "ftp://x"}, "shop", "old", nil, `creating embedded sink: admin URL "ftp://x" is not http(s)://host:port`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := NewEmbeddedDeliverer(tt.cfg, tt.app, tt.side, tt.opts...)
			var got string
			if err != nil {
				got = err.Error()
			} else {
				got = d.(*embeddedDeliverer).url
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	d, err := NewEmbeddedDeliverer(SinkConfig{}, "shop", "old", WithAdmin("", "SHOP_ADMIN_TOKEN"))
	if err != nil {
		t.Fatal(err)
	}
	if got := d.(*embeddedDeliverer).token; got != "from-env" {
		t.Errorf("token %q, want the one of admin.token_env", got)
	}
}

func TestEmbeddedRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name, in string
		want     time.Duration
	}{
		{"none", "", 0},
		{"seconds", "3", 3 * time.Second},
		{"date", now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{"past date", now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"junk", "soon", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := embeddedRetryAfter(tt.in, now); got != tt.want {
				t.Errorf("embeddedRetryAfter(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}
