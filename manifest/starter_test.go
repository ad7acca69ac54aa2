package manifest_test

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/migratekit/migrate/manifest"
)

func TestStarter(t *testing.T) {
	tests := []struct {
		name, app, old, new string
	}{
		{"design style", "bobbarker", "http://10.0.0.5:3000", "https://bobbarker.new.example.com"},
		{"URLs that need quoting", "shop", "http://10.0.0.5:3000/a,b", "http://[::1]:3000"},
		{"numeric app name", "2048", "http://old", "http://new"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := manifest.Starter(tt.app, tt.old, tt.new)
			m, err := manifest.Parse("migrate.yaml", data)
			if err != nil {
				t.Fatalf("Parse(Starter()): %v\n%s", err, data)
			}
			app := m.Apps[tt.app]
			if app == nil {
				t.Fatalf("Parse(Starter()) has apps %v, want %q", m.AppNames(), tt.app)
			}
			got := []string{app.Old.Backends[0], app.New.Backends[0]}
			if diff := cmp.Diff([]string{tt.old, tt.new}, got); diff != "" {
				t.Errorf("backends (-want +got):\n%s", diff)
			}
			if lines := bytes.Count(data, []byte("\n")); lines < 15 || lines > 25 {
				t.Errorf("Starter() has %d lines, want about 20", lines)
			}
		})
	}
}
