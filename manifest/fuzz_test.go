package manifest_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/migratekit/migrate/manifest"
)

// FuzzParse feeds the decoder arbitrary bytes, seeded with every testdata
// manifest: it must not panic or hang, it accepts only manifests with apps,
// and every problem it reports is placed in the file.
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"testdata/*.yaml", "testdata/*/*.yaml", "testdata/*/*.yml"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add(manifest.Starter("web", "http://old", "http://new"))
	f.Add([]byte("apps: " + strings.Repeat("[", 20000)))
	f.Add([]byte("defaults: {old: &a {backends: [http://a]}}\napps: {web: {old: *a, new: *a}}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := manifest.Parse("fuzz.yaml", data)
		if err == nil {
			if len(m.Apps) == 0 {
				t.Fatal("Parse accepted a manifest without apps")
			}
			return
		}
		var probs manifest.Problems
		if !errors.As(err, &probs) || len(probs) == 0 {
			t.Fatalf("Parse error %v is not a non-empty Problems", err)
		}
		for _, p := range probs {
			if p.File != "fuzz.yaml" || p.Line < 1 || p.Msg == "" {
				t.Errorf("problem not placed in the file: %#v", p)
			}
		}
	})
}
