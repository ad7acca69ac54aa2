package logattrs_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/migratekit/migrate/internal/logattrs"
)

// uniqueKeys fails the test on a line of out that is not a JSON object
// or has a name twice in one object.
func uniqueKeys(t *testing.T, out string) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if _, err := jsontext.NewDecoder(strings.NewReader(line)).ReadValue(); err != nil {
			t.Errorf("log line %s: %v", line, err)
		}
	}
}

func TestEachKeyOnce(t *testing.T) {
	tests := []struct {
		name string
		log  func(l *slog.Logger)
		want string
	}{
		{"With then the call", func(l *slog.Logger) { l.With("app", "shop").Info("m", "app", "shop", "n", 1) },
			`{"level":"INFO","msg":"m","app":"shop","n":1}`},
		{"nested With, last value wins", func(l *slog.Logger) { l.With("app", "a").With("side", "old", "app", "b").Info("m") },
			`{"level":"INFO","msg":"m","app":"b","side":"old"}`},
		{"twice in the call", func(l *slog.Logger) { l.Info("m", "k", 1, "k", 2) },
			`{"level":"INFO","msg":"m","k":2}`},
		{"inline group spread out", func(l *slog.Logger) { l.With("k", 1).Info("m", slog.Group("", "k", 2, "j", 3)) },
			`{"level":"INFO","msg":"m","k":2,"j":3}`},
		{"groups keep their own keys", func(l *slog.Logger) {
			l.With("k", 1).WithGroup("g").With("k", 2).Info("m", "k", 3)
		}, `{"level":"INFO","msg":"m","k":1,"g":{"k":3}}`},
		{"empty group left out", func(l *slog.Logger) { l.With("k", 1).WithGroup("g").Info("m") },
			`{"level":"INFO","msg":"m","k":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			inner := slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey && len(groups) == 0 {
					return slog.Attr{}
				}
				return a
			}})
			tt.log(slog.New(logattrs.New(inner)))
			if got := strings.TrimSpace(buf.String()); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			uniqueKeys(t, buf.String())
		})
	}
}
