package compare

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
)

func mustRedactor(t testing.TB, headers, patterns []string) *Redactor {
	t.Helper()
	r, err := NewRedactor(headers, patterns)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRedactJSON(t *testing.T) {
	patterns := []string{"/password", "/users/*/ssn", "/a~1b", "/nested/deep"}
	tests := []struct {
		name    string
		in      string
		want    string
		changed bool
		cut     bool
	}{
		{"top-level field", `{"user":"ann","password":"hunter2"}`, `{"user":"ann","password":"[redacted]"}`, true, false},
		{"wildcard over array", `{"users":[{"ssn":"1","n":2},{"ssn":"3"}]}`, `{"users":[{"ssn":"[redacted]","n":2},{"ssn":"[redacted]"}]}`, true, false},
		{"wildcard over object", `{"users":{"ann":{"ssn":"1"}}}`, `{"users":{"ann":{"ssn":"[redacted]"}}}`, true, false},
		{"container value redacted whole", `{"nested":{"deep":{"k":[1,{"x":"s"}]},"keep":true}}`, `{"nested":{"deep":"[redacted]","keep":true}}`, true, false},
		{"escaped key", `{"a/b":"s","a":{"b":"kept"}}`, `{"a/b":"[redacted]","a":{"b":"kept"}}`, true, false},
		{"order and numbers kept", `{"z":1.50,"password":0,"a":1e3}`, `{"z":1.50,"password":"[redacted]","a":1e3}`, true, false},
		{"no match keeps bytes", "{ \"user\" : \"ann\" }\n", "{ \"user\" : \"ann\" }\n", false, false},
		{"not JSON", `password=hunter2`, `password=hunter2`, false, false},
		{"scalar root", `"hunter2"`, `"hunter2"`, false, false},
		{"html kept unescaped", `{"h":"<b>&</b>","password":"x"}`, `{"h":"<b>&</b>","password":"[redacted]"}`, true, false},
		{"truncated inside secret", `{"a":1,"password":"hunt`, `{"a":1,"password":`, false, true},
		{"truncated after secret", `{"password":"hunter2","b":"xy`, `{"password":"[redacted]","b":`, true, true},
		{"broken after start", `{"a":1} trailing password hunter2`, `{"a":1}`, false, true},
		{"several documents", "{\"password\":1}\n{\"password\":2}", "{\"password\":\"[redacted]\"}\n{\"password\":\"[redacted]\"}", true, false},
		{"array root", `[{"password":1}]`, `[{"password":1}]`, false, false},
	}
	var pats []pointerPattern
	for _, p := range patterns {
		pp, err := parsePointerPattern(p)
		if err != nil {
			t.Fatal(err)
		}
		pats = append(pats, pp)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, changed, cut := redactJSON([]byte(tt.in), nil, pats)
			if string(got) != tt.want || changed != tt.changed || cut != tt.cut {
				t.Errorf("redactJSON(%s) = %s, changed %v, cut %v; want %s, %v, %v", tt.in, got, changed, cut, tt.want, tt.changed, tt.cut)
			}
		})
	}
}

func TestNewRedactorRejectsBadPatterns(t *testing.T) {
	_, err := NewRedactor(nil, []string{"/ok", "password", ""})
	if err == nil {
		t.Fatal("NewRedactor accepted patterns without a leading /")
	}
	for _, want := range []string{`"password"`, `""`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name pattern %s", err, want)
		}
	}
}

func TestRedactQuery(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"empty", "", ""},
		{"nothing secret", "page=2&sort=name", "page=2&sort=name"},
		{"token and order kept", "a=1&token=abc&b=2", "a=1&token=%5Bredacted%5D&b=2"},
		{"every default name", "access_token=1&api_key=2&password=3&secret=4&signature=5&key=6",
			"access_token=%5Bredacted%5D&api_key=%5Bredacted%5D&password=%5Bredacted%5D&secret=%5Bredacted%5D&signature=%5Bredacted%5D&key=%5Bredacted%5D"},
		{"case and dashes", "X-Amz-Signature=s&Client-Secret=c", "X-Amz-Signature=%5Bredacted%5D&Client-Secret=%5Bredacted%5D"},
		{"escaped name", "access%5Ftoken=abc", "access%5Ftoken=%5Bredacted%5D"},
		{"name without value", "token&x=1", "token=%5Bredacted%5D&x=1"},
		{"lookalike kept", "keyboard=us&monkey=1", "keyboard=us&monkey=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := redactQuery(tt.in); got != tt.want {
				t.Errorf("redactQuery(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestRedactorPair(t *testing.T) {
	r := mustRedactor(t, []string{"x-api-key"}, []string{"/card/number"})
	in := Pair{
		Request: Request{
			Method: "POST", Path: "/pay", RawQuery: "token=s1&x=1",
			Header: http.Header{"Authorization": {"Bearer s2"}, "X-Api-Key": {"s3"}, "Accept": {"*/*"}, "X-Auth-Token": {"s4"}},
			Body:   []byte(`{"card":{"number":"s5","exp":"12/30"}}`),
		},
		Primary: Response{Status: 200, Header: http.Header{"Set-Cookie": {"sid=s6", "b=s7"}, "Content-Type": {"application/json"}},
			Body: []byte(`{"card":{"number":"s8"}}`)},
		Candidate: Response{Err: errors.New(`Get "http://new/pay?token=s1&x=1": connection refused`)},
		Secondary: &Response{Status: 200, Header: http.Header{"Cookie": {"s9"}}},
	}
	orig := clonePairForTest(in)
	got := r.Pair(in)
	want := Pair{
		Request: Request{
			Method: "POST", Path: "/pay", RawQuery: "token=%5Bredacted%5D&x=1",
			Header: http.Header{"Authorization": {Redacted}, "X-Api-Key": {Redacted}, "Accept": {"*/*"}, "X-Auth-Token": {Redacted}},
			Body:   []byte(`{"card":{"number":"[redacted]","exp":"12/30"}}`),
		},
		Primary: Response{Status: 200, Header: http.Header{"Set-Cookie": {Redacted, Redacted}, "Content-Type": {"application/json"}},
			Body: []byte(`{"card":{"number":"[redacted]"}}`)},
		Candidate: Response{Err: errors.New(`Get "http://new/pay?token=%5Bredacted%5D&x=1": connection refused`)},
		Secondary: &Response{Status: 200, Header: http.Header{"Cookie": {Redacted}}},
	}
	if diff := gocmp.Diff(got, want, cmpErrText); diff != "" {
		t.Errorf("Pair mismatch (-got +want):\n%s", diff)
	}
	if diff := gocmp.Diff(in, orig, cmpErrText); diff != "" {
		t.Errorf("Pair modified its input (-after +before):\n%s", diff)
	}
}

func TestRedactorDiffs(t *testing.T) {
	r := mustRedactor(t, []string{"X-Secret-Thing"}, []string{"/user/password", "/items/*/token"})
	in := []Difference{
		{Kind: KindJSON, Path: "/user/password", Field: "/user/password", Primary: `"s1"`, Candidate: `"s2"`},
		{Kind: KindJSON, Path: "/items/3/token", Field: "/items/*/token", Primary: `"s3"`, Candidate: `null`},
		{Kind: KindJSON, Path: "/user/password/hash", Field: "/user/password/hash", Primary: `"s4"`, Candidate: `"x"`},
		{Kind: KindJSON, Path: "/user", Field: "/user", Primary: `{"name":"ann","password":"s5"}`, Candidate: `null`},
		{Kind: KindJSON, Path: "/user/name", Field: "/user/name", Primary: `"ann"`, Candidate: `"bob"`},
		{Kind: KindHeader, Path: "X-Secret-Thing", Field: "X-Secret-Thing", Primary: "s6", Candidate: "s7"},
		{Kind: KindHeader, Path: "Set-Cookie", Field: "Set-Cookie", Primary: "sid=s8", Candidate: ""},
		{Kind: KindHeader, Path: "Etag", Field: "Etag", Primary: `"1"`, Candidate: `"2"`},
		{Kind: KindBody, Field: "body", Primary: `{"user":{"password":"s9"}}`, Candidate: `<html>`},
		{Kind: KindStatus, Field: "status", Primary: "200", Candidate: "500"},
	}
	want := []Difference{
		{Kind: KindJSON, Path: "/user/password", Field: "/user/password", Primary: Redacted, Candidate: Redacted},
		{Kind: KindJSON, Path: "/items/3/token", Field: "/items/*/token", Primary: Redacted, Candidate: Redacted},
		{Kind: KindJSON, Path: "/user/password/hash", Field: "/user/password/hash", Primary: Redacted, Candidate: Redacted},
		{Kind: KindJSON, Path: "/user", Field: "/user", Primary: `{"name":"ann","password":"[redacted]"}`, Candidate: `null`},
		{Kind: KindJSON, Path: "/user/name", Field: "/user/name", Primary: `"ann"`, Candidate: `"bob"`},
		{Kind: KindHeader, Path: "X-Secret-Thing", Field: "X-Secret-Thing", Primary: Redacted, Candidate: Redacted},
		{Kind: KindHeader, Path: "Set-Cookie", Field: "Set-Cookie", Primary: Redacted, Candidate: Redacted},
		{Kind: KindHeader, Path: "Etag", Field: "Etag", Primary: `"1"`, Candidate: `"2"`},
		{Kind: KindBody, Field: "body", Primary: `{"user":{"password":"[redacted]"}}`, Candidate: `<html>`},
		{Kind: KindStatus, Field: "status", Primary: "200", Candidate: "500"},
	}
	got := r.Diffs(in)
	if diff := gocmp.Diff(got, want); diff != "" {
		t.Errorf("Diffs mismatch (-got +want):\n%s", diff)
	}
	if in[0].Primary != `"s1"` {
		t.Errorf("Diffs modified its input: %q", in[0].Primary)
	}
}

// FuzzRedactJSON checks that redaction never panics, keeps valid JSON
// valid, and leaves no value under a redacted key.
func FuzzRedactJSON(f *testing.F) {
	for _, s := range []string{`{"password":"x"}`, `{"a":[{"password":{"b":1}}]}`, `[1,2]`, `{"a":`, `{}`, `{"password":[` + "\n"} {
		f.Add([]byte(s))
	}
	pats := []pointerPattern{{"password"}, {"a", "*", "password"}}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, _, cut := redactJSON(in, nil, pats)
		if !json.Valid(in) {
			return
		}
		if cut {
			t.Fatalf("redactJSON(%q) cut valid JSON to %q", in, out)
		}
		if !json.Valid(out) {
			t.Fatalf("redactJSON(%q) = %q, not JSON", in, out)
		}
		// Numbers as json.Number: valid JSON may hold numbers no float64
		// can (1.8e308).
		var v any
		dec := json.NewDecoder(bytes.NewReader(out))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		if m, ok := v.(map[string]any); ok {
			if p, ok := m["password"]; ok && p != Redacted {
				t.Fatalf("redactJSON(%q) = %q keeps /password", in, out)
			}
		}
	})
}

// cmpErrText compares errors by their text.
var cmpErrText = gocmp.Comparer(func(a, b error) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Error() == b.Error()
})

func clonePairForTest(p Pair) Pair {
	c := p
	c.Request.Header = p.Request.Header.Clone()
	c.Request.Body = append([]byte(nil), p.Request.Body...)
	c.Primary.Header = p.Primary.Header.Clone()
	c.Primary.Body = append([]byte(nil), p.Primary.Body...)
	if p.Secondary != nil {
		s := *p.Secondary
		s.Header = p.Secondary.Header.Clone()
		c.Secondary = &s
	}
	return c
}

// TestStoreNeverKeepsSecrets plants a secret in every place one can hide
// and checks that none reaches the database files or comes back out.
func TestStoreNeverKeepsSecrets(t *testing.T) {
	path := filepath.Join(t.TempDir(), StoreFile)
	s := openTestStore(t, path, StoreOptions{
		RedactHeaders: []string{"x-custom-key"},
		RedactJSON:    []string{"/card/number", "/items/*/pin"},
		MaxBody:       1 << 10,
	})
	closed := false
	defer func() {
		if !closed {
			s.Close()
		}
	}()
	p, r := secretPair(t)
	mustAdd(t, s, p, r)

	samples := readAllSamples(t, s)
	if len(samples) != len(distinctFields(r.Diffs)) {
		t.Fatalf("stored %d examples, want one per field (%d)", len(samples), len(distinctFields(r.Diffs)))
	}
	for _, sm := range samples {
		// %#v prints bodies as byte lists: add them as text.
		dump := fmt.Sprintf("%#v", sm) + string(sm.Request.Body) + string(sm.Primary.Body) + string(sm.Candidate.Body)
		checkNoSecret(t, "returned sample "+sm.Field, []byte(dump))
	}
	for _, format := range ReportFormats {
		var buf bytes.Buffer
		rep := Report{App: "shop", Examples: Examples{DirectionOldToNew: {"/pay": {}}}}
		for _, sm := range samples {
			rep.Examples[DirectionOldToNew]["/pay"][sm.Field] = sm
			rep.Endpoints = []EndpointStats{{Endpoint: "/pay", Requests: 1, Diffs: 1}}
			rep.Endpoints[0].Fields = append(rep.Endpoints[0].Fields, FieldStats{Path: sm.Field, Rate: 1})
		}
		if err := WriteReport(&buf, format, rep); err != nil {
			t.Fatal(err)
		}
		checkNoSecret(t, format+" report", buf.Bytes())
	}
	if got, want := string(samples[0].Candidate.Body), `{"card":{"number":"[redacted]","brand":"visa"}}`; got != want {
		t.Errorf("gzip candidate body stored as %q, want it decoded and redacted: %q", got, want)
	}
	checkFiles(t, path, true)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	closed = true
	checkFiles(t, path, false)
}

const secretMark = "S3CR3T"

// secretPair returns a pair and result with a distinct secret in each
// place the store must redact, and a visible marker in one it keeps.
func secretPair(t *testing.T) (Pair, Result) {
	sec := func(place string) string { return secretMark + "-" + place }
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	fmt.Fprintf(zw, `{"card":{"number":%q,"brand":"visa"}}`, sec("gzip-body"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	p := Pair{
		App: "shop", Endpoint: "/pay", At: t0,
		Request: Request{
			Method: "POST", Path: "/pay", Host: "shop.example.com",
			RawQuery: "token=" + sec("query") + "&api%5Fkey=" + sec("query-escaped") + "&visible=VISIBLE-MARKER",
			Header: http.Header{
				"Authorization":       {"Bearer " + sec("authorization")},
				"Proxy-Authorization": {"Basic " + sec("proxy-authorization")},
				"Cookie":              {"sid=" + sec("cookie")},
				"X-Custom-Key":        {sec("configured-header")},
				"X-Auth-Token":        {sec("named-header")},
			},
			Body: []byte(`{"card":{"number":"` + sec("request-json") + `"},"items":[{"pin":"` + sec("request-wildcard") + `"}]}`),
		},
		Primary: Response{
			Status: 200, Truncated: true,
			Header: http.Header{"Set-Cookie": {"sid=" + sec("set-cookie-primary")}, "x-custom-key": {sec("lowercase-header")}},
			// a capture cut inside the secret's value
			Body: []byte(`{"ok":true,"card":{"number":"` + sec("truncated-json")),
		},
		Candidate: Response{
			Status: 200,
			Header: http.Header{"Set-Cookie": {"sid=" + sec("set-cookie-candidate")}, "Content-Encoding": {"gzip"}},
			Body:   gz.Bytes(),
			Err:    fmt.Errorf(`Get "http://new/pay?token=%s&api%%5Fkey=%s&visible=VISIBLE-MARKER": reset`, sec("query"), sec("query-escaped")),
		},
		Secondary: &Response{Status: 200, Header: http.Header{"Set-Cookie": {sec("secondary")}},
			Body: []byte(`{"card":{"number":"` + sec("secondary-json") + `"}}`)},
	}
	r := Result{App: "shop", Endpoint: "/pay", Method: "POST", Outcome: OutcomeDiff, Diffs: []Difference{
		{Kind: KindJSON, Path: "/card/number", Field: "/card/number", Primary: `"` + sec("diff-primary") + `"`, Candidate: `"` + sec("diff-candidate") + `"`},
		{Kind: KindJSON, Path: "/card", Field: "/card", Primary: `{"number":"` + sec("diff-parent") + `"}`, Candidate: "null"},
		{Kind: KindHeader, Path: "Set-Cookie", Field: "Set-Cookie", Primary: sec("diff-header"), Candidate: ""},
		{Kind: KindHeader, Path: "X-Custom-Key", Field: "X-Custom-Key", Primary: sec("diff-configured-header"), Candidate: ""},
		{Kind: KindJSON, Path: "/ok", Field: "/ok", Primary: "true", Candidate: `"VISIBLE-MARKER"`},
	}}
	return p, r
}

func readAllSamples(t *testing.T, s *Store) []Sample {
	t.Helper()
	ex, err := s.Examples(t.Context(), "shop", DirectionOldToNew, "/pay")
	if err != nil {
		t.Fatal(err)
	}
	var out []Sample
	for _, f := range slices.Sorted(maps.Keys(ex)) {
		out = append(out, ex[f]...)
	}
	slices.SortFunc(out, func(a, b Sample) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

func checkNoSecret(t *testing.T, what string, b []byte) {
	t.Helper()
	if i := bytes.Index(b, []byte(secretMark)); i >= 0 {
		end := min(len(b), i+40)
		t.Errorf("%s: holds a secret: %q", what, b[i:end])
	}
}

// checkFiles reads the database and its WAL raw; open says whether the
// store is open (its data may still be in the WAL only).
func checkFiles(t *testing.T, path string, open bool) {
	t.Helper()
	var all []byte
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		b, err := os.ReadFile(path + suffix)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		checkNoSecret(t, filepath.Base(path+suffix), b)
		all = append(all, b...)
	}
	if !bytes.Contains(all, []byte("VISIBLE-MARKER")) {
		t.Errorf("database files (open=%v) lack the visible marker: the scan reads the wrong bytes", open)
	}
}

// FuzzRedactQuery checks that redaction keeps every parameter in place
// and changes exactly the values of secret ones.
func FuzzRedactQuery(f *testing.F) {
	for _, s := range []string{"a=1&token=x", "access%5Ftoken=1", "=&&=", "%zz=1&key", "password"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		out := redactQuery(q)
		in, got := strings.Split(q, "&"), strings.Split(out, "&")
		if q == "" {
			in = nil
			got = nil
			if out != "" {
				t.Fatalf("redactQuery(%q) = %q", q, out)
			}
		}
		if len(got) != len(in) {
			t.Fatalf("redactQuery(%q) = %q: %d parameters, want %d", q, out, len(got), len(in))
		}
		for i := range in {
			rawName, _, _ := strings.Cut(in[i], "=")
			name := rawName
			if un, err := url.QueryUnescape(rawName); err == nil {
				name = un
			}
			want := in[i]
			if isSecretName(name) {
				want = rawName + "=" + url.QueryEscape(Redacted)
			}
			if got[i] != want {
				t.Fatalf("redactQuery(%q) parameter %d = %q, want %q", q, i, got[i], want)
			}
		}
	})
}
