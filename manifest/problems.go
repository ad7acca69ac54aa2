package manifest

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Problem is one thing wrong with a manifest, placed where it was written.
type Problem struct {
	File string `json:"file"`
	// Line and Col are 1-based; 0 when unknown (a manifest built in Go).
	Line int `json:"line"`
	Col  int `json:"column"`
	// Path is the dotted key path, e.g. apps.bobbarker.new.backends[1].
	Path string `json:"path"`
	Msg  string `json:"message"`
}

// String formats p as file:line:col: path: msg, leaving out what is unknown.
func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
			if p.Col > 0 {
				fmt.Fprintf(&b, ":%d", p.Col)
			}
		}
		b.WriteString(": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is every problem found in a manifest. Load, Parse and Validate
// return it as their error so that a caller can print them all at once.
type Problems []Problem

// Error lists the problems one per line, sorted by file, line and column.
func (ps Problems) Error() string {
	sorted := slices.Clone(ps)
	sortProblems(sorted)
	lines := make([]string, len(sorted))
	for i, p := range sorted {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

func sortProblems(ps Problems) {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Col, b.Col),
			cmp.Compare(a.Path, b.Path),
			cmp.Compare(a.Msg, b.Msg),
		)
	})
}

// tidy sorts ps and drops exact repeats (a bad value under defaults: is
// seen once per app).
func (ps Problems) tidy() Problems {
	sortProblems(ps)
	return slices.Compact(ps)
}

// without returns the problems of ps unrelated to every problem of seen:
// a value that failed to decode is not also reported by validation. Two
// problems are related when their key paths are the same or one lies
// under the other.
func (ps Problems) without(seen Problems) Problems {
	under := map[string]bool{} // every path of seen and its ancestors
	exact := map[string]bool{} // the paths of seen
	for _, s := range seen {
		exact[s.Path], under[s.Path] = true, true
		for p := parentPath(s.Path); p != ""; p = parentPath(p) {
			under[p] = true
		}
	}
	var out Problems
	for _, p := range ps {
		if !under[p.Path] && !hasAncestorIn(p.Path, exact) {
			out = append(out, p)
		}
	}
	return out
}

// hasAncestorIn reports whether a proper ancestor of path is in set.
func hasAncestorIn(path string, set map[string]bool) bool {
	for p := parentPath(path); p != ""; p = parentPath(p) {
		if set[p] {
			return true
		}
	}
	return false
}

var yamlErrLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parserProblems are the messages of the YAML parser (as opposed to its
// scanner). yaml.v3 reports their line 0-based, the scanner's 1-based.
var parserProblems = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"found duplicate %TAG directive":         true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

// syntaxProblem turns an error of the YAML parser into a Problem. Its line
// comes from the message; a message without one is about line 1.
func syntaxProblem(file string, err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	if m := yamlErrLine.FindStringSubmatch(err.Error()); m != nil {
		if n, convErr := strconv.Atoi(m[1]); convErr == nil && n > 0 {
			line, msg = n, m[2]
			if parserProblems[msg] {
				line++
			}
		}
	}
	return Problem{File: file, Line: line, Msg: "invalid YAML: " + msg}
}
