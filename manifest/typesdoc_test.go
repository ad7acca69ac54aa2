package manifest_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/migratekit/migrate/manifest"
)

// everySection has every optional section that has defaults, so that each
// default can be read after Parse.
const everySection = `apps:
  web:
    old: {backends: [http://127.0.0.1:3000]}
    new: {backends: [http://127.0.0.1:4000]}
    cors: {origins: [https://a.example]}
    rollback:
      source: prometheus
      prometheus: {url: http://127.0.0.1:9090}
      hooks: [{command: [/bin/true]}]
    logs:
      old: {paths: [/var/log/web.log], format: json}
      sink: {type: embedded}
    data: {old: {dsn_env: OLD_DSN}, new: {dsn_env: NEW_DSN}}
`

// statedDefault finds the default a field's comment states: "default 5s",
// "Default 16KiB", "default: 100%", or "round_robin (default)".
var statedDefault = []*regexp.Regexp{
	regexp.MustCompile(`[Dd]efault:? ("[^"]*"|[^\s;,()]+?)[.;,)]?(?:\s|$)`),
	regexp.MustCompile(`("[^"]*"|[^\s(]+) \(default[),]`),
}

// notAValue are the words a comment may follow "default" with that are
// not a value.
var notAValue = map[string]bool{"the": true, "a": true, "an": true, "echo": true, "from": true, "is": true, "applies": true, "keeps": true, "when": true}

// described are the fields whose comment describes their default in words
// rather than stating it.
var described = map[string]bool{
	"DNSCheck.Resolvers": true, // "replace the default panel"
	"LogSink.Admin":      true, // "http:// and admin.listen"
	"PromSource.P99":     true, // "histogram_quantile over ..."
}

// statedList finds a list default: "default GET, HEAD".
var statedList = regexp.MustCompile(`[Dd]efault:? ([A-Za-z0-9_]+(?:, [A-Za-z0-9_]+)*)`)

// TestTypesDocDefaults checks every default the comments of types.go state
// against the one Load applies, so that the Go documentation of the
// manifest cannot drift from package manifest's declared defaults.
func TestTypesDocDefaults(t *testing.T) {
	t.Parallel()
	m, err := manifest.Parse("web.yaml", []byte(everySection))
	if err != nil {
		t.Fatal(err)
	}
	loaded := map[string]reflect.Value{} // by "Type.Field"
	collect(reflect.ValueOf(m.Global), loaded)
	collect(reflect.ValueOf(*m.Apps["web"]), loaded)
	checked := 0
	comments := fieldComments(t, "types.go")
	maps.Copy(comments, fieldComments(t, "types_data.go"))
	for field, comment := range comments {
		stated, ok := stated(comment)
		if !ok {
			continue
		}
		want, ok := loaded[field]
		if !ok || described[field] {
			continue // a type the manifest holds no value of here, or a default in words
		}
		if want.Kind() == reflect.Slice && !strings.HasPrefix(stated, "[") {
			if sub := statedList.FindStringSubmatch(strings.Join(strings.Fields(comment), " ")); sub != nil {
				stated = "[" + sub[1] + "]"
			}
		}
		stated = strings.ReplaceAll(stated, "<app>", "web")
		checked++
		got := reflect.New(want.Type())
		if err := yaml.Unmarshal([]byte(stated), got.Interface()); err != nil {
			t.Errorf("%s: its comment states default %q: %v", field, stated, err)
			continue
		}
		if diff := cmp.Diff(want.Interface(), got.Elem().Interface()); diff != "" {
			t.Errorf("%s: its comment states default %q, Load applies another (-loaded +stated):\n%s", field, stated, diff)
		}
	}
	if checked < 50 {
		t.Errorf("checked %d stated defaults, want every one of types.go (over 50)", checked)
	}
}

func stated(comment string) (string, bool) {
	comment = strings.Join(strings.Fields(comment), " ")
	for _, re := range statedDefault {
		if sub := re.FindStringSubmatch(comment); sub != nil && !notAValue[sub[1]] {
			return sub[1], true
		}
	}
	return "", false
}

// collect records the value of every field of v's structs by
// "Type.Field", following pointers and the first element of slices.
func collect(v reflect.Value, into map[string]reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			collect(v.Elem(), into)
		}
	case reflect.Slice:
		if v.Len() > 0 && v.Index(0).Kind() == reflect.Struct {
			collect(v.Index(0), into)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			fv := v.Field(i)
			key := v.Type().Name() + "." + f.Name
			if _, seen := into[key]; !seen {
				for fv.Kind() == reflect.Pointer && !fv.IsNil() {
					fv = fv.Elem()
				}
				if fv.Kind() != reflect.Pointer {
					into[key] = fv
				}
			}
			collect(v.Field(i), into)
		}
	}
}

// fieldComments are the doc and line comments of the struct fields of
// file, by "Type.Field".
func fieldComments(t *testing.T, file string) map[string]string {
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok {
			return true
		}
		st, ok := ts.Type.(*ast.StructType)
		if !ok {
			return false
		}
		for _, fl := range st.Fields.List {
			text := fl.Doc.Text() + " " + fl.Comment.Text()
			for _, name := range fl.Names {
				out[ts.Name.Name+"."+name.Name] = text
			}
		}
		return false
	})
	return out
}
