package manifest_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/migratekit/migrate/manifest"
)

var update = flag.Bool("update", false, "rewrite the expected problems of testdata/*.bad.yaml and testdata/*.bad")

// cases returns the testdata files and directories whose names end in
// suffix+".yaml" or suffix.
func cases(t *testing.T, suffix string) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/*" + suffix + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	dirs, err := filepath.Glob("testdata/*" + suffix)
	if err != nil {
		t.Fatal(err)
	}
	all := append(files, dirs...)
	if len(all) == 0 {
		t.Fatalf("no testdata/*%s cases", suffix)
	}
	return all
}

func TestLoadGood(t *testing.T) {
	for _, path := range cases(t, ".good") {
		t.Run(filepath.Base(path), func(t *testing.T) {
			m, err := manifest.Load(path)
			if err != nil {
				t.Fatalf("Load(%q): %v", path, err)
			}
			if len(m.Apps) == 0 {
				t.Errorf("Load(%q) has no apps", path)
			}
			if err := m.Validate(); err != nil {
				t.Errorf("Validate() of the loaded manifest: %v", err)
			}
		})
	}
}

// TestLoadBad loads every bad case and compares its problems with the
// sibling .err file (rewritten with -update).
func TestLoadBad(t *testing.T) {
	for _, path := range cases(t, ".bad") {
		t.Run(filepath.Base(path), func(t *testing.T) {
			_, err := manifest.Load(path)
			var probs manifest.Problems
			if !errors.As(err, &probs) {
				t.Fatalf("Load(%q) = %v, want Problems", path, err)
			}
			for _, p := range probs {
				if p.File == "" || p.Line < 1 {
					t.Errorf("problem without a position: %q", p)
				}
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(path, "/") + ".err"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("reading expected problems (run with -update to create): %v", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("Load(%q) problems (-want +got):\n%s", path, diff)
			}
		})
	}
}

func TestLoadIOError(t *testing.T) {
	_, err := manifest.Load("testdata/does-not-exist.yaml")
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing file) = %v, want an error wrapping ErrNotExist", err)
	}
	var probs manifest.Problems
	if errors.As(err, &probs) {
		t.Errorf("Load(missing file) returned Problems %v, want an I/O error", probs)
	}
	if err != nil && !strings.HasPrefix(err.Error(), "reading manifest: ") {
		t.Errorf("Load(missing file) = %q, want it to start with \"reading manifest: \"", err)
	}
}

func TestLoadEmptyDir(t *testing.T) {
	dir := t.TempDir()
	_, err := manifest.Load(dir)
	want := dir + ": apps: no apps defined (no *.yaml or *.yml files)"
	if err == nil || err.Error() != want {
		t.Errorf("Load(empty dir) = %v, want %q", err, want)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		data string
		want string // the problems; "" for none
	}{
		{
			name: "valid",
			data: "apps:\n  web:\n    old: {backends: [http://a]}\n    new: {backends: [http://b]}\n",
		},
		{
			name: "file names the problems",
			data: "apps:\n  web:\n    old: {backends: [http://a]}\n",
			want: "mem.yaml:2:3: apps.web.new.backends: at least one backend is required",
		},
		{
			name: "trailing document separator",
			data: "apps:\n  web:\n    old: {backends: [http://a]}\n    new: {backends: [http://b]}\n---\n",
		},
		{
			name: "parser error on the line its context starts",
			data: "apps:\n  web:\n    old: {backends: [http://a]\n    new: {}\n",
			want: "mem.yaml:3: invalid YAML: did not find expected ',' or '}'",
		},
		{
			name: "scanner error on its line",
			data: "apps:\n  web:\n\t old: x\n",
			want: "mem.yaml:3: invalid YAML: found character that cannot start any token",
		},
		{
			name: "parser error on the first line",
			data: "- a\nb: c\n",
			want: "mem.yaml:2: invalid YAML: did not find expected '-' indicator",
		},
		{
			name: "second document",
			data: "a: b\n--- x\n",
			want: "mem.yaml:2:5: a file holds one YAML document; move the second one to its own file",
		},
		{
			name: "quoted key path",
			data: "apps:\n  web:\n    old: {backends: [http://a]}\n    new: {backends: [http://b]}\n    \"a.b\": 1\n",
			want: `mem.yaml:5:5: apps.web["a.b"]: unknown key`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := manifest.Parse("mem.yaml", []byte(tt.data))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Parse() error = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAppNames(t *testing.T) {
	m, err := manifest.Load("testdata/multi.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got := m.AppNames()
	want := []string{"api", "rest", "secure", "shop"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("AppNames() (-want +got):\n%s", diff)
	}
}

func TestProblemString(t *testing.T) {
	tests := []struct {
		name string
		p    manifest.Problem
		want string
	}{
		{"full", manifest.Problem{File: "m.yaml", Line: 3, Col: 5, Path: "apps.web", Msg: "bad"}, "m.yaml:3:5: apps.web: bad"},
		{"no column", manifest.Problem{File: "m.yaml", Line: 3, Msg: "bad"}, "m.yaml:3: bad"},
		{"no position", manifest.Problem{File: "dir", Path: "apps", Msg: "bad"}, "dir: apps: bad"},
		{"built in Go", manifest.Problem{Path: "apps.web.listen", Msg: "bad"}, "apps.web.listen: bad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestProblemsErrorSorts(t *testing.T) {
	ps := manifest.Problems{
		{File: "b.yaml", Line: 1, Col: 1, Msg: "4"},
		{File: "a.yaml", Line: 10, Col: 1, Msg: "3"},
		{File: "a.yaml", Line: 2, Col: 7, Msg: "2"},
		{File: "a.yaml", Line: 2, Col: 3, Msg: "1"},
	}
	got := ps.Error()
	want := "a.yaml:2:3: 1\na.yaml:2:7: 2\na.yaml:10:1: 3\nb.yaml:1:1: 4"
	if got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
