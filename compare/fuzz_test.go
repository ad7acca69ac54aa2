package compare

import (
	"bytes"
	"encoding/json"
	"hash/maphash"
	"math/big"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzJSONDiff: the parser accepts exactly what encoding/json accepts; a
// document never differs from itself; "no difference" is symmetric; and
// it agrees with decoding both documents and comparing them by value.
func FuzzJSONDiff(f *testing.F) {
	seeds := [][2]string{
		{`{"a":1,"b":[1,2]}`, `{"b":[1,2],"a":1}`},
		{`[1, 1.0, 1e0]`, `[1.0, 1, 10e-1]`},
		{`{"a/b":{"c~d":"\u00e9"}}`, `{"a/b":{"c~d":"é"}}`},
		{`{"a":1,"a":2}`, `{"a":2}`},
		{`{"items":[{"id":1},{"id":2}]}`, `{"items":[{"id":2},{"id":1}]}`},
		{`"x"`, `null`},
		{`[[[[]]]]`, `[[[{}]]]`},
		{`-0`, `0e5`},
		{`{"\ud800":1}`, `{"\ufffd":1}`},
		{`not json`, `{}`},
	}
	for _, s := range seeds {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		d := &differ{seed: maphash.MakeSeed()}
		okA, okB := d.a.parse(a) == nil, d.b.parse(b) == nil
		if okA != json.Valid(a) {
			t.Fatalf("parse(%q) ok = %v, json.Valid disagrees", a, okA)
		}
		if !okA || okB != json.Valid(b) {
			if okB != json.Valid(b) {
				t.Fatalf("parse(%q) ok = %v, json.Valid disagrees", b, okB)
			}
			return
		}
		if diffs := fuzzDiff(d, a, a); len(diffs) != 0 {
			t.Fatalf("diff(a, a) = %+v, want none", diffs)
		}
		if !okB {
			return
		}
		ab, ba := fuzzDiff(d, a, b), fuzzDiff(d, b, a)
		if (len(ab) == 0) != (len(ba) == 0) {
			t.Fatalf("diff(a, b) = %+v but diff(b, a) = %+v", ab, ba)
		}
		if eq, ok := oracleEqual(a, b); ok && eq != (len(ab) == 0) {
			t.Fatalf("decoded documents equal = %v, but diff(a, b) = %+v", eq, ab)
		}
		// the same with every array a set and some keys ignored or loose
		if diffs := fuzzDiffRules(d, fuzzRules, a, a); len(diffs) != 0 {
			t.Fatalf("with rules: diff(a, a) = %+v, want none", diffs)
		}
		ab, ba = fuzzDiffRules(d, fuzzRules, a, b), fuzzDiffRules(d, fuzzRules, b, a)
		if (len(ab) == 0) != (len(ba) == 0) {
			t.Fatalf("with rules: diff(a, b) = %+v but diff(b, a) = %+v", ab, ba)
		}
	})
}

var fuzzRules = func() *jsonRules {
	r := newJSONRules()
	for _, p := range []struct {
		pattern string
		flag    ruleFlag
	}{{"/**", flagSet}, {"/**/x", flagIgnore}, {"/**/y", flagAny}, {"/a/*/b", flagIgnore}} {
		if err := r.add(p.pattern, p.flag); err != nil {
			panic(err)
		}
	}
	return r
}()

func fuzzDiff(d *differ, a, b []byte) []Difference {
	return fuzzDiffRules(d, newJSONRules(), a, b)
}

func fuzzDiffRules(d *differ, rules *jsonRules, a, b []byte) []Difference {
	if d.a.parse(a) != nil || d.b.parse(b) != nil {
		panic("fuzzDiff: documents must parse")
	}
	out := diffList{max: 1000, excerpt: 64}
	d.run(rules, Tolerance{}, &out)
	return out.diffs
}

// oracleEqual compares two documents decoded by encoding/json, numbers as
// exact rationals; ok is false where the oracle does not apply (invalid
// UTF-8, which encoding/json replaces, or numbers too large for big.Rat).
func oracleEqual(a, b []byte) (eq, ok bool) {
	if !utf8.Valid(a) || !utf8.Valid(b) {
		return false, false
	}
	va, okA := decodeNumbers(a)
	vb, okB := decodeNumbers(b)
	if !okA || !okB {
		return false, false
	}
	return valuesEqual(va, vb)
}

func decodeNumbers(doc []byte) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	return v, true
}

func valuesEqual(x, y any) (eq, ok bool) {
	switch x := x.(type) {
	case map[string]any:
		y, isMap := y.(map[string]any)
		if !isMap || len(x) != len(y) {
			return false, true
		}
		for k, vx := range x {
			vy, has := y[k]
			if !has {
				return false, true
			}
			if eq, ok := valuesEqual(vx, vy); !eq || !ok {
				return eq, ok
			}
		}
		return true, true
	case []any:
		y, isSlice := y.([]any)
		if !isSlice || len(x) != len(y) {
			return false, true
		}
		for i := range x {
			if eq, ok := valuesEqual(x[i], y[i]); !eq || !ok {
				return eq, ok
			}
		}
		return true, true
	case json.Number:
		y, isNum := y.(json.Number)
		if !isNum {
			return false, true
		}
		rx, okX := exactNumber(x)
		ry, okY := exactNumber(y)
		if !okX || !okY {
			return false, false
		}
		return rx.Cmp(ry) == 0, true
	}
	return x == y, true
}

func exactNumber(n json.Number) (*big.Rat, bool) {
	s := string(n)
	if i := strings.IndexAny(s, "eE"); i >= 0 && len(s)-i > 4 {
		return nil, false // an exponent past 999: too costly as a rational
	}
	return new(big.Rat).SetString(s)
}

// FuzzTemplate: templating never panics, never grows a path by more than
// a constant, is idempotent, leaves no identifier-like segment, and the
// tree learned from every input the fuzzer sends stays within its bound
// (hostile traffic cannot grow it).
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{
		"/users/123", "/users/123/posts/550e8400-e29b-41d4-a716-446655440000?x=1", "/giveaways/7/entries",
		"/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s", "", "x", "/static/css/app.css", "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17",
		"/files/deadbeef12", "/t/aGVsbG8gd29ybGQgMTIzNDU2Nzg5MA", "//", "/users/:id", "/**", "/u/me@example.com",
	} {
		f.Add(s)
	}
	routes := []string{"/users/:id", "/giveaways/:id/entries", "/static/**", "/a/*/c"}
	tm, err := NewTemplater(routes)
	if err != nil {
		f.Fatal(err)
	}
	inferOnly := &Templater{}
	f.Fuzz(func(t *testing.T, path string) {
		for _, tm := range []*Templater{tm, inferOnly} {
			got := tm.Template(path)
			if len(got) > len(path)+5*maxSegments+4 {
				t.Fatalf("Template(%q) = %q: longer than input + %d", path, got, 5*maxSegments+4)
			}
			if again := tm.Template(got); again != got {
				t.Fatalf("Template(%q) = %q, but Template(%q) = %q", path, got, got, again)
			}
			if strings.ContainsAny(got, "?#") {
				t.Fatalf("Template(%q) = %q keeps a query or fragment", path, got)
			}
		}
		for _, seg := range strings.Split(inferOnly.Template(path), "/") {
			if isID(seg) {
				t.Fatalf("Template(%q) keeps identifier %q", path, seg)
			}
		}
		if n := tm.tree.size(); n > inferMaxNodes {
			t.Fatalf("the learned tree has %d nodes, over its bound %d", n, inferMaxNodes)
		}
	})
}

// FuzzTextExcerpt: any two texts render without panicking, within the
// limit (plus the cut mark), as halves of one hunk.
func FuzzTextExcerpt(f *testing.F) {
	f.Add("a\nb\nc\n", "a\nB\nc\n", 64)
	f.Add("ab\ncd", "ab\nXcd", 8)
	f.Add("", "x\n", 1)
	f.Fuzz(func(t *testing.T, a, b string, limit int) {
		limit = 1 + abs(limit)%512
		p, c := textExcerpt([]byte(a), []byte(b), limit)
		for _, half := range []string{p, c} {
			if len(half) > limit+len("…") {
				t.Fatalf("textExcerpt(%q, %q, %d) half %q is over the limit", a, b, limit, half)
			}
		}
		if !strings.HasPrefix(p, "@@ -"[:min(limit, 4)]) || !strings.HasPrefix(c, "@@ +"[:min(limit, 4)]) {
			t.Fatalf("textExcerpt(%q, %q) = %q, %q: not hunk halves", a, b, p, c)
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
