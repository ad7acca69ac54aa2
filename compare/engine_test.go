package compare

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/google/go-cmp/cmp"
)

func newTestEngine(t testing.TB, cfg Config) *Engine {
	t.Helper()
	e, err := NewEngine(cfg)
	if err != nil {
		t.Fatalf("NewEngine: %v", err)
	}
	return e
}

// resp is a response with headers given as name, value, name, value...
// (names kept as written, not canonicalised).
func resp(status int, body string, kv ...string) Response {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h[kv[i]] = append(h[kv[i]], kv[i+1])
	}
	return Response{Status: status, Header: h, Body: []byte(body), Latency: 10 * time.Millisecond}
}

func encode(t testing.TB, coding, s string) string {
	t.Helper()
	var b bytes.Buffer
	var w io.WriteCloser
	switch coding {
	case "gzip":
		w = gzip.NewWriter(&b)
	case "zlib":
		w = zlib.NewWriter(&b)
	case "flate":
		w, _ = flate.NewWriter(&b, flate.DefaultCompression)
	case "br":
		w = brotli.NewWriter(&b)
	}
	if _, err := io.WriteString(w, s); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestCompareNormalises(t *testing.T) {
	const doc = `{"id":7,"name":"Bob","tags":["a","b"]}`
	const jsonCT = "application/json"
	tests := []struct {
		name      string
		primary   Response
		candidate Response
		want      []Difference
	}{
		{name: "gzip body equals plain", primary: resp(200, doc, "Content-Type", jsonCT),
			candidate: resp(200, encode(t, "gzip", doc), "Content-Type", jsonCT, "Content-Encoding", "gzip")},
		{name: "deflate (zlib) body equals plain", primary: resp(200, doc),
			candidate: resp(200, encode(t, "zlib", doc), "Content-Encoding", "deflate")},
		{name: "raw deflate body equals plain", primary: resp(200, doc),
			candidate: resp(200, encode(t, "flate", doc), "Content-Encoding", "deflate")},
		{name: "br body equals plain", primary: resp(200, encode(t, "br", doc), "Content-Encoding", "br"),
			candidate: resp(200, doc)},
		{name: "stacked codings", primary: resp(200, doc),
			candidate: resp(200, encode(t, "br", encode(t, "gzip", doc)), "Content-Encoding", "gzip, br")},
		{name: "header names are case-insensitive", primary: resp(200, doc, "x-api-version", "3"),
			candidate: resp(200, doc, "X-Api-Version", "3")},
		{name: "hop-by-hop headers are dropped",
			primary:   resp(200, doc, "Connection", "close, X-Hop", "X-Hop", "1", "Keep-Alive", "timeout=5", "Transfer-Encoding", "chunked", "Proxy-Authenticate", "Basic"),
			candidate: resp(200, doc, "Upgrade", "h2c", "Te", "trailers", "Trailer", "X-Sum")},
		{name: "date-like headers are ignored", primary: resp(200, doc, "Date", "Mon, 01 Jan 2024 00:00:00 GMT", "Server", "nginx", "X-Request-Id", "a"),
			candidate: resp(200, doc, "Date", "Tue, 02 Jan 2024 00:00:00 GMT", "Server", "Caddy", "X-Request-Id", "b")},
		{name: "media types compare canonically", primary: resp(200, doc, "Content-Type", "application/json; charset=UTF-8"),
			candidate: resp(200, doc, "Content-Type", "Application/JSON;charset=utf-8")},
		{name: "multi-valued headers in any order", primary: resp(200, doc, "Vary", "Accept-Encoding, Origin", "Link", "<a>", "Link", "<b>"),
			candidate: resp(200, doc, "Vary", "origin,accept-encoding", "Link", "<b>", "Link", "<a>")},
		{name: "cookie values are masked", primary: resp(200, doc, "Set-Cookie", "sid=abc; Path=/; HttpOnly; Expires=Mon, 01 Jan 2024 00:00:00 GMT"),
			candidate: resp(200, doc, "Set-Cookie", "sid=xyz; HttpOnly; path=/")},
		{name: "cookie attributes are compared", primary: resp(200, doc, "Set-Cookie", "sid=abc; Secure"),
			candidate: resp(200, doc, "Set-Cookie", "sid=abc"),
			want:      []Difference{{Kind: KindHeader, Path: "Set-Cookie", Field: "Set-Cookie", Primary: "sid=…; secure", Candidate: "sid=…"}}},
		{name: "header value differs", primary: resp(200, doc, "Cache-Control", "max-age=60"),
			candidate: resp(200, doc, "Cache-Control", "no-store", "X-New", "1"),
			want: []Difference{
				{Kind: KindHeader, Path: "Cache-Control", Field: "Cache-Control", Primary: "max-age=60", Candidate: "no-store"},
				{Kind: KindHeader, Path: "X-New", Field: "X-New", Primary: Absent, Candidate: "1"},
			}},
		{name: "status differs", primary: resp(200, doc), candidate: resp(503, doc),
			want: []Difference{{Kind: KindStatus, Field: "status", Primary: "200", Candidate: "503"}}},
		{name: "JSON against HTML", primary: resp(200, doc, "Content-Type", "text/html"), candidate: resp(200, "<html>oops</html>", "Content-Type", "text/html"),
			want: []Difference{{Kind: KindBody, Field: "body", Primary: doc, Candidate: "<html>oops</html>"}}},
		{name: "JSON diff in a gzip body", primary: resp(200, doc),
			candidate: resp(200, encode(t, "gzip", `{"tags":["a","b"],"name":"Rob","id":7}`), "Content-Encoding", "gzip"),
			want:      []Difference{jd("/name", "/name", `"Bob"`, `"Rob"`)}},
		{name: "binary bodies", primary: resp(200, "\x00\x01\x02", "Content-Type", "image/png"),
			candidate: resp(200, "\x00\x01\x03", "Content-Type", "image/png"),
			want:      []Difference{{Kind: KindBody, Field: "body", Primary: "(binary, 3 bytes)", Candidate: "(binary, 3 bytes)"}}},
		{name: "empty bodies", primary: resp(204, ""), candidate: resp(204, "")},
	}
	e := newTestEngine(t, Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := e.Compare(Pair{App: "shop", Request: Request{Method: "GET", Path: "/users/7"}, Primary: tt.primary, Candidate: tt.candidate})
			if diff := cmp.Diff(got.Diffs, tt.want); diff != "" {
				t.Errorf("Diffs mismatch (-got +want):\n%s", diff)
			}
			want := OutcomeMatch
			if len(tt.want) > 0 {
				want = OutcomeDiff
			}
			if got.Outcome != want {
				t.Errorf("Outcome = %q, want %q", got.Outcome, want)
			}
		})
	}
}

func TestCompareTextExcerpt(t *testing.T) {
	a := "<html>\n<head>\n<title>Shop</title>\n</head>\n<body>\n<p>Price: 10</p>\n</body>\n</html>\n"
	b := "<html>\n<head>\n<title>Shop</title>\n</head>\n<body>\n<p>Price: 12</p>\n<p>New</p>\n</body>\n</html>\n"
	e := newTestEngine(t, Config{})
	got := e.Compare(Pair{App: "shop", Request: Request{Method: "GET", Path: "/"},
		Primary: resp(200, a, "Content-Type", "text/html"), Candidate: resp(200, b, "Content-Type", "text/html")})
	want := []Difference{{Kind: KindBody, Field: "body",
		Primary:   "@@ -4,5 @@\n </head>\n <body>\n-<p>Price: 10</p>\n </body>\n </html>",
		Candidate: "@@ +4,6 @@\n </head>\n <body>\n+<p>Price: 12</p>\n+<p>New</p>\n </body>\n </html>",
	}}
	if diff := cmp.Diff(got.Diffs, want); diff != "" {
		t.Errorf("Diffs mismatch (-got +want):\n%s", diff)
	}
}

func TestTextExcerpt(t *testing.T) {
	tests := []struct {
		name, a, b string
		wantP      string
		wantC      string
	}{
		{"first line", "a\nb\nc\n", "x\nb\nc\n", "@@ -1,3 @@\n-a\n b\n c", "@@ +1,3 @@\n+x\n b\n c"},
		{"inserted line", "1\n2\n4\n", "1\n2\n3\n4\n", "@@ -1,3 @@\n 1\n 2\n 4", "@@ +1,4 @@\n 1\n 2\n+3\n 4"},
		{"change inside a line", "ab\ncd", "ab\nXcd", "@@ -1,2 @@\n ab\n-cd", "@@ +1,2 @@\n ab\n+Xcd"},
		{"no trailing newline", "a", "b", "@@ -1,1 @@\n-a", "@@ +1,1 @@\n+b"},
		{"cut to the limit", strings.Repeat("x", 100), strings.Repeat("y", 100),
			"@@ -1,1 @@\n-" + strings.Repeat("x", 20) + "…", "@@ +1,1 @@\n+" + strings.Repeat("y", 20) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotP, gotC := textExcerpt([]byte(tt.a), []byte(tt.b), 32)
			if gotP != tt.wantP || gotC != tt.wantC {
				t.Errorf("textExcerpt = %q, %q; want %q, %q", gotP, gotC, tt.wantP, tt.wantC)
			}
		})
	}
}

func TestCompareOutcomes(t *testing.T) {
	doc := `{"a":1}`
	tests := []struct {
		name          string
		cfg           Config
		pair          Pair
		want          Outcome
		wantTruncated bool
	}{
		{name: "shadow error", pair: Pair{Primary: resp(200, doc), Candidate: Response{Err: errors.New("connection refused")}}, want: OutcomeShadowError},
		{name: "shadow timeout", pair: Pair{Primary: resp(200, doc), Candidate: Response{Err: errors.New("deadline"), Timeout: true}}, want: OutcomeShadowTimeout},
		{name: "truncated bodies are not diffed", pair: Pair{Primary: Response{Status: 200, Body: []byte(`{"a":`), Truncated: true}, Candidate: resp(200, `{"b":2}`)},
			want: OutcomeMatch, wantTruncated: true},
		{name: "truncated but status differs", pair: Pair{Primary: Response{Status: 200, Truncated: true}, Candidate: resp(500, doc)},
			want: OutcomeDiff, wantTruncated: true},
		{name: "decoded past the limit", cfg: Config{MaxDecodedBody: 16},
			pair: Pair{Primary: resp(200, encode(t, "gzip", strings.Repeat(" ", 100)+doc), "Content-Encoding", "gzip"), Candidate: resp(200, `{"b":2}`)},
			want: OutcomeMatch, wantTruncated: true},
		{name: "undecodable body is compared as sent", pair: Pair{Primary: resp(200, "not gzip", "Content-Encoding", "gzip"), Candidate: resp(200, "not gzip")},
			want: OutcomeMatch},
		{name: "configured header ignore", cfg: Config{Rules: Rules{IgnoreHeaders: []string{"x-version"}}},
			pair: Pair{Primary: resp(200, doc, "X-Version", "1"), Candidate: resp(200, doc, "X-Version", "2")}, want: OutcomeMatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.pair.App, tt.pair.Request = "shop", Request{Method: "GET", Path: "/x"}
			got := newTestEngine(t, tt.cfg).Compare(tt.pair)
			if got.Outcome != tt.want || got.Truncated != tt.wantTruncated {
				t.Errorf("Outcome, Truncated = %q, %v; want %q, %v (diffs %+v)", got.Outcome, got.Truncated, tt.want, tt.wantTruncated, got.Diffs)
			}
		})
	}
}

func TestCompareRouteRules(t *testing.T) {
	cfg := Config{
		Rules: Rules{Ignore: []string{"/meta"}},
		Apps: map[string]AppRules{"shop": {
			Rules:  Rules{Any: []string{"/id"}},
			Routes: []Route{{Pattern: "/users/:uid", Rules: Rules{Ignore: []string{"/last_seen"}}}, {Pattern: "/orders/:oid"}},
		}},
	}
	e := newTestEngine(t, cfg)
	a := `{"id":"u1","last_seen":1,"meta":{"t":1}}`
	b := `{"id":"u2","last_seen":2,"meta":{"t":2}}`
	tests := []struct {
		app, path    string
		wantEndpoint string
		wantFields   []string
	}{
		{"shop", "/users/42", "/users/:uid", nil},
		{"shop", "/orders/42", "/orders/:oid", []string{"/last_seen"}},
		{"shop", "/carts/42", "/carts/:id", []string{"/last_seen"}},
		{"blog", "/users/42", "/users/:id", []string{"/id", "/last_seen"}},
	}
	for _, tt := range tests {
		t.Run(tt.app+tt.path, func(t *testing.T) {
			got := e.Compare(Pair{App: tt.app, Request: Request{Method: "GET", Path: tt.path}, Primary: resp(200, a), Candidate: resp(200, b)})
			var fields []string
			for _, d := range got.Diffs {
				fields = append(fields, d.Field)
			}
			if got.Endpoint != tt.wantEndpoint || !cmp.Equal(fields, tt.wantFields) {
				t.Errorf("Endpoint, Fields = %q, %q; want %q, %q", got.Endpoint, fields, tt.wantEndpoint, tt.wantFields)
			}
		})
	}
}

func TestNewEngineRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"bad app pattern", Config{Apps: map[string]AppRules{"shop": {Rules: Rules{Sets: []string{"items"}}}}},
			`compiling rules of app "shop": parsing JSON pattern "items": must start with /`},
		{"bad route pattern rule", Config{Routes: []Route{{Pattern: "/u/:id", Rules: Rules{Ignore: []string{"/a~"}}}}},
			`compiling rules of route "/u/:id": parsing JSON pattern "/a~": segment "a~": ~ must be followed by 0 or 1`},
		{"bad route", Config{Routes: []Route{{Pattern: "u"}}}, `parsing route "u": must start with /`},
		{"bad threshold", Config{NoiseRelative: 2}, `checking noise relative threshold 2: not a fraction between 0 and 1`},
		{"bad bound", Config{MaxFields: -1}, `checking max fields -1: must be positive`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewEngine(tt.cfg)
			if err == nil {
				t.Fatalf("NewEngine = nil error, want %q", tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCompareKeepsPairIntact(t *testing.T) {
	p := Pair{App: "shop", Request: Request{Method: "GET", Path: "/u/1"},
		Primary: resp(200, `{"a":1}`, "x-one", "1"), Candidate: resp(200, `{"a":2}`, "X-One", "1")}
	before := clonePairForTest(p)
	newTestEngine(t, Config{FlakyShare: 0.5}).Compare(p)
	if diff := cmp.Diff(p, before, cmp.Comparer(func(x, y error) bool { return x == y })); diff != "" {
		t.Errorf("Compare changed its pair (-after +before):\n%s", diff)
	}
}

func TestCompareConcurrently(t *testing.T) {
	e := newTestEngine(t, Config{FlakyShare: 0.5})
	const workers, each = 4, 50
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				path := []string{"/users/1", "/orders/2"}[(w+i)%2]
				e.Compare(Pair{App: "shop", Request: Request{Method: "GET", Path: path},
					Primary: resp(200, `{"a":1,"b":[1,2]}`), Candidate: resp(200, `{"b":[1,2],"a":2}`)})
			}
		})
	}
	wg.Wait()
	var total uint64
	for _, s := range e.Stats("shop") {
		total += s.Diffs
	}
	if total != workers*each {
		t.Errorf("counted %d diffs, want %d", total, workers*each)
	}
}

func ExampleEngine_Compare() {
	e, err := NewEngine(Config{Rules: Rules{Ignore: []string{"/meta/generated_at"}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	json := http.Header{"Content-Type": {"application/json"}}
	res := e.Compare(Pair{
		App:     "shop",
		Request: Request{Method: "GET", Path: "/products/42"},
		Primary: Response{Status: 200, Header: json,
			Body: []byte(`{"id":42,"price":10,"meta":{"generated_at":"12:00:01"}}`)},
		Candidate: Response{Status: 200, Header: json,
			Body: []byte(`{"meta":{"generated_at":"12:00:02"},"price":12,"id":42}`)},
	})
	fmt.Println(res.Endpoint, res.Outcome)
	for _, d := range res.Diffs {
		fmt.Printf("%s %s: %s -> %s\n", d.Kind, d.Path, d.Primary, d.Candidate)
	}
	// Output:
	// /products/:id diff
	// json /price: 10 -> 12
}

func TestCompareReadsNonCanonicalHeaders(t *testing.T) {
	doc := `{"a":1}`
	e := newTestEngine(t, Config{})
	got := e.Compare(Pair{App: "shop", Request: Request{Method: "GET", Path: "/"},
		Primary:   resp(200, encode(t, "gzip", doc), "content-encoding", "gzip", "connection", "x-hop", "x-hop", "1"),
		Candidate: resp(200, doc)})
	if got.Outcome != OutcomeMatch {
		t.Errorf("Outcome = %q, want match (diffs %+v)", got.Outcome, got.Diffs)
	}
}
