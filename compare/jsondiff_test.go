package compare

import (
	"encoding/json"
	"fmt"
	"hash/maphash"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// jsonDiffs diffs two JSON documents under r, as the engine does.
func jsonDiffs(t testing.TB, r Rules, a, b string) []Difference {
	t.Helper()
	out := runJSONDiff(t, r, a, b, DefaultMaxDiffs)
	return out.diffs
}

func runJSONDiff(t testing.TB, r Rules, a, b string, maxDiffs int) diffList {
	t.Helper()
	rs, err := newRuleSet(&r)
	if err != nil {
		t.Fatalf("newRuleSet: %v", err)
	}
	d := &differ{seed: maphash.MakeSeed()}
	if err := d.a.parse([]byte(a)); err != nil {
		t.Fatalf("parsing %s: %v", a, err)
	}
	if err := d.b.parse([]byte(b)); err != nil {
		t.Fatalf("parsing %s: %v", b, err)
	}
	out := diffList{max: maxDiffs, excerpt: DefaultExcerptSize}
	d.run(rs.json, rs.tol, &out)
	return out
}

func jd(path, field, p, c string) Difference {
	return Difference{Kind: KindJSON, Path: path, Field: field, Primary: p, Candidate: c}
}

func TestJSONDiff(t *testing.T) {
	tests := []struct {
		name  string
		rules Rules
		a, b  string
		want  []Difference
	}{
		{name: "key order never matters", a: `{"a":1,"b":[1,2],"c":{"x":true,"y":null}}`, b: `{"c":{"y":null,"x":true},"b":[1,2],"a":1}`},
		{name: "whitespace", a: `{"a": [1, 2]}`, b: "{\n\t\"a\":[1,2]\n}"},
		{name: "nested change", a: `{"a":{"b":{"c":1}}}`, b: `{"a":{"b":{"c":2}}}`,
			want: []Difference{jd("/a/b/c", "/a/b/c", "1", "2")}},
		{name: "nested change in reordered object", a: `{"z":0,"a":{"b":"x"}}`, b: `{"a":{"b":"y"},"z":0}`,
			want: []Difference{jd("/a/b", "/a/b", `"x"`, `"y"`)}},
		{name: "array by index", a: `{"items":[{"p":1},{"p":2}]}`, b: `{"items":[{"p":1},{"p":3}]}`,
			want: []Difference{jd("/items/1/p", "/items/*/p", "2", "3")}},
		{name: "array longer", a: `[1,2]`, b: `[1,2,{"a": 3}]`,
			want: []Difference{jd("/2", "/*", Absent, `{"a":3}`)}},
		{name: "array reordered by index", a: `[1,2]`, b: `[2,1]`,
			want: []Difference{jd("/0", "/*", "1", "2"), jd("/1", "/*", "2", "1")}},
		{name: "set reordered", rules: Rules{Sets: []string{"/tags"}},
			a: `{"tags":["a","b",{"k":[1,2]}]}`, b: `{"tags":[{"k":[1,2]},"b","a"]}`},
		{name: "set counts repeats", rules: Rules{Sets: []string{"/tags"}}, a: `{"tags":["a","a"]}`, b: `{"tags":["a"]}`,
			want: []Difference{jd("/tags/1", "/tags/*", `"a"`, Absent)}},
		{name: "set pairs leftovers and diffs them", rules: Rules{Sets: []string{"/items"}},
			a:    `{"items":[{"id":1,"p":1},{"id":2,"p":2},{"id":3,"p":3}]}`,
			b:    `{"items":[{"id":3,"p":3},{"p":2,"id":2},{"id":1,"p":5}]}`,
			want: []Difference{jd("/items/0/p", "/items/*/p", "1", "5")}},
		{name: "set with ignored field inside", rules: Rules{Sets: []string{"/items"}, Ignore: []string{"/items/*/etag"}},
			a: `{"items":[{"id":1,"etag":"x"},{"id":2,"etag":"y"}]}`,
			b: `{"items":[{"id":2,"etag":"q"},{"id":1}]}`},
		{name: "numbers by value", a: `[1, 1.0, 1e0, 10e-1, 0.1e1, 0, -0, 100, 1.5E+2]`, b: `[1.00, 1, 1, 1, 1, -0.0, 0e10, 1e2, 150]`},
		{name: "numbers past float64 precision", a: `[12345678901234567890, 1]`, b: `[12345678901234567891, 1.0000000000000000000001]`,
			want: []Difference{jd("/0", "/*", "12345678901234567890", "12345678901234567891"), jd("/1", "/*", "1", "1.0000000000000000000001")}},
		{name: "absolute tolerance", rules: Rules{Tolerance: Tolerance{Absolute: 0.01}}, a: `[1.0, 1.0]`, b: `[1.005, 1.02]`,
			want: []Difference{jd("/1", "/*", "1.0", "1.02")}},
		{name: "relative tolerance", rules: Rules{Tolerance: Tolerance{Relative: 0.01}}, a: `[100, 100]`, b: `[100.5, 102]`,
			want: []Difference{jd("/1", "/*", "100", "102")}},
		{name: "type change", a: `{"a":1,"b":[],"c":true}`, b: `{"a":"1","b":{},"c":"true"}`,
			want: []Difference{jd("/a", "/a", "1", `"1"`), jd("/b", "/b", "[]", "{}"), jd("/c", "/c", "true", `"true"`)}},
		{name: "boolean value", a: `{"ok":true}`, b: `{"ok":false}`, want: []Difference{jd("/ok", "/ok", "true", "false")}},
		{name: "missing is not null", a: `{"a":null,"b":1}`, b: `{"b":1,"c":null}`,
			want: []Difference{jd("/a", "/a", "null", Absent), jd("/c", "/c", Absent, "null")}},
		{name: "pointer escapes / and ~", a: `{"a/b":{"c~d":1}}`, b: `{"a/b":{"c~d":2}}`,
			want: []Difference{jd("/a~1b/c~0d", "/a~1b/c~0d", "1", "2")}},
		{name: "string escapes are decoded", a: `{"s":"\u00e9\n","\u0061":"\ud83d\ude00"}`, b: `{"a":"😀","s":"é\u000a"}`},
		{name: "escaped key differs", a: `{"\u0061":1}`, b: `{"b":1}`,
			want: []Difference{jd("/a", "/a", "1", Absent), jd("/b", "/b", Absent, "1")}},
		{name: "ignore patterns", rules: Rules{Ignore: []string{"/meta/generated_at", "/items/*/etag"}},
			a: `{"meta":{"generated_at":"t1","v":1},"items":[{"etag":"a","n":1},{"etag":"b"}]}`,
			b: `{"meta":{"v":1},"items":[{"etag":"c","n":1},{"etag":"d"}]}`},
		{name: "ignore does not hide neighbours", rules: Rules{Ignore: []string{"/items/*/etag"}},
			a: `{"items":[{"etag":"a","n":1}]}`, b: `{"items":[{"etag":"c","n":2}]}`,
			want: []Difference{jd("/items/0/n", "/items/*/n", "1", "2")}},
		{name: "ignore any depth", rules: Rules{Ignore: []string{"/**/updated_at"}},
			a: `{"updated_at":1,"a":{"b":[{"updated_at":2}]}}`, b: `{"updated_at":3,"a":{"b":[{"updated_at":4}]}}`},
		{name: "ignore escaped key", rules: Rules{Ignore: []string{"/a~1b"}}, a: `{"a/b":1}`, b: `{"a/b":2}`},
		{name: "ignore an array index", rules: Rules{Ignore: []string{"/list/0"}}, a: `{"list":[1,2]}`, b: `{"list":[9,2]}`},
		{name: "any value, same type", rules: Rules{Any: []string{"/id", "/ts"}},
			a: `{"id":"abc","ts":1}`, b: `{"id":"xyz","ts":2}`},
		{name: "any value, other type or absent", rules: Rules{Any: []string{"/id", "/ts"}},
			a: `{"id":1,"ts":1}`, b: `{"id":"1"}`,
			want: []Difference{jd("/id", "/id", "1", `"1"`), jd("/ts", "/ts", "1", Absent)}},
		{name: "root scalar", a: `1`, b: `2`, want: []Difference{jd("", "", "1", "2")}},
		{name: "repeated key, last wins", a: `{"a":1,"a":2}`, b: `{"a":2}`},
		{name: "long values are cut", a: fmt.Sprintf(`{"s":"%0300d"}`, 0), b: `{"s":"x"}`,
			want: []Difference{jd("/s", "/s", `"`+fmt.Sprintf("%0255d", 0)+"…", `"x"`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := jsonDiffs(t, tt.rules, tt.a, tt.b)
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("diff(a, b) mismatch (-got +want):\n%s", diff)
			}
			back := jsonDiffs(t, tt.rules, tt.b, tt.a)
			if (len(got) == 0) != (len(back) == 0) {
				t.Errorf("diff(a, b) has %d differences, diff(b, a) %d", len(got), len(back))
			}
		})
	}
}

func TestJSONDiffBoundsDifferences(t *testing.T) {
	out := runJSONDiff(t, Rules{}, `[1,2,3,4,5]`, `[6,7,8,9,10]`, 3)
	if got, want := len(out.diffs), 3; got != want {
		t.Errorf("listed %d differences, want %d", got, want)
	}
	if got, want := out.omitted, 2; got != want {
		t.Errorf("omitted %d differences, want %d", got, want)
	}
}

func TestJSONRulesRejectBadPatterns(t *testing.T) {
	tests := []struct {
		name  string
		rules Rules
		want  string
	}{
		{"no leading slash", Rules{Ignore: []string{"meta/x"}}, `parsing JSON pattern "meta/x": must start with /`},
		{"bad tilde", Rules{Any: []string{"/a~2"}}, `parsing JSON pattern "/a~2": segment "a~2": ~ must be followed by 0 or 1`},
		{"bad header", Rules{IgnoreHeaders: []string{"X Bad"}}, `parsing ignored header "X Bad": not a header name`},
		{"negative tolerance", Rules{Tolerance: Tolerance{Absolute: -1}}, `checking tolerance {Absolute:-1 Relative:0}: negative`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newRuleSet(&tt.rules)
			if err == nil {
				t.Fatalf("newRuleSet(%+v) = nil error, want %q", tt.rules, tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTapeAgreesWithEncodingJSON(t *testing.T) {
	docs := []string{
		`{}`, `[]`, `""`, `0`, `-0`, `1.5e-3`, ` {"a" : [ true , false , null ] } `, `"\u00e9\ud83d\ude00"`,
		`01`, `1.`, `.5`, `-`, `1e`, `+1`, `[1,]`, `{"a":1,}`, `{"a" 1}`, `{1:2}`, `"\x"`, `"\u12"`, "\"\x01\"",
		`tru`, `nul`, `[1] [2]`, `{"a":1}}`, ``, ` `, `"abc`, `[`, `{"a":`,
	}
	for _, doc := range docs {
		t.Run(doc, func(t *testing.T) {
			var tp tape
			got := tp.parse([]byte(doc)) == nil
			if want := json.Valid([]byte(doc)); got != want {
				t.Errorf("parse(%q) ok = %v, json.Valid = %v", doc, got, want)
			}
		})
	}
}

func TestJSONDiffRepeatedKeysInOrder(t *testing.T) {
	got := jsonDiffs(t, Rules{}, `{"a":1,"b":0,"a":2}`, `{"a":3,"b":0,"a":2}`)
	if len(got) != 0 {
		t.Errorf("diff = %+v, want none: the last value of a repeated key wins", got)
	}
	got = jsonDiffs(t, Rules{}, `{"a":1,"a":2}`, `{"a":1,"a":3}`)
	if want := []Difference{jd("/a", "/a", "2", "3")}; !cmp.Equal(got, want) {
		t.Errorf("diff = %+v, want %+v", got, want)
	}
}
