package lb

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/build"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The layout of the package (see the package doc's "Data paths"): each
// file belongs to one part, by its name.
//   - the event loops: loop*.go;
//   - net/http's path: http*.go;
//   - the junction, where a listener's path is chosen and the paths meet:
//     paths.go;
//   - the core: every other file.
//
// The core names no path, and neither path names the other: they use the
// core, only the junction uses both, and every part may use the junction
// (the state it keeps per proxy, the tests' hooks).
const (
	partCore     = "core"
	partLoops    = "loops"
	partHTTP     = "net/http"
	partJunction = "junction"
)

func partOf(file string) string {
	name := filepath.Base(file)
	switch {
	case name == "paths.go":
		return partJunction
	case strings.HasPrefix(name, "loop"):
		return partLoops
	case strings.HasPrefix(name, "http"):
		return partHTTP
	}
	return partCore
}

// mayUse reports whether a file of part from may use what a file of part
// to declares.
func mayUse(from, to string) bool {
	return from == to || to == partCore || to == partJunction || from == partJunction
}

// TestLayout checks, on the type-checked package, that no file uses a
// declaration of a part it may not use: the core names no path, and the
// loops and net/http's path do not depend on each other.
func TestLayout(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	files := packageFiles(t, fset)
	info := &types.Info{Uses: make(map[*ast.Ident]types.Object), Selections: make(map[*ast.SelectorExpr]*types.Selection)}
	conf := types.Config{Importer: exportImporter(t, fset)}
	pkg, err := conf.Check("github.com/migratekit/migrate/lb", fset, files, info)
	if err != nil {
		t.Fatalf("type-checking lb: %v", err)
	}
	var arrows []string
	for id, obj := range info.Uses {
		if obj.Pkg() != pkg || !obj.Pos().IsValid() || obj.Parent() != nil && obj.Parent() != pkg.Scope() && !isMember(obj) {
			continue
		}
		from, to := fset.Position(id.Pos()), fset.Position(obj.Pos())
		if !mayUse(partOf(from.Filename), partOf(to.Filename)) {
			arrows = append(arrows, fmt.Sprintf("%s:%d: %s (%s) uses %s of %s (%s)",
				filepath.Base(from.Filename), from.Line, partOf(from.Filename), filepath.Base(from.Filename), obj.Name(), filepath.Base(to.Filename), partOf(to.Filename)))
		}
	}
	slices.Sort(arrows)
	arrows = slices.Compact(arrows)
	for _, a := range arrows {
		t.Error(a)
	}
}

// isMember reports whether obj is a field or a method (declared inside a
// type, not at package level, but part of the package's surface).
func isMember(obj types.Object) bool {
	switch o := obj.(type) {
	case *types.Var:
		return o.IsField()
	case *types.Func:
		return o.Type().(*types.Signature).Recv() != nil
	}
	return false
}

// packageFiles parses the package's non-test files for this system.
func packageFiles(t *testing.T, fset *token.FileSet) []*ast.File {
	t.Helper()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		if ok, err := build.Default.MatchFile(".", name); err != nil || !ok {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

// exportImporter imports lb's dependencies from their export data, which
// `go list -export` builds (from the build cache when it can).
func exportImporter(t *testing.T, fset *token.FileSet) types.Importer {
	t.Helper()
	out, err := exec.Command("go", "list", "-export", "-deps", "-f", "{{.ImportPath}}\t{{.Export}}", ".").Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("listing lb's dependencies: %v: %s", err, stderr)
	}
	exports := make(map[string]string)
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		path, file, _ := strings.Cut(sc.Text(), "\t")
		exports[path] = file
	}
	return importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		file := exports[path]
		if file == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(file)
	})
}
