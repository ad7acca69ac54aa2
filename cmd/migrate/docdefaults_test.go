package main

import (
	"bytes"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/migratekit/migrate/manifest"
)

// everySection is a manifest whose app has every optional section that
// has defaults, so that each default can be looked up after Load.
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

// A docDefault is a default stated in prose: phrase is the text around
// it, with {} where the value stands, and key the manifest key whose
// loaded default it must be. Keys are those of an app (old.passive.cooldown)
// or of defaults: only (limits.header_bytes).
type docDefault struct{ key, phrase string }

// readmeDefaults are the defaults the README states. A new statement of a
// default in the README belongs here.
var readmeDefaults = []docDefault{
	{"limits.header_bytes", "`defaults.limits.header_bytes` (default `{}`)"},
	{"limits.client_body_timeout", "`defaults.limits.client_body_timeout` (default `{}`,"},
	{"upgrades", "`upgrades` (default `{}`;"},
	{"admin.token_env", "`admin.token_env` names (`{}` by default,"},
	{"cutover.cookie", "or a `{}` cookie)"},
	{"old.passive.cooldown", "`passive.cooldown` ({});"},
	{"shadow.sample", "(default: {} of GET/HEAD)"},
	{"shadow.direction", "`shadow.direction` narrows it: `{}` (default)"},
	{"rollback.window", "over a sliding window ({} by default)"},
	{"rollback.confidence", "confidence bounds ({} by default)"},
	{"rollback.fast_breaker.min_requests", "on gross failure ({} requests at"},
	{"rollback.fast_breaker.error_rate", "requests at {} errors within"},
	{"rollback.fast_breaker.window", "errors within {})."},
	{"dns_check.timeout", "`timeout` ({} a query)"},
	{"dns_check.retries", "`retries` ({}, after a timeout)"},
	{"dns_check.rate", "`rate` ({} queries a second per server)"},
	{"dns_check.interval", "`interval` and `max_interval` ({} backing off to"},
	{"dns_check.max_interval", "backing off to {}, for `dnscheck watch`"},
	{"logs.old.max_line", "`max_line` ({}; longer lines are split)"},
	{"logs.old.flush_timeout", "`flush_timeout` ({} before a last line"},
	{"logs.sink.batch_size", "`batch_size` ({}),"},
	{"logs.sink.batch_bytes", "`batch_bytes` ({}),"},
	{"logs.sink.batch_wait", "`batch_wait` ({}),"},
	{"logs.sink.timeout", "`timeout` ({} a request)"},
	{"logs.sink.max_backoff", "`max_backoff` ({} between retries"},
	{"data.settle", "`settle` ({}),"},
	{"data.interval", "`interval` ({}, between checks"},
	{"data.chunk_rows", "`chunk_rows` ({})."},
}

// helpDefaults are the defaults the commands' help texts state.
var helpDefaults = []docDefault{
	{"cutover.step_min", "cutover.step_min (default {})"},
	{"admin.token_env", "admin.token_env (default {})."},
	{"dns_check.timeout", "--timeout duration timeout of one query (default {})"},
	{"dns_check.retries", "--retries int retries after a failed query, with backoff (default {})"},
	{"dns_check.rate", "--rate float most queries per second to one server (default {})"},
}

// TestREADMEDefaults checks every default the README states against the
// one Load applies (package manifest declares each once).
func TestREADMEDefaults(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	checkDocDefaults(t, "README.md", string(readme), readmeDefaults)
}

// TestHelpDefaults checks every default a command's help states against
// the one Load applies.
func TestHelpDefaults(t *testing.T) {
	t.Parallel()
	checkDocDefaults(t, "help", helpText(newCmdRoot(&iostreams{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}})), helpDefaults)
}

// TestStarterStatesDefaults checks that the defaults: section `migrate
// init` writes states the built-in defaults, not other values: the
// starter is the same manifest without it.
func TestStarterStatesDefaults(t *testing.T) {
	t.Parallel()
	starter := string(manifest.Starter("web", "http://127.0.0.1:3000", "http://127.0.0.1:4000"))
	start, end := strings.Index(starter, "\ndefaults:\n"), strings.Index(starter, "\napps:\n")
	if start < 0 || end < start {
		t.Fatalf("starter has no defaults: section before apps:\n%s", starter)
	}
	with := mustParse(t, starter)
	without := mustParse(t, starter[:start]+starter[end:])
	if diff := cmp.Diff(without.Global, with.Global); diff != "" {
		t.Errorf("defaults: of the starter, process-wide (-built-in +starter):\n%s", diff)
	}
	if diff := cmp.Diff(without.Apps, with.Apps); diff != "" {
		t.Errorf("defaults: of the starter (-built-in +starter):\n%s", diff)
	}
}

func checkDocDefaults(t *testing.T, doc, text string, defaults []docDefault) {
	m := mustParse(t, everySection)
	text = strings.Join(strings.Fields(text), " ")
	for _, d := range defaults {
		t.Run(d.key, func(t *testing.T) {
			stated, ok := statedValue(text, d.phrase)
			if !ok {
				t.Fatalf("%s does not say %q", doc, d.phrase)
			}
			want, err := setting(m, d.key)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeAs(stated, want.Type())
			if err != nil {
				t.Fatalf("%s states %q for %s: %v", doc, stated, d.key, err)
			}
			if diff := cmp.Diff(want.Interface(), got.Interface()); diff != "" {
				t.Errorf("%s states %s %q, Load applies %s (-loaded +stated):\n%s", doc, d.key, stated, yamlString(want), diff)
			}
		})
	}
}

// statedValue finds phrase in text and returns what stands at its {}.
func statedValue(text, phrase string) (string, bool) {
	before, after, _ := strings.Cut(phrase, "{}")
	re := regexp.MustCompile(regexp.QuoteMeta(before) + "([^()]{1,40}?)" + regexp.QuoteMeta(after))
	sub := re.FindStringSubmatch(text)
	if sub == nil {
		return "", false
	}
	return sub[1], true
}

// setting is the value of key (yaml names, dotted) in m: a process-wide
// setting, else one of its only app's.
func setting(m *manifest.Manifest, key string) (reflect.Value, error) {
	if v, ok := field(reflect.ValueOf(m.Global), strings.Split(key, ".")); ok {
		return v, nil
	}
	for _, a := range m.Apps {
		if v, ok := field(reflect.ValueOf(*a), strings.Split(key, ".")); ok {
			return v, nil
		}
	}
	return reflect.Value{}, fmt.Errorf("no setting %s in the manifest", key)
}

func field(v reflect.Value, path []string) (reflect.Value, bool) {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return v, false
		}
		v = v.Elem()
	}
	if len(path) == 0 {
		return v, true
	}
	if v.Kind() != reflect.Struct {
		return v, false
	}
	for i := range v.NumField() {
		if name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ","); name == path[0] {
			return field(v.Field(i), path[1:])
		}
	}
	return v, false
}

// decodeAs reads s as a YAML value of type typ, the way the manifest
// would read it; prose may space a duration ("30 s").
func decodeAs(s string, typ reflect.Type) (reflect.Value, error) {
	v := reflect.New(typ)
	err := yaml.Unmarshal([]byte(s), v.Interface())
	if err != nil && typ == reflect.TypeFor[manifest.Duration]() {
		err = yaml.Unmarshal([]byte(strings.ReplaceAll(s, " ", "")), v.Interface())
	}
	return v.Elem(), err
}

func yamlString(v reflect.Value) string {
	out, err := yaml.Marshal(v.Interface())
	if err != nil {
		return fmt.Sprint(v.Interface())
	}
	return strings.TrimSpace(string(out))
}

// helpText is every command's help, with each flag's line as --help
// prints it.
func helpText(c *cobra.Command) string {
	var b strings.Builder
	b.WriteString(c.Long + "\n" + c.Short + "\n")
	c.LocalFlags().VisitAll(func(f *pflag.Flag) {
		name, usage := pflag.UnquoteUsage(f)
		fmt.Fprintf(&b, "--%s %s %s", f.Name, name, usage)
		if f.DefValue != "" && f.DefValue != "[]" && f.DefValue != "false" {
			fmt.Fprintf(&b, " (default %s)", f.DefValue)
		}
		b.WriteString("\n")
	})
	for _, sub := range c.Commands() {
		b.WriteString(helpText(sub))
	}
	return b.String()
}

func mustParse(t *testing.T, yamlText string) *manifest.Manifest {
	t.Helper()
	m, err := manifest.Parse("test.yaml", []byte(yamlText))
	if err != nil {
		t.Fatalf("parsing the test manifest: %v", err)
	}
	return m
}
