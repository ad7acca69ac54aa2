package replay

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/migratekit/migrate/compare"
	"github.com/migratekit/migrate/logship"
	"github.com/migratekit/migrate/manifest"
)

// TestOnlySafeRequestsReachTheBackends replays a combined log with GETs, a
// HEAD, a POST and junk: only the GETs and the HEAD reach old, new and the
// secondary; the POST is counted skipped_unsafe, the junk unparseable with
// its line numbers.
func TestOnlySafeRequestsReachTheBackends(t *testing.T) {
	oldB, newB, secB := newBackend(t, "10"), newBackend(t, "10"), newBackend(t, "10")
	app := testApp(oldB.URL, newB.URL)
	app.Shadow.Secondary = []string{secB.URL}
	log := strings.Join([]string{
		combined("GET", "/items/1"),
		"this is not a log line",
		combined("POST", "/items/2"),
		"",
		combined("GET", "/items/3?color=red"),
		`203.0.113.7 - - [10/Oct/2025:13:55:36 +0000] "GET /items/4 HTTP/1.1" 200`,
		combined("HEAD", "/items/5"),
	}, "\n")
	engine := newEngine(t, app)
	_, st, err := Run(context.Background(), Options{App: app, Log: strings.NewReader(log), Engine: engine})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []struct {
		name string
		b    *backend
	}{{"old", oldB}, {"new", newB}, {"secondary", secB}} {
		t.Run(b.name, func(t *testing.T) {
			var got []string
			for _, h := range b.b.seen() {
				got = append(got, h.Method+" "+h.URI)
			}
			want := []string{"GET /items/1", "GET /items/3?color=red", "HEAD /items/5"}
			if diff := cmp.Diff(got, want, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
				t.Errorf("requests (-got +want):\n%s", diff)
			}
		})
	}
	t.Run("stats", func(t *testing.T) {
		want := Stats{
			Lines: 7, Replayed: 3, Skipped: 1, Unparseable: 2,
			Outcomes: map[compare.Outcome]int{compare.OutcomeMatch: 3},
			BadLines: []BadLine{{2, logship.ErrMismatch.Error()}, {6, logship.ErrMismatch.Error()}},
		}
		if diff := cmp.Diff(st, want, cmpopts.IgnoreFields(Stats{}, "Elapsed")); diff != "" {
			t.Errorf("stats (-got +want):\n%s", diff)
		}
	})
	t.Run("engine", func(t *testing.T) {
		want := map[compare.Outcome]uint64{compare.OutcomeMatch: 3, compare.OutcomeSkippedUnsafe: 1}
		if diff := cmp.Diff(outcomes(engine, "shop"), want); diff != "" {
			t.Errorf("engine outcomes (-got +want):\n%s", diff)
		}
	})
}

// TestReportNamesTheRegression replays against a new side whose price
// differs: the report names the endpoint template and the field, with an
// example from the store whose curl lines point at both sides.
func TestReportNamesTheRegression(t *testing.T) {
	oldB, newB := newBackend(t, "10"), newBackend(t, "12")
	app := testApp(oldB.URL, newB.URL)
	log := combined("GET", "/items/1") + "\n" + combined("GET", "/items/2") + "\n"
	rep, st, err := Run(context.Background(), Options{App: app, Log: strings.NewReader(log), Store: openStore(t, app)})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := st.Outcomes[compare.OutcomeDiff], 2; got != want {
		t.Errorf("diff outcomes = %d, want %d", got, want)
	}
	if over := rep.Over(0.5); len(over) != 1 || over[0].Endpoint != "/items/:id" {
		t.Errorf("endpoints over 50%%: %+v, want /items/:id", over)
	}
	var text bytes.Buffer
	if err := compare.WriteReport(&text, compare.FormatText, rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/items/:id", "/price", oldB.URL, newB.URL, "migrate-replay"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("report does not name %q:\n%s", want, text.String())
		}
	}
}

// TestJSONLogReplaysQueryAndHost replays a JSON access log: the path, the
// query and the Host go out as logged (the app's first host when the line
// has none), with replay's User-Agent and mark.
func TestJSONLogReplaysQueryAndHost(t *testing.T) {
	oldB, newB := newBackend(t, "10"), newBackend(t, "10")
	app := testApp(oldB.URL, newB.URL)
	log := `{"time":"2025-10-10T13:55:36Z","method":"GET","path":"/items/7","query":"a=1&b=%20x","host":"www.shop.example","status":200}
{"time":"2025-10-10T13:55:37Z","method":"GET","uri":"/items/8?page=2","status":200}
{"level":"info","msg":"an application log line"}
`
	_, st, err := Run(context.Background(), Options{App: app, Log: strings.NewReader(log), Format: "json", Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := []hit{
		{"GET", "/items/7?a=1&b=%20x", "www.shop.example", UserAgent, "1"},
		{"GET", "/items/8?page=2", "shop.example.com", UserAgent, "1"},
	}
	for name, b := range map[string]*backend{"old": oldB, "new": newB} {
		if diff := cmp.Diff(b.seen(), want); diff != "" {
			t.Errorf("%s saw (-got +want):\n%s", name, diff)
		}
	}
	if diff := cmp.Diff(st.BadLines, []BadLine{{3, reasonNoRequest}}); diff != "" {
		t.Errorf("bad lines (-got +want):\n%s", diff)
	}
}

// TestWritesNeedARouteAndAllowWrites checks that a write is replayed only
// when a route opts it in and AllowWrites is set.
func TestWritesNeedARouteAndAllowWrites(t *testing.T) {
	tests := []struct {
		name        string
		routeOptIn  bool
		allowWrites bool
		want        int
	}{
		{"neither", false, false, 0},
		{"route opt-in only", true, false, 0},
		{"allow writes only", false, true, 0},
		{"both", true, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			oldB, newB := newBackend(t, "10"), newBackend(t, "10")
			app := testApp(oldB.URL, newB.URL)
			if tt.routeOptIn {
				app.Shadow.Routes[0].Methods = []string{"put"}
			}
			_, st, err := Run(context.Background(), Options{App: app, Log: strings.NewReader(combined("PUT", "/items/1")), AllowWrites: tt.allowWrites})
			if err != nil {
				t.Fatal(err)
			}
			got := []int{oldB.count(), newB.count(), st.Skipped}
			if want := []int{tt.want, tt.want, 1 - tt.want}; !cmp.Equal(got, want) {
				t.Errorf("[old hits, new hits, skipped] = %v, want %v", got, want)
			}
		})
	}
}

// TestFormatFromTheManifest checks that the app's logs.old format and
// log_format are the default, and that flags override them.
func TestFormatFromTheManifest(t *testing.T) {
	oldB, newB := newBackend(t, "10"), newBackend(t, "10")
	app := testApp(oldB.URL, newB.URL)
	app.Logs.Old = &manifest.LogSource{Format: "nginx", LogFormat: `$host "$request" $status`}
	tests := []struct {
		name, format, line string
		wantURI, wantHost  string
	}{
		{"manifest's log_format", "", `api.shop.test "GET /items/1?x=1 HTTP/1.1" 200`, "/items/1?x=1", "api.shop.test"},
		{"flag overrides", "logfmt", `method=GET path=/items/2 status=200`, "/items/2", "shop.example.com"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, st, err := Run(context.Background(), Options{App: app, Log: strings.NewReader(tt.line), Format: tt.format})
			if err != nil {
				t.Fatal(err)
			}
			if st.Replayed != 1 || oldB.count() != i+1 {
				t.Fatalf("replayed %d (stats %+v), want 1", oldB.count()-i, st)
			}
			h := oldB.seen()[i]
			if got, want := []string{h.URI, h.Host}, []string{tt.wantURI, tt.wantHost}; !cmp.Equal(got, want) {
				t.Errorf("[uri, host] = %v, want %v", got, want)
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	app := testApp("http://127.0.0.1:1", "http://127.0.0.1:2")
	bad := testApp("ftp://h", "http://127.0.0.1:2")
	tests := []struct {
		name    string
		opts    Options
		wantErr error
		wantMsg string
	}{
		{"no app", Options{Log: strings.NewReader("")}, ErrNoApp, ""},
		{"no log", Options{App: app}, ErrNoLog, ""},
		{"raw format", Options{App: app, Log: strings.NewReader(""), Format: "raw"}, ErrFormat, ""},
		{"unknown format", Options{App: app, Log: strings.NewReader(""), Format: "apache"}, logship.ErrUnknownFormat, ""},
		{"negative rate", Options{App: app, Log: strings.NewReader(""), Rate: -1}, nil, "rate -1 is negative"},
		{"bad backend", Options{App: bad, Log: strings.NewReader("")}, nil, "configuring primary backends"},
		{"read error", Options{App: app, Log: errReader{}}, errBroken, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Run(context.Background(), tt.opts)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("got %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("got %v, want it to contain %q", err, tt.wantMsg)
			}
		})
	}
}

var errBroken = errors.New("broken disk")

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errBroken }

func TestLineReader(t *testing.T) {
	type line struct {
		Text string
		Long bool
	}
	tests := []struct {
		name, in string
		max      int
		want     []line
	}{
		{"lf and crlf", "a\nb\r\nc\n", 10, []line{{"a", false}, {"b", false}, {"c", false}}},
		{"no final newline", "a\nb", 10, []line{{"a", false}, {"b", false}}},
		{"blank lines kept", "\n\na\n", 10, []line{{"", false}, {"", false}, {"a", false}}},
		{"long line cut", "0123456789ab\nok\n", 10, []line{{"", true}, {"ok", false}}},
		{"exactly max", "0123456789\n", 10, []line{{"0123456789", false}}},
		{"long last line", "0123456789ab", 10, []line{{"", true}}},
		{"empty", "", 10, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lr := newLineReader(strings.NewReader(tt.in), tt.max)
			var got []line
			for {
				l, long, err := lr.next()
				if err != nil {
					break
				}
				if long {
					l = nil // its content is not part of the contract
				}
				got = append(got, line{string(l), long})
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("lines (-got +want):\n%s", diff)
			}
		})
	}
}
