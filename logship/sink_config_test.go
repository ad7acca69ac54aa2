package logship

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/migratekit/migrate/telemetry"
)

// jsonLineIDs reads the ids of a JSON lines stream.
func jsonLineIDs(t *testing.T, data []byte) []string {
	t.Helper()
	var ids []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var ev struct{ ID string }
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		ids = append(ids, ev.ID)
	}
	return ids
}

func TestFileSink(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out", "logs.jsonl")
	reg := prometheus.NewRegistry()
	m, err := telemetry.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSinkFromConfig(SinkConfig{Type: "file", Path: path}, "web", "old", dir, nil, m)
	if err != nil {
		t.Fatal(err)
	}
	evs := sinkEvents(5)
	for _, batch := range [][]Event{evs[:2], evs[2:]} {
		if err := s.Send(t.Context(), batch); err != nil {
			t.Fatalf("Send() = %v", err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(jsonLineIDs(t, data), idsOf(evs)); diff != "" {
		t.Errorf("file (-got +want):\n%s", diff)
	}
	if got, want := string(data[:bytes.IndexByte(data, '\n')+1]), string(AppendEvent(nil, &evs[0]))+"\n"; got != want {
		t.Errorf("first line = %s, want %s", got, want)
	}
	if got, err := telemetry.Read(reg, "migrate_logship_sink_events_total", map[string]string{"app": "web", "side": "old"}); err != nil || got != 5 {
		t.Errorf("events sent = %v (%v), want 5", got, err)
	}
	t.Run("appends after a restart", func(t *testing.T) {
		s, err := NewSinkFromConfig(SinkConfig{Type: "file", Path: path}, "web", "old", dir, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.Send(t.Context(), sinkEvents(6)[5:]); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(jsonLineIDs(t, data)); got != 6 {
			t.Errorf("lines = %d, want 6", got)
		}
	})
}

func TestStdoutSink(t *testing.T) {
	var out bytes.Buffer
	s, err := newSinkFromConfig(SinkConfig{Type: "stdout"}, sinkEnv{app: "web", side: "new", dataDir: t.TempDir(), stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Send(t.Context(), sinkEvents(3)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(jsonLineIDs(t, out.Bytes()), []string{"e0", "e1", "e2"}); diff != "" {
		t.Errorf("stdout (-got +want):\n%s", diff)
	}
}

// failingWriter fails its first writes.
type failingWriter struct {
	fails int
	out   bytes.Buffer
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.fails > 0 {
		w.fails--
		return 0, errors.New("broken pipe")
	}
	return w.out.Write(p)
}

func TestWriterSinkRetries(t *testing.T) {
	w := &failingWriter{fails: 2}
	clock := newWaitClock()
	s := NewSink(NewWriterDeliverer(w), SinkOptions{Clock: clock})
	if err := sendAdvancing(t.Context(), t, clock, s, sinkEvents(2)); err != nil {
		t.Fatalf("Send() = %v", err)
	}
	if diff := cmp.Diff(jsonLineIDs(t, w.out.Bytes()), []string{"e0", "e1"}); diff != "" {
		t.Errorf("written (-got +want):\n%s", diff)
	}
	if got := len(clock.recorded()); got != 2 {
		t.Errorf("waits = %d, want 2", got)
	}
}

func TestNewSinkFromConfigErrors(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  SinkConfig
		want string
	}{
		{"unknown type", SinkConfig{Type: "kafka"},
			`creating sink: unknown type "kafka": want embedded, file, stdout, loki, elasticsearch or otlp`},
		{"file without a path", SinkConfig{Type: "file"}, "creating file sink: a path is required"},
		{"file in a file", SinkConfig{Type: "file", Path: filepath.Join(blocker, "x.jsonl")},
			"creating file sink: creating directory " + blocker + ": mkdir " + blocker + ": not a directory"},
		{"loki without a url", SinkConfig{Type: "loki"}, `creating loki sink: url "": want http:// or https:// and a host`},
		{"elasticsearch with a bad url", SinkConfig{Type: "elasticsearch", URL: "es:9200"},
			`creating elasticsearch sink: url "es:9200": want http:// or https:// and a host`},
		{"otlp with a bad url", SinkConfig{Type: "otlp", URL: "http://"},
			`creating otlp sink: url "http://": want http:// or https:// and a host`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewSinkFromConfig(tt.cfg, "web", "old", dir, nil, nil)
			if err == nil || err.Error() != tt.want {
				t.Errorf("NewSinkFromConfig() = %v, want %s", err, tt.want)
			}
		})
	}
}

// TestSinkFromConfigDeadLetter checks where a configured sink writes its
// dead letters: the data dir, per app and side.
func TestSinkFromConfigDeadLetter(t *testing.T) {
	rc := newReceiver(t, reply{status: 400, body: "entry too far behind"})
	dir := t.TempDir()
	s, err := NewSinkFromConfig(SinkConfig{Type: "loki", URL: rc.URL}, "web", "new", dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Send(t.Context(), sinkEvents(2)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "logship", "deadletter-web-new.jsonl")
	if DeadLetterPath(dir, "web", "new") != path {
		t.Errorf("DeadLetterPath() = %s, want %s", DeadLetterPath(dir, "web", "new"), path)
	}
	var got []string
	for _, l := range readDeadLetters(t, path) {
		if !strings.HasPrefix(l.Time, "20") || l.Event.Line == "" {
			t.Errorf("dead letter %+v: want a time and the event's line", l)
		}
		got = append(got, l.Event.ID)
	}
	if diff := cmp.Diff(got, []string{"e0", "e1"}); diff != "" {
		t.Errorf("dead letters (-got +want):\n%s", diff)
	}
}

// TestEmbeddedSinkFromConfig checks that the embedded type reaches the
// admin API of migrate serve with the token named by TokenEnv.
func TestEmbeddedSinkFromConfig(t *testing.T) {
	rc := newReceiver(t, reply{status: 200})
	t.Setenv("LOGSINK_TEST_TOKEN", "s3cret")
	cfg := SinkConfig{Type: "embedded", AdminListen: strings.TrimPrefix(rc.URL, "http://"), TokenEnv: "LOGSINK_TEST_TOKEN"}
	s, err := NewSinkFromConfig(cfg, "web", "old", t.TempDir(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Send(t.Context(), sinkEvents(2)); err != nil {
		t.Fatalf("Send() = %v", err)
	}
	reqs := rc.requests()
	if len(reqs) != 1 {
		t.Fatalf("requests = %d, want 1", len(reqs))
	}
	got := []string{reqs[0].path, reqs[0].header.Get("Authorization")}
	if diff := cmp.Diff(got, []string{"/api/v1/apps/web/logs", "Bearer s3cret"}); diff != "" {
		t.Errorf("request (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(jsonLineIDs(t, reqs[0].body), []string{"e0", "e1"}); diff != "" {
		t.Errorf("body (-got +want):\n%s", diff)
	}
}
