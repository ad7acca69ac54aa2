package manifest

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// loc is where a value was written: its file, line and column, and its key
// path as written (defaults.shadow.sample for a value an app inherits).
type loc struct {
	file      string
	line, col int
	path      string
}

func (l loc) String() string { return fmt.Sprintf("%s:%d:%d", l.file, l.line, l.col) }

// positions maps the effective key path of every value that was written
// (apps.web.shadow.sample) to where it was written.
type positions map[string]loc

// written reports whether the manifest set path to a non-null value.
func (p positions) written(path string) bool {
	_, ok := p[path]
	return ok
}

// problem places msg about path. A value that was written is reported where
// it was written, under its written path. A missing value is reported at the
// nearest ancestor the app itself wrote, under its effective path.
func (p positions) problem(path, msg string) Problem {
	if l, ok := p[path]; ok {
		return Problem{File: l.file, Line: l.line, Col: l.col, Path: l.path, Msg: msg}
	}
	for anc := parentPath(path); anc != ""; anc = parentPath(anc) {
		if l, ok := p[anc]; ok && l.path == anc {
			return Problem{File: l.file, Line: l.line, Col: l.col, Path: path, Msg: msg}
		}
	}
	return Problem{Path: path, Msg: msg}
}

var plainKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// keyPath is the path of key under parent; keys that would be ambiguous in
// a dotted path are quoted: apps["my app"].
func keyPath(parent, key string) string {
	if !plainKey.MatchString(key) {
		return parent + "[" + strconv.Quote(key) + "]"
	}
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// indexPath is the path of the i-th element of the list at parent.
func indexPath(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}

// parentPath strips the last key or index from path; "" at the top.
func parentPath(path string) string {
	if strings.HasSuffix(path, "]") {
		if i := lastOpenBracket(path); i >= 0 {
			return path[:i]
		}
	}
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[:i]
	}
	return ""
}

// lastOpenBracket finds the '[' that opens the trailing [...] of path,
// skipping brackets inside a quoted key.
func lastOpenBracket(path string) int {
	if strings.HasSuffix(path, `"]`) {
		// A quoted key: find its opening `["`, scanning back over escapes.
		for i := len(path) - 3; i >= 1; i-- {
			if path[i] == '"' && path[i-1] == '[' && !escaped(path, i) {
				return i - 1
			}
		}
		return -1
	}
	return strings.LastIndexByte(path, '[')
}

// escaped reports whether path[i] is preceded by an odd number of
// backslashes.
func escaped(path string, i int) bool {
	n := 0
	for j := i - 1; j >= 0 && path[j] == '\\'; j-- {
		n++
	}
	return n%2 == 1
}

// AppPath is the key path of app name in problems: apps.shop, or
// apps["my app"] for a name that needs quoting.
func AppPath(name string) string { return keyPath("apps", name) }
