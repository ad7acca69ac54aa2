package shadow

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/migratekit/migrate/compare"
	"github.com/migratekit/migrate/manifest"
)

func randomBody(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// onlyReader hides bytes.Reader's Len so the client sends the body
// chunked, with no Content-Length.
type onlyReader struct{ io.Reader }

func TestBodyReplayedToBothSides(t *testing.T) {
	tests := []struct {
		name    string
		size    int
		chunked bool
	}{
		{"100 KB with Content-Length", 100 << 10, false},
		{"100 KB chunked", 100 << 10, true},
		{"exactly max_body", 256 << 10, false},
		{"one byte", 1, false},
		{"empty, chunked", 0, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old, newB := newBackend(t, "old", nil), newBackend(t, "new", nil)
			app := testApp(old.URL, newB.URL)
			app.Shadow.MaxBody = 256 << 10
			app.Shadow.Routes = []manifest.Route{{Path: "/items/:id", Methods: []string{"put"}}}
			e := start(t, app, true)

			body := randomBody(tt.size, uint64(i))
			var r io.Reader = bytes.NewReader(body)
			if tt.chunked {
				r = onlyReader{r}
			}
			if got := e.do(t, http.MethodPut, "/items/7", r, nil); got.Status != http.StatusOK {
				t.Fatalf("PUT: status %d", got.Status)
			}
			waitFor(t, "the pair judged", func() bool { return e.cmp.total() == 1 })
			want := seen{Method: http.MethodPut, Path: "/items/7", BodySHA: sha(body), BodyLen: len(body)}
			for _, b := range []*backend{old, newB} {
				reqs := b.requests()
				if len(reqs) != 1 {
					t.Fatalf("%s saw %d requests, want 1", b.name, len(reqs))
				}
				reqs[0].Header = nil
				if diff := cmp.Diff(reqs[0], want); diff != "" {
					t.Errorf("%s saw a different request (-got +want):\n%s", b.name, diff)
				}
			}
			if got := e.cmp.seenPairs()[0].Request.Body; !bytes.Equal(got, body) {
				t.Errorf("the pair's request body differs from the one sent (%d bytes, want %d)", len(got), len(body))
			}
		})
	}
}

func TestNotMirrored(t *testing.T) {
	tests := []struct {
		name   string
		method string
		body   []byte
		routes []manifest.Route
		want   compare.Outcome
	}{
		{"POST by default", http.MethodPost, []byte(`{"a":1}`), nil, compare.OutcomeSkippedUnsafe},
		{"DELETE by default", http.MethodDelete, nil, nil, compare.OutcomeSkippedUnsafe},
		{"PUT opted in on another route", http.MethodPut, []byte("x"), []manifest.Route{{Path: "/users/:id", Methods: []string{"PUT"}}}, compare.OutcomeSkippedUnsafe},
		{"POST opted in, over max_body", http.MethodPost, randomBody(4096, 1), []manifest.Route{{Path: "/items/*", Methods: []string{"POST"}}}, compare.OutcomeTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old, newB := newBackend(t, "old", nil), newBackend(t, "new", nil)
			app := testApp(old.URL, newB.URL)
			app.Shadow.MaxBody = 1024
			app.Shadow.Routes = tt.routes
			e := start(t, app, true)

			got := e.do(t, tt.method, "/items/1", bytes.NewReader(tt.body), nil)
			if want := "old " + tt.method + " /items/1"; got.Status != http.StatusOK || got.Body != want {
				t.Errorf("got %d %q, want 200 %q", got.Status, got.Body, want)
			}
			if reqs := old.requests(); len(reqs) != 1 || reqs[0].BodySHA != sha(tt.body) {
				t.Errorf("old did not get the whole body once: %+v", reqs)
			}
			e.settle(t, 1)
			_, recorded := e.cmp.counts()
			if diff := cmp.Diff(recorded, map[compare.Outcome]int{tt.want: 1}); diff != "" {
				t.Errorf("recorded outcomes (-got +want):\n%s", diff)
			}
			wantLabels := map[string]string{"app": "web", "direction": "old_to_new", "endpoint": "/fake", "outcome": string(tt.want)}
			if got := metric(t, e.reg, "migrate_shadow_pairs_total", wantLabels); got != 1 {
				t.Errorf("migrate_shadow_pairs_total%v = %v, want 1", wantLabels, got)
			}
			if got := newB.hits(); got != 0 {
				t.Errorf("new saw %d requests, want none", got)
			}
		})
	}
}

// TestTooLargeChunked sends a body with no Content-Length that turns out
// larger than max_body: the bytes already read and the rest of the stream
// reach old intact.
func TestTooLargeChunked(t *testing.T) {
	old, newB := newBackend(t, "old", nil), newBackend(t, "new", nil)
	app := testApp(old.URL, newB.URL)
	app.Shadow.MaxBody = 1000
	app.Shadow.Routes = []manifest.Route{{Path: "/upload", Methods: []string{"POST"}}}
	e := start(t, app, true)

	body := randomBody(300<<10, 9)
	if got := e.do(t, http.MethodPost, "/upload", onlyReader{bytes.NewReader(body)}, nil); got.Status != http.StatusOK {
		t.Fatalf("POST: status %d", got.Status)
	}
	if reqs := old.requests(); len(reqs) != 1 || reqs[0].BodySHA != sha(body) || reqs[0].BodyLen != len(body) {
		t.Errorf("old did not get the whole body: %+v", reqs)
	}
	waitFor(t, "the outcome recorded", func() bool { return e.cmp.total() == 1 })
	if _, recorded := e.cmp.counts(); recorded[compare.OutcomeTooLarge] != 1 {
		t.Errorf("recorded outcomes: got %v, want too_large", recorded)
	}
	if got := newB.hits(); got != 0 {
		t.Errorf("new saw %d requests, want none", got)
	}
}

// TestShadowHeader checks that only mirrored requests carry
// X-Migrate-Shadow, even when a client forges it.
func TestShadowHeader(t *testing.T) {
	old, newB := newBackend(t, "old", nil), newBackend(t, "new", nil)
	app := testApp(old.URL, newB.URL)
	e := start(t, app, true)

	forged := http.Header{Header: {"1"}, "X-Custom": {"kept"}}
	e.do(t, http.MethodGet, "/a", nil, forged)
	e.do(t, http.MethodPost, "/b", nil, forged)
	waitFor(t, "both outcomes", func() bool { return e.cmp.total() == 2 })

	type marks struct{ Path, Shadow, Custom, Host string }
	collect := func(b *backend) []marks {
		var out []marks
		for _, r := range b.requests() {
			out = append(out, marks{r.Path, r.Header.Get(Header), r.Header.Get("X-Custom"), r.Header.Get("Host")})
		}
		return out
	}
	host := e.base[len("http://"):]
	if diff := cmp.Diff(collect(old), []marks{{"/a", "", "kept", host}, {"/b", "", "kept", host}}); diff != "" {
		t.Errorf("old (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(collect(newB), []marks{{"/a", "1", "kept", host}}); diff != "" {
		t.Errorf("new (-got +want):\n%s", diff)
	}
	if fwd := newB.requests()[0].Header.Get("X-Forwarded-For"); fwd != "127.0.0.1" {
		t.Errorf("mirror X-Forwarded-For = %q, want the client's address", fwd)
	}
}
